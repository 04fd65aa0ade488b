"""The kernel's SLM runtime end to end: the embedded model, the boot lines, the
shell's `slm` command on both backends, the rule engine's knowledge, the
selftests, and the failures that must leave the shell working.

Kernels are built into a private build directory (B=, KERNEL=) with different
models: none, a forged tiny model, and corrupted ones. Every boot runs under
TCG; the same tests run under KVM when usable. Success is judged from the
console, never from QEMU's exit status alone.
"""
import os
import random
import re
import subprocess
import zlib
from pathlib import Path

import pytest

from qemu_util import EXIT_POWEROFF, KERNEL_TREE, PROMPT, Qemu, build_kernel
from qemu_util import slm_query as query

STAMP = r"^\[\s*\d+\.\d{3}\] "
E1000E = ["-nic", "none", "-device", "e1000e"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory, forge):
    """name -> (kernel.elf, model path or None, make output), built in one
    private build directory, in an order that exercises relinking."""
    base = tmp_path_factory.mktemp("kernels")
    bdir = base / "build"
    models = {
        "none": None,
        "tiny": forge("tiny_10M"),
        "bad_magic": forge("tiny_10M", "--corrupt", "bad-magic"),
        "truncated": forge("tiny_10M", "--corrupt", "truncated"),
    }
    out = {}
    for name, model in models.items():
        kernel = base / ("%s.elf" % name)
        # the model under a different file name each time: the symbols must
        # not depend on it
        args = ["B=%s" % bdir, "KERNEL=%s" % kernel,
                "SLM_MODEL=%s" % (model if model else base / "absent.gguf")]
        r = build_kernel(*args)
        assert r.returncode == 0, r.stdout + r.stderr
        out[name] = (kernel, model, r.stdout + r.stderr)
    return out


def boot(kernel, accel, append=None, extra=(), deadline_s=120):
    vm = Qemu.boot(kernel, accel, append, extra, deadline_s=deadline_s)
    vm.expect(re.escape(PROMPT), timeout=90)
    return vm


# --- the build -----------------------------------------------------------------

def test_build_embeds_the_model_with_its_three_symbols(builds):
    kernel, model, log = builds["tiny"]
    assert re.search(r"^  OBJCOPY .*model_data\.o$", log, re.M), log
    assert "warning" not in log.lower()
    assert re.search(r"^Kernel: embedded model .* \(%d bytes\)$" % os.path.getsize(model), log,
                     re.M)
    syms = subprocess.run(["nm", str(kernel)], capture_output=True, text=True,
                          check=True).stdout
    found = {l.split()[2]: l.split() for l in syms.splitlines() if "slm_model_" in l
             and l.split()[2] in ("slm_model_start", "slm_model_end", "slm_model_size")}
    assert set(found) == {"slm_model_start", "slm_model_end", "slm_model_size"}, syms
    start, end, size = (int(found[s][0], 16) for s in
                        ("slm_model_start", "slm_model_end", "slm_model_size"))
    assert end - start == size == os.path.getsize(model)
    assert start % 4096 == 0


def test_no_model_builds_rule_engine_only(builds):
    kernel, _, log = builds["none"]
    assert "rule engine only" in log
    syms = subprocess.run(["nm", str(kernel)], capture_output=True, text=True).stdout
    assert "slm_model_start" not in syms


def test_binary_grows_by_the_model_size(builds):
    grow = os.path.getsize(builds["tiny"][0]) - os.path.getsize(builds["none"][0])
    size = os.path.getsize(builds["tiny"][1])
    assert abs(grow - size) <= 0.05 * size, (grow, size)


def test_section_holds_the_file_bytes_and_is_page_aligned(builds, tmp_path):
    """The `contents` trap: without it the section is all zeros, and nm and the
    size check still pass."""
    kernel, model, _ = builds["tiny"]
    raw = tmp_path / "section.bin"
    subprocess.run(["objcopy", "-O", "binary", "--only-section=.slm_model", str(kernel),
                    str(raw)], check=True)
    assert raw.read_bytes() == Path(model).read_bytes()
    sections = subprocess.run(["readelf", "-SW", str(kernel)], capture_output=True, text=True,
                              check=True).stdout
    line = [l for l in sections.splitlines() if ".slm_model" in l][0]
    assert int(line.split()[-1]) >= 4096, line  # Al column


def test_swapping_the_model_relinks_only(builds, forge, tmp_path):
    kernel, _, _ = builds["tiny"]
    bdir = Path(kernel).parent / "build"
    other = forge("tiny_10M", "--seed", "7")
    r = build_kernel("B=%s" % bdir, "KERNEL=%s" % (tmp_path / "k.elf"), "SLM_MODEL=%s" % other)
    assert r.returncode == 0, r.stdout + r.stderr
    steps = [l.split()[0] for l in r.stdout.splitlines() if l.startswith("  ")]
    assert steps == ["OBJCOPY", "LD"], r.stdout


