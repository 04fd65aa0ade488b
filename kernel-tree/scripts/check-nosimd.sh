#!/bin/sh
# check-nosimd.sh OBJ... - fail if any ring-0 object uses SIMD state.
#
# Ring 0 must never touch SSE/AVX (or x87/MMX) state: the SLM task in ring 3
# owns it without context switching, and under the nested KVM of these
# machines any SIMD instruction, xgetbv or crc32 in ring 0 kills the VM.
# Flags: any xmm/ymm/zmm/mm/k-mask register operand, or a SIMD-state
# mnemonic that takes no such operand.
set -eu
[ $# -gt 0 ] || { echo "usage: $0 OBJ..." >&2; exit 2; }

bad=$(objdump -d --no-show-raw-insn "$@" | awk '
    /^[^ \t].*:[ \t]+file format/ { obj = $1; sub(/:$/, "", obj); next }
    /^ *[0-9a-f]+:\t/ {
        insn = $0; sub(/^ *[0-9a-f]+:\t/, "", insn)
        if (insn ~ /%([xyz]?mm[0-9]+|k[0-7])([^0-9]|$)/ ||
            insn ~ /^(v[a-z0-9]+|[a-z]*mxcsr|emms|femms|fx(save|rstor)[a-z0-9]*|xsave[a-z0-9]*|xrstor[a-z0-9]*|xgetbv|crc32[a-z]*)([ \t]|$)/)
            print obj ": " insn
    }')
if [ -n "$bad" ]; then
    echo "check-nosimd: SIMD instructions in ring-0 objects:" >&2
    echo "$bad" | head -20 >&2
    exit 1
fi
