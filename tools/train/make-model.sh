#!/bin/sh
# make-model.sh - the AUTON SLM's whole recipe, in order (make model; make eval-model).
#
#   tools/train/make-model.sh            corpus -> vocabulary -> slm-tok -> parity -> train
#                                        -> export Q8_0 + Q4_0 -> check -> evaluate
#   tools/train/make-model.sh --export   steps 6-10 only: export, check and evaluate the
#                                        weights already trained (build/model/auton-slm.autw)
#   tools/train/make-model.sh --eval     evaluate the exported models only (host, no torch)
#
# Inputs: kernel-tree/kb/ only. Outputs: build/model/ (corpus, vocabulary model, token ids,
# trained weights auton-slm.autw + .json, logs), models/eval/eval.tsv (the evaluation list),
# models/exports/auton-slm.gguf (Q8_0), models/exports/auton-slm-q4_0.gguf (Q4_0), their
# manifests in models/exports/manifests/, and eval.py's scores: models/eval/results.json (the
# evaluation list) and models/eval/results-facts.json (every training fact).
#
# Environment: SEED (training seed, default 1), MAX_STEPS (default 3000), MIN (eval.py's
# accuracy threshold, default 0.95). Needs build/bin (make all) and, to train, Debian's
# python3-torch. Matmuls run on OpenBLAS when it can be had (the system's
# openblas-pthread, or Debian's libopenblas0-pthread unpacked into build/openblas by
# `apt-get download`, nothing installed); Debian's default reference BLAS works too but is
# about 6x slower. The trained bytes depend on the BLAS, torch and the CPU: the recipe is
# deterministic on one machine, not bit-identical across all of them.
set -eu
cd "$(dirname "$0")/../.."

PY=/usr/bin/python3
BIN=build/bin
W=build/model
EXPORTS=models/exports
SEED=${SEED:-1}
MAX_STEPS=${MAX_STEPS:-3000}
MIN=${MIN:-0.95}
# The model's shape (tools/train/llama_torch.py Config defaults; train.py takes the same).
HP="--dim 256 --layers 4 --heads 8 --kv-heads 4 --ffn 704 --vocab 4096 --ctx 256"
FORGE_HP="tiny_10M $HP --tied"
Q8=$EXPORTS/auton-slm.gguf
Q4=$EXPORTS/auton-slm-q4_0.gguf

say() { printf '\n== %s\n' "$*"; }
die() { printf 'make-model: %s\n' "$*" >&2; exit 1; }

for t in slm-forge slm-run slm-tok; do
    [ -x "$BIN/$t" ] || die "$BIN/$t is not built: run \`make all\` first"
done

evaluate() { # eval.py on the exported models that exist; JSON to $1
    models=""
    for m in "$Q8" "$Q4"; do [ -f "$m" ] && models="$models $m"; done
    [ -n "$models" ] || die "no exported model in $EXPORTS: run \`make model\` first"
    # shellcheck disable=SC2086
    $PY tools/train/eval.py $models --tsv models/eval/eval.tsv --min "$MIN" --json "$1"
}

if [ "${1:-}" = "--eval" ]; then
    evaluate "$W/eval-results.json"
    # and in the kernel, through the bridge (KVM when usable, else TCG)
    for m in "$Q8" "$Q4"; do
        [ -f "$m" ] && $PY tools/train/eval_kernel.py "$m" --min "$MIN" \
            --json "$W/eval-kernel-$(basename "$m" .gguf).json"
    done
    exit 0
fi
export_only=false
if [ "${1:-}" = "--export" ]; then
    export_only=true
    shift
    [ -f "$W/auton-slm.autw" ] || die "$W/auton-slm.autw: not trained yet (make model)"
fi
[ $# -eq 0 ] || die "usage: $0 [--export | --eval]"

$PY -c 'import torch' 2>/dev/null || die "training needs torch: sudo apt-get install python3-torch"

# OpenBLAS for torch's matmuls, one thread (with torch's own threads at 1: fastest and
# deterministic on a shared 2-core machine).
blas=""
for d in /usr/lib/x86_64-linux-gnu/openblas-pthread "$PWD/build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"; do
    [ -f "$d/libblas.so.3" ] && { blas=$d; break; }
done
if [ -z "$blas" ] && command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
    say "fetching Debian's libopenblas0-pthread into build/openblas (not installed)"
    mkdir -p build/openblas
    if (cd build/openblas && apt-get download libopenblas0-pthread >/dev/null 2>&1 &&
        dpkg -x libopenblas0-pthread_*.deb .); then
        blas="$PWD/build/openblas/usr/lib/x86_64-linux-gnu/openblas-pthread"
    fi
fi
if [ -n "$blas" ]; then
    LD_LIBRARY_PATH="$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LD_LIBRARY_PATH
else
    echo "make-model: no OpenBLAS: training on the system BLAS (slower)" >&2
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

mkdir -p "$W"
if ! $export_only; then
say "1. corpus and evaluation list from kernel-tree/kb"
$PY tools/train/corpus.py --out-dir "$W" --eval models/eval/eval.tsv

say "2. vocabulary: slm-forge learns the tokenizer from the corpus (F32, random weights)"
# shellcheck disable=SC2086
$BIN/slm-forge $FORGE_HP --type F32 --corpus "$W/corpus.txt" --name vocab -o "$W/vocab.gguf"

say "3. slm-tok: the engine's token ids of every corpus line"
$BIN/slm-tok "$W/vocab.gguf" "$W/corpus.txt" > "$W/corpus.ids"
wc -w < "$W/corpus.ids" | xargs printf '%s tokens\n'

say "4. parity: torch and the engine agree on a random model (F32 via slm-forge --weights)"
# shellcheck disable=SC2086
$PY tools/train/check_parity.py --corpus "$W/corpus.txt" $HP

say "5. training (seed $SEED)"
# shellcheck disable=SC2086
$PY tools/train/train.py --facts "$W/facts.tsv" --vocab-model "$W/vocab.gguf" \
    --out "$W/auton-slm.autw" --seed "$SEED" --max-steps "$MAX_STEPS" $HP
fi

say "6. parity again, on the trained weights"
$PY tools/train/check_parity.py --corpus "$W/corpus.txt" --weights "$W/auton-slm.autw"

say "7. export Q8_0 and Q4_0 through slm-forge --weights (the manifests record the seed)"
# shellcheck disable=SC2086
$BIN/slm-forge $FORGE_HP --type Q8_0 --corpus "$W/corpus.txt" --weights "$W/auton-slm.autw" \
    --seed "$SEED" --name auton-slm -o "$Q8"
# shellcheck disable=SC2086
$BIN/slm-forge $FORGE_HP --type Q4_0 --corpus "$W/corpus.txt" --weights "$W/auton-slm.autw" \
    --seed "$SEED" --name auton-slm-q4_0 -o "$Q4"

say "8. the exports: engine check, and the tokenizer the model was trained with"
for m in "$Q8" "$Q4"; do
    $BIN/slm-run "$m" --check
    $BIN/slm-tok "$m" "$W/corpus.txt" | cmp -s - "$W/corpus.ids" ||
        die "$m tokenizes the corpus differently from $W/vocab.gguf"
done

say "9. evaluation with the engine (slm-run, greedy) on models/eval/eval.tsv"
evaluate models/eval/results.json

say "10. every training fact, with the engine"
$PY tools/train/eval.py "$Q8" "$Q4" --tsv "$W/facts.tsv" --min "$MIN" \
    --json models/eval/results-facts.json
