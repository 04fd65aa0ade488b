#!/usr/bin/python3
"""Evaluate a model IN THE KERNEL: embed it, boot, ask every prompt of the
evaluation list through the kernel bridge (slm.batch, neural backend, greedy),
compare each answer exactly with the expected one.

    tools/train/eval_kernel.py MODEL.gguf [--tsv models/eval/eval.tsv]
                               [--accel kvm|tcg] [--min 0.95] [--json OUT]

The kernel is built into build/eval-kernel/ (B=, KERNEL=, SLM_MODEL=) and
booted with a deadline. --accel defaults to kvm when /dev/kvm is usable, else
tcg (slow: minutes for a few hundred prompts). Exit status 1 under --min.
"""
import argparse
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from bridge_util import Bridge, bridge_args  # noqa: E402
from qemu_util import Qemu, build_kernel, probe_kvm  # noqa: E402

BATCH = 64


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                cols = line.rstrip("\n").split("\t")
                rows.append((cols[0], cols[1]))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--tsv", default=os.path.join(ROOT, "models", "eval", "eval.tsv"))
    ap.add_argument("--accel", choices=["kvm", "tcg"])
    ap.add_argument("--min", type=float, default=0.95)
    ap.add_argument("--json")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--show", action="store_true", help="print every prompt and answer")
    a = ap.parse_args()

    out = os.path.join(ROOT, "build", "eval-kernel")
    kernel = os.path.join(out, "kernel.elf")
    r = build_kernel("B=%s" % out, "KERNEL=%s" % kernel,
                     "SLM_MODEL=%s" % os.path.abspath(a.model))
    if r.returncode != 0:
        sys.exit("eval_kernel: kernel build failed:\n" + r.stdout + r.stderr)
    accel = a.accel or ("kvm" if probe_kvm(kernel)[0] else "tcg")
    rows = read_tsv(a.tsv)
    sock = os.path.join(tempfile.mkdtemp(prefix="auton-eval-"), "com2.sock")
    t0 = time.time()
    results = []
    with Qemu.boot(kernel, accel, "auton.bridge=1 auton.run_id=eval-kernel",
                   extra=bridge_args(sock), deadline_s=3600) as vm:
        br = Bridge(sock)
        ev = br.wait_event("ready", timeout=120)
        if not ev.get("neural"):
            sys.exit("eval_kernel: the neural backend is not up in the kernel:\n" + vm.output)
        for i in range(0, len(rows), BATCH):
            chunk = rows[i:i + BATCH]
            rep = br.call("slm.batch", {"prompts": [p for p, _ in chunk],
                                        "max_tokens": a.max_tokens, "backend": "neural"},
                          timeout=3000)
            if not rep["ok"]:
                sys.exit("eval_kernel: slm.batch failed: %s" % rep["error"])
            for (p, want), ans in zip(chunk, rep["result"]["answers"]):
                results.append({"prompt": p, "expected": want, "got": ans["text"],
                                "ok": ans["text"].strip() == want.strip(),
                                "tokens": ans["tokens"]})
        br.call("power.off")
    if a.show:
        for r in results:
            print("%s -> %s   [%s, %d tokens]" % (r["prompt"], r["got"],
                                                 "ok" if r["ok"] else "expected: " + r["expected"],
                                                 r["tokens"]))
    ok = sum(r["ok"] for r in results)
    acc = ok / len(results) if results else 0.0
    print("in-kernel (%s): %d/%d exact (%.2f%%) in %.1f s" % (accel, ok, len(results),
                                                              100 * acc, time.time() - t0))
    for r in [r for r in results if not r["ok"]][:10]:
        print("  miss: %r -> %r (expected %r)" % (r["prompt"], r["got"], r["expected"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": os.path.basename(a.model), "accel": accel, "total": len(results),
                       "exact": ok, "accuracy": acc,
                       "misses": [r for r in results if not r["ok"]]}, f, indent=1)
    return 0 if acc >= a.min else 1


if __name__ == "__main__":
    sys.exit(main())
