#!/bin/sh
# demo.sh - the README's main job (make demo): the bundled trained model,
# models/exports/auton-slm.gguf, integrated into the AUTON kernel workspace by
# the IntegratorAgent pipeline - checked with the engine the kernel runs,
# staged into the workspace (var/kernels/x86_64, created on first use),
# embedded, built, booted in QEMU (KVM when it works, else TCG), asked the
# spec's three prompts through the kernel bridge, validated, and committed
# to the workspace's main. The report lands in reports/<job-id>/.
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin
MODEL=models/exports/auton-slm.gguf
echo "== checking $MODEL with the engine the kernel runs"
"$BIN/slm-run" "$MODEL" --check
echo "== autonctl integrate $MODEL"
"$BIN/autonctl" --config etc/auton.conf integrate --local "$MODEL"
echo "== the workspace"
"$BIN/autonctl" --config etc/auton.conf workspace status
