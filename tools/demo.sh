#!/bin/sh
# demo.sh - the README's main job (make demo).
#
# Until the pipeline lands (`autonctl integrate`), the demo shows its parts on
# the bundled trained model, models/exports/auton-slm.gguf: the engine's
# checker, the host engine answering the spec's three prompts, then the same
# model embedded in the AUTON kernel, booted in QEMU (KVM when usable, else
# TCG) and asked the same prompts through the kernel bridge.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin
MODEL=models/exports/auton-slm.gguf
OUT=build/demo
mkdir -p "$OUT"
echo "== checking $MODEL with the engine the kernel runs"
"$BIN/slm-run" "$MODEL" --check
for p in "PCI device 8086:10d3 is" "Install nginx on Debian" "List all PCI devices:"; do
    echo "== host engine: \"$p\""
    "$BIN/slm-run" "$MODEL" -p "$p" -n 48 --temp 0 --stop-newline
done
echo "== the kernel with $MODEL embedded, asked through the bridge"
grep -E '^(PCI device 8086:10d3 is|Install nginx on Debian|List all PCI devices:)	' \
    models/eval/eval.tsv > "$OUT/spec-prompts.tsv"
/usr/bin/python3 tools/train/eval_kernel.py "$MODEL" --tsv "$OUT/spec-prompts.tsv" --show \
    --min 1.0
