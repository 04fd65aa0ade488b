#!/bin/sh
# demo.sh - the README's main job (make demo).
#
# Milestone 1 (engine): forge a model, validate it with the engine's checker
# and let the host engine answer the spec's three prompts. Later milestones
# replace this with `autonctl integrate` on the bundled trained model.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin
OUT=build/demo
mkdir -p "$OUT"
echo "== forging tiny_10M (random weights, Q8_0) into $OUT"
"$BIN/slm-forge" tiny_10M --type Q8_0 -o "$OUT" --quiet
echo "== checking it with the engine the kernel runs"
"$BIN/slm-run" "$OUT/tiny_10M.gguf" --check
for p in "PCI device 8086:10d3 is" "Install nginx on Debian" "List all PCI devices:"; do
    echo "== slm-run: \"$p\""
    "$BIN/slm-run" "$OUT/tiny_10M.gguf" -p "$p" -n 24
done
echo "== (random weights answer with noise: the trained model comes with the model issue)"
