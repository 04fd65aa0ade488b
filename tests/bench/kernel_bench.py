"""make bench, kernel part: boot-to-Shell> time with the medium model embedded,
and in-kernel generation speed next to the host engine's on the same file.

Each kernel is built into build/bench/kernel-<name>/ with its model (B=,
KERNEL=, SLM_MODEL=) and booted with a deadline: KVM with qboot when /dev/kvm
is usable (else that column says why not), and TCG. The in-kernel rate is
`slm bench N` (16-token prompt, N generated, EOS ignored; N = 64 for the
medium model, 256 for the small ones); the host rate is
`slm-run --bench 16,N --isa <the kernel's kernels>` run right after, so the
ratio compares the same loop, the same kernels, the same bytes. The two
alternate ROUNDS times and each column shows its best: these machines are
shared, and one pair of runs can differ by 30% either way.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

from qemu_util import KERNEL_ELF, PROMPT, Qemu, build_kernel, probe_kvm  # noqa: E402

BIN = os.path.join(ROOT, "build", "bin")
ROUNDS = 5
OUT = os.path.join(ROOT, "build", "bench")


def build(name, model):
    kernel = os.path.join(OUT, "kernel-%s.elf" % name)
    r = build_kernel("B=%s" % os.path.join(OUT, "kernel-%s" % name), "KERNEL=%s" % kernel,
                     "SLM_MODEL=%s" % os.path.abspath(model))
    if r.returncode != 0:
        raise RuntimeError("kernel build failed:\n" + r.stdout + r.stderr)
    return kernel


def boot(kernel, accel):
    """Seconds from QEMU start to Shell>, and the running VM."""
    vm = Qemu.boot(kernel, accel, deadline_s=300)
    vm.expect(re.escape(PROMPT), timeout=280)
    return vm.elapsed(), vm


def kernel_rate(vm, n=64):
    out = vm.command("slm bench %d" % n, timeout=280)
    m = re.search(r"tg_tok_s=(\d+\.\d)", out)
    if not m:
        raise RuntimeError("slm bench printed:\n" + out)
    isa = re.search(r"kernels (\w+)", vm.command("slm info")).group(1)
    return float(m.group(1)), isa


def host_rate(model, isa, n=64):
    out = subprocess.run([os.path.join(BIN, "slm-run"), model, "--bench", "16,%d" % n, "--isa", isa],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["tg_tok_s"]


def main(models):
    """models: [(label, path)]. Prints the kernel table."""
    r = build_kernel()  # the default tree: enough to ask whether KVM boots it here
    if r.returncode != 0:
        raise RuntimeError("kernel build failed:\n" + r.stdout + r.stderr)
    kvm_ok, why = probe_kvm(KERNEL_ELF)
    print("\nkernel: boot to Shell> (wall, from QEMU start) and in-kernel generation, "
          "tg 64 (256 for the small models) after pp 16, 1 vCPU, best of %d alternating runs" % ROUNDS)
    if not kvm_ok:
        print("KVM unavailable (%s): KVM columns skipped" % why)
    hdr = "%-18s %7s %9s %9s %7s %11s %11s %7s" % (
        "model", "MB", "boot KVM", "boot TCG", "kernels", "kernel tg/s", "host tg/s", "ratio")
    print(hdr)
    print("-" * len(hdr))
    for label, path in models:
        # at least ~0.3 s of generation per run, so one hiccup weighs less
        gen = 256 if os.path.getsize(path) < 40e6 else 64
        kernel = build(re.sub(r"[^A-Za-z0-9_.-]", "_", label), path)
        mb = os.path.getsize(path) / 1e6
        kvm_boot = kern = host = None
        isa = "-"
        if kvm_ok:
            kvm_boot, vm = boot(kernel, "kvm")
            kern = host = 0.0
            with vm:
                # alternate, best of ROUNDS each: both see the same noise
                for _ in range(ROUNDS):
                    k, isa = kernel_rate(vm, gen)
                    kern = max(kern, k)
                    host = max(host, host_rate(path, isa, gen))
        tcg_boot, vm = boot(kernel, "tcg")
        vm.kill()
        fmt = lambda v, f: f % v if v is not None else "-"  # noqa: E731
        print("%-18s %7.1f %9s %9s %7s %11s %11s %7s" % (
            label, mb, fmt(kvm_boot, "%.2f s"), fmt(tcg_boot, "%.2f s"), isa,
            fmt(kern, "%.1f"), fmt(host, "%.1f"),
            fmt(kern / host * 100 if kern and host else None, "%.0f%%")))
    print("(TCG generation is not timed: QEMU emulates SIMD ~100x slower; see docs/kernel.md)")