def test_malformed_knowledge_base_stops_the_build(tmp_path):
    kb = tmp_path / "kb"
    subprocess.run(["cp", "-r", str(KERNEL_TREE / "kb"), str(kb)], check=True)
    with open(kb / "distros.tsv", "a") as f:
        f.write("Gentoo\temerge\tsudo emerge {pkg}\n")  # 3 columns, not 7
    r = subprocess.run([str(KERNEL_TREE / "scripts" / "gen-kb.py"), str(kb),
                        str(tmp_path / "kb.c")], capture_output=True, text=True)
    assert r.returncode != 0
    assert re.search(r"distros\.tsv:\d+: 3 columns, expected 7", r.stderr), r.stderr
    assert not (tmp_path / "kb.c").exists()


# --- booting -----------------------------------------------------------------------

def test_boot_lines_with_a_model(builds, accel):
    kernel, model, _ = builds["tiny"]
    with boot(kernel, accel, "auton.run_id=slm-1") as vm:
        lines = [r"AUTON kernel booting\.\.\.", r"Run: slm-1", r"MM: Initialized page allocator",
                 r"SLM: Loading embedded neural model \(%d bytes\)\.\.\." % os.path.getsize(model),
                 r"SLM: Neural backend ready \(vocab=32000, ctx=512\)",
                 r"SLM: Runtime initialized successfully", r"Init: System ready"]
        pos = 0
        for l in lines:
            m = re.compile(STAMP + l + r"\r?$", re.M).search(vm.output, pos)
            assert m, (l, vm.output)
            pos = m.end()
        assert "No embedded model" not in vm.output


def test_boot_lines_without_a_model(builds, accel):
    with boot(builds["none"][0], accel) as vm:
        assert re.search(STAMP + r"SLM: No embedded model, rule engine only\r?$", vm.output, re.M)
        assert re.search(STAMP + r"SLM: Runtime initialized successfully\r?$", vm.output, re.M)
        assert "Loading embedded" not in vm.output
        answer, stats = query(vm, "PCI device 8086:10d3 is")
        assert answer == "an Intel 82574L Gigabit Network Connection."
        assert stats.group(6) == "rule"
        out = vm.command("slm backend neural")
        assert "no neural model is up" in out
        answer, stats = query(vm, "Install nginx on Debian")
        assert answer == "sudo apt-get install nginx" and stats.group(6) == "rule"


@pytest.mark.parametrize("variant,reason", [
    ("bad_magic", r"SLM: Failed to parse GGUF model: .*bad magic"),
    ("truncated", r"SLM: Failed to parse GGUF model: .+"),
])
def test_corrupt_model_falls_back_to_the_rule_engine(builds, accel, variant, reason):
    with boot(builds[variant][0], accel) as vm:
        assert re.search(STAMP + reason, vm.output, re.M), vm.output
        assert re.search(STAMP + r"SLM: Runtime initialized successfully", vm.output, re.M)
        assert "Neural backend ready" not in vm.output
        answer, stats = query(vm, "Install nginx on Fedora")
        assert answer == "sudo dnf install nginx" and stats.group(6) == "rule"
        assert "none embedded" not in vm.command("slm info")
        assert "0 failed" in vm.command("selftest", timeout=60)


def test_model_that_does_not_fit_the_pool(builds, accel):
    with boot(builds["tiny"][0], accel, "slm.pool_mb=2") as vm:
        assert re.search(STAMP + r"SLM: Failed to initialize neural backend: pool exhausted",
                         vm.output, re.M), vm.output
        _, stats = query(vm, "PCI device 1af4:1000 is")
        assert stats.group(6) == "rule"


def test_checksum_of_the_loaded_model_matches_the_file(builds, accel):
    kernel, model, _ = builds["tiny"]
    crc = zlib.crc32(Path(model).read_bytes())
    with boot(kernel, accel) as vm:
        out = vm.command("slm checksum", timeout=60)
        assert "SLM: Model checksum: crc32=%08x bytes=%d" % (crc, os.path.getsize(model)) in out


def test_neural_query_matches_the_host_engine(builds, accel, bin_path):
    """The kernel runs the same engine: with the same kernels (ISA), greedy
    output must be identical to slm-run's on the host."""
    kernel, model, _ = builds["tiny"]
    prompt = "PCI device 8086:10d3 is"
    with boot(kernel, accel) as vm:
        info = vm.command("slm info")
        isa = re.search(r"kernels (\w+)", info).group(1)
        assert re.search(r"^Model:    tiny_10M \(llama\), %d bytes embedded at 0x[0-9a-f]+, "
                         r"used in place" % os.path.getsize(model), info, re.M), info
        answer, stats = query(vm, prompt, n=12)
        assert stats.group(6) == "neural"
        assert int(stats.group(1)) >= 1 and int(stats.group(4)) > 0
        assert int(stats.group(5)) >= int(stats.group(4))
    host = subprocess.run([bin_path("slm-run"), model, "-p", prompt, "-n", "12", "--temp", "0",
                           "--stop-newline", "--isa", isa], capture_output=True, text=True,
                          timeout=60)
    assert host.returncode == 0, host.stderr
    assert answer == host.stdout.strip(), (answer, host.stdout)


def test_backend_switch_and_stats(builds, accel):
    with boot(builds["tiny"][0], accel) as vm:
        assert "backend: rule" in vm.command("slm backend rule")
        answer, stats = query(vm, "Show disk usage:")
        assert answer == "df -h" and stats.group(6) == "rule"
        vm.command("slm backend neural")
        _, stats = query(vm, "Show disk usage:", n=4)
        assert stats.group(6) == "neural"
        out = vm.command("slm stats")
        assert re.search(r"^Queries:  2 \(neural 1, rule 1, fallbacks 0\)", out, re.M), out
        assert "usage" in vm.command("slm backend sideways")


def test_selftest_with_a_model_runs_the_slm_tests(builds, accel):
    with Qemu.boot(builds["tiny"][0], accel, "selftest", deadline_s=120) as vm:
        vm.expect(r"SELFTEST: \d+ passed, \d+ failed", timeout=110)
        assert vm.wait_exit(30) == EXIT_POWEROFF
        results = dict(re.findall(r"^SELFTEST (\w+): (PASS|FAIL)", vm.output, re.M))
        for t in ("slm_rules", "slm_parser", "slm_tokenizer", "slm_forward"):
            assert results.get(t) == "PASS", vm.output
        assert "SELFTEST: %d passed, 0 failed" % len(results) in vm.output


def test_bench_reports_rates(builds, accel):
    with boot(builds["tiny"][0], accel) as vm:
        out = vm.command("slm bench 4", timeout=90)
        assert re.search(r"^SLM: Bench: pp=16 pp_tok_s=\d+\.\d tg=4 tg_tok_s=\d+\.\d ms=\d+ "
                         r"pool_peak=\d+$", out, re.M), out
    with boot(builds["none"][0], accel) as vm:
        assert "SLM: Bench failed: no neural model is up" in vm.command("slm bench")


# --- the rule engine's knowledge ----------------------------------------------------

def kb_rows(name, ncols):
    for line in (KERNEL_TREE / "kb" / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            cols = line.split("\t")
            assert len(cols) == ncols
            yield cols


def expected_pci_answers(count, seed):
    vendors = {int(v, 16): (short, art) for v, short, art, _ in kb_rows("vendors.tsv", 4)}
    devices = []
    cur = None
    for line in (KERNEL_TREE / "kb" / "pci.ids").read_text().splitlines():
        m = re.match(r"^([0-9a-f]{4})  ", line)
        if m:
            cur = int(m.group(1), 16)
            continue
        m = re.match(r"^\t([0-9a-f]{4})  (.+)$", line)
        if m and cur in vendors:
            short, art = vendors[cur]
            devices.append(("%04x:%s" % (cur, m.group(1)), "%s %s %s." % (art, short, m.group(2))))
    return random.Random(seed).sample(devices, count)


def test_rule_engine_answers_from_the_knowledge_base(builds, accel):
    cases = [("PCI device %s is" % i, a) for i, a in expected_pci_answers(8, 1)]
    cases += [("Install apache on Fedora", "sudo dnf install httpd"),
              ("install openssh-server on arch linux", "sudo pacman -S openssh"),
              ("Remove docker on Ubuntu", "sudo apt-get remove docker.io"),
              ("Upgrade all packages on Alpine", "sudo apk upgrade"),
              ("Install frobnicator on Alpine", "sudo apk add frobnicator"),
              ("List USB devices:", "lsusb"),
              ("PCI device 1234:1111 is", "a QEMU Virtual Video Controller."),
              ("PCI device 8086:ffff is",
               "not in the knowledge base: vendor 8086 is Intel Corporation, device ffff is "
               "unknown.")]
    with boot(builds["none"][0], accel) as vm:
        for q, want in cases:
            answer, stats = query(vm, q)
            assert answer == want, q
        answer, _ = query(vm, "What is the airspeed of an unladen swallow?")
        assert answer.startswith("No rule matches this question.")


def test_live_answers_come_from_the_running_kernel(builds, accel):
    with boot(builds["none"][0], accel, extra=E1000E) as vm:
        answer, _ = query(vm, "List all PCI devices:")
        lines = answer.splitlines()
        assert len(lines) >= 3
        assert any("8086:10d3 Ethernet controller: Intel 82574L Gigabit Network Connection" in l
                   for l in lines), answer
        assert lines == vm.command("lspci").splitlines()
        answer, _ = query(vm, "How much memory is free?")
        assert re.match(r"\d+ MiB of RAM managed by the page allocator, \d+ MiB free", answer)
        answer, _ = query(vm, "What kernel version is this?")
        assert re.match(r"AUTON kernel \d+\.\d+\.\d+ \(x86_64\)\.$", answer)
        answer, _ = query(vm, "What is the uptime?")
        assert re.match(r"Up \d+\.\d{3} s", answer)
        answer, _ = query(vm, "Which CPU is this?")
        assert "MHz" in answer
