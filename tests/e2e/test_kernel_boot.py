"""The AUTON kernel end to end: it builds, boots in QEMU and its console works.

Every boot runs under TCG; the same tests run under KVM too when /dev/kvm
opens and a probe boot reaches the shell (skipped with the reason otherwise).
QEMU always runs with a deadline (qemu_util.Qemu). Success is judged from the
console output, never from QEMU's exit status alone: a triple fault under
-no-reboot also exits QEMU quietly.
"""
import re
import subprocess

import pytest

from qemu_util import (EXIT_PANIC, EXIT_POWEROFF, KERNEL_ELF, KERNEL_TREE, PROMPT, Qemu,
                       build_kernel)

STAMP = r"^\[\s*\d+\.\d{3}\] "
SELFTESTS = ["boot", "pmm", "heap", "sched", "timer", "pci", "ring3", "slm_rules"]
E1000E = ["-nic", "none", "-device", "e1000e"]


@pytest.fixture(scope="module")
def kernel():
    r = build_kernel()
    assert r.returncode == 0, r.stdout + r.stderr
    return KERNEL_ELF


def boot_to_shell(kernel, accel, append=None, extra=()):
    vm = Qemu.boot(kernel, accel, append, extra)
    vm.expect(re.escape(PROMPT))
    return vm


# --- the build ---------------------------------------------------------------

def test_build_is_quiet_checked_and_reports_size(tmp_path):
    out = tmp_path / "kernel.elf"
    r = build_kernel("B=%s" % (tmp_path / "build"), "KERNEL=%s" % out)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    steps = [l for l in lines if not l.startswith(("make", "Kernel:"))]
    assert steps and all(re.match(r"  (CC|AS|LD|CHECK|GEN|OBJCOPY)( \[U\])?\s+\S", l) for l in steps), lines
    assert any(l.startswith("  CHECK   no SIMD in") for l in steps)
    assert re.search(r"^Kernel: .*kernel\.elf is ready \(\d+ bytes; text \d+, data \d+, bss \d+\)$",
                     r.stdout, re.M)
    assert "warning" not in (r.stdout + r.stderr).lower()


def test_kernel_is_elf64_with_symbols_and_pvh_note(kernel):
    header = subprocess.run(["readelf", "-hlW", str(kernel)], capture_output=True, text=True,
                            check=True).stdout
    assert "ELF64" in header and "Advanced Micro Devices X86-64" in header
    note = [l.split() for l in header.splitlines() if l.strip().startswith("NOTE")]
    assert note and note[0][-1] == "0x4", "PT_NOTE must be 4-aligned for PVH boot"
    assert not re.search(r"LOAD .* RWE ", header), "no segment may be writable and executable"
    symbols = subprocess.run(["nm", str(kernel)], capture_output=True, text=True,
                             check=True).stdout
    for sym in ["kmain", "pvh_start", "user_call", "ut_simd_dot", "__user_text_start"]:
        assert re.search(r" %s$" % sym, symbols, re.M), sym


def test_nosimd_check_rejects_simd_and_passes_ring0_objects(kernel, tmp_path):
    src = tmp_path / "simd.c"
    src.write_text("float add(float a, float b) { return a + b; }\n")
    obj = tmp_path / "simd.o"
    subprocess.run(["gcc", "-O2", "-c", str(src), "-o", str(obj)], check=True)
    check = str(KERNEL_TREE / "scripts" / "check-nosimd.sh")
    r = subprocess.run([check, str(obj)], capture_output=True, text=True)
    assert r.returncode != 0 and "xmm" in r.stderr
    ring0 = sorted(str(p) for p in (KERNEL_TREE / "build" / "k").rglob("*.o"))
    assert ring0
    r = subprocess.run([check] + ring0, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_unsupported_arch_fails_clearly():
    r = build_kernel("ARCH=arm64")
    assert r.returncode != 0
    assert "ARCH=arm64 is not supported yet" in r.stderr


# --- booting -----------------------------------------------------------------

def test_boot_log_in_order_then_prompt(kernel, accel):
    with Qemu.boot(kernel, accel) as vm:
        lines = [r"AUTON kernel booting\.\.\.", r"MM: Initialized page allocator",
                 r"Init: System ready"]
        for line in lines:
            vm.expect(STAMP + line + "$")
        vm.expect(r"^" + re.escape(PROMPT))
        wall = vm.elapsed()
        log = [l for l in vm.output.splitlines() if l and not l.startswith(PROMPT)]
        assert all(re.match(STAMP, l) for l in log), log
        ready_ms = int(re.search(r"^\[\s*(\d+)\.(\d{3})\] Init: System ready", vm.output,
                                 re.M).expand(r"\1\2"))
        print("\n%s: kernel ready at %d ms kernel time, Shell> %.2f s after QEMU start"
              % (accel, ready_ms, wall))
        assert ready_ms < 1000


def test_run_id_is_echoed(kernel, accel):
    with boot_to_shell(kernel, accel, "auton.run_id=abc123") as vm:
        out = vm.output
        assert re.search(STAMP + r"Run: abc123$", out, re.M)
        assert out.index("booting") < out.index("Run: abc123") < out.index("Init: System ready")


def test_shell_commands_answer(kernel, accel):
    with boot_to_shell(kernel, accel) as vm:
        helptext = vm.command("help")
        for name in ["help", "version", "uptime", "mem", "lspci", "selftest", "poweroff"]:
            assert re.search(r"^  %s\s+\S" % name, helptext, re.M), helptext
        assert re.match(r"AUTON kernel \d+\.\d+\.\d+ \(x86_64\)", vm.command("version"))
        assert re.match(r"up \d+\.\d{3} s, \d+ timer ticks at 20 Hz", vm.command("uptime"))
        assert vm.command("frobnicate now") == "unknown command: frobnicate (try help)\n"
        assert vm.command("") == ""


def test_mem_shows_pages_heap_and_pool(kernel, accel):
    with boot_to_shell(kernel, accel) as vm:
        out = vm.command("mem")
        assert re.search(r"^Pages: .* KiB total, \d+ KiB used, \d+ KiB free$", out, re.M), out
        assert re.search(r"^Heap: .* KiB used, \d+ KiB peak$", out, re.M), out
        assert re.search(r"^SLM pool: 256 MiB at 0x[0-9a-f]+, 0 KiB used, 0 KiB peak$", out,
                         re.M), out


def test_pool_size_comes_from_the_command_line(kernel):
    with boot_to_shell(kernel, "tcg", "slm.pool_mb=64") as vm:
        assert re.search(r"^SLM pool: 64 MiB at ", vm.command("mem"), re.M)


def test_lspci_shows_e1000e_and_host_bridge(kernel, accel):
    with boot_to_shell(kernel, accel, extra=E1000E) as vm:
        out = vm.command("lspci")
        assert "00:00.0 8086:1237 Host bridge: Intel 440FX - 82441FX PMC [Natoma]\n" in out, out
        assert ("00:03.0 8086:10d3 Ethernet controller: Intel 82574L Gigabit Network Connection\n"
                in out), out
        assert all(re.match(r"[0-9a-f]{2}:[0-9a-f]{2}\.\d [0-9a-f]{4}:[0-9a-f]{4} \S", l)
                   for l in out.splitlines()), out


def parse_selftest(out):
    results = dict(re.findall(r"^SELFTEST (\S+): (PASS|FAIL)\b", out, re.M))
    summary = re.search(r"^SELFTEST: (\d+) passed, (\d+) failed$", out, re.M)
    assert summary, out
    return results, int(summary.group(1)), int(summary.group(2))


def test_selftest_command_passes_everything(kernel, accel):
    with boot_to_shell(kernel, accel) as vm:
        out = vm.command("selftest", timeout=60)
        results, passed, failed = parse_selftest(out)
        assert list(results) == SELFTESTS, out
        assert set(results.values()) == {"PASS"} and (passed, failed) == (len(SELFTESTS), 0), out
        assert re.search(r"^SELFTEST ring3: PASS \d+-bit SIMD", out, re.M)
        assert vm.command("uptime").startswith("up "), "the shell survives ring-3 faults"


def test_selftest_on_command_line_runs_and_powers_off(kernel, accel):
    with Qemu.boot(kernel, accel, "selftest") as vm:
        vm.expect(r"^SELFTEST: \d+ passed, \d+ failed$", timeout=60)
        assert vm.wait_exit() == EXIT_POWEROFF
        results, passed, failed = parse_selftest(vm.output)
        assert (passed, failed) == (len(SELFTESTS), 0), vm.output
        assert PROMPT not in vm.output


def test_poweroff_exits_qemu(kernel, accel):
    with boot_to_shell(kernel, accel) as vm:
        vm.send("poweroff\n")
        assert vm.wait_exit() == EXIT_POWEROFF


def test_issue_command_line_boots_and_acpi_powers_off(kernel):
    """The plain command line: default CPU (qemu64: SSE only), no
    isa-debug-exit, so poweroff takes the ACPI path."""
    argv = ["qemu-system-x86_64", "-kernel", str(kernel), "-m", "512M", "-display", "none",
            "-serial", "stdio", "-no-reboot"]
    with Qemu(argv) as vm:
        vm.expect(re.escape(PROMPT))
        out = vm.command("selftest", timeout=60)
        assert parse_selftest(out)[1:] == (len(SELFTESTS), 0), out
        assert "SELFTEST ring3: PASS 128-bit SIMD" in out
        vm.send("poweroff\n")
        assert vm.wait_exit() == 0


def test_line_editing(kernel):
    with boot_to_shell(kernel, "tcg") as vm:
        vm.send("verzz\x7f\x7fsion\n")  # backspace
        vm.expect(r"AUTON kernel \d")
        vm.expect(re.escape(PROMPT))
        vm.send("garbage\x15uptime\n")  # Ctrl-U erases the line
        vm.expect(r"\nup \d+\.\d{3} s")
        vm.expect(re.escape(PROMPT))
        vm.send("poweroff\x03")  # Ctrl-C abandons the line
        vm.expect(r"\^C\n" + re.escape(PROMPT))
        assert vm.command("version").startswith("AUTON kernel")
        assert vm.proc.poll() is None


def test_kernel_fault_panics_with_registers(kernel, accel):
    with boot_to_shell(kernel, accel) as vm:
        vm.send("crash\n")
        vm.expect(STAMP + r"KERNEL PANIC: #PF page fault in kernel mode \(thread shell\)$")
        assert vm.wait_exit() == EXIT_PANIC
        out = vm.output
        for reg in ["vector 14", "error", "cr2 0x0000000000000008", "rip", "cs", "rflags",
                    "rsp", "rax", "rbx", "r15"]:
            assert reg in out, reg


def test_bridge_port_only_when_asked(kernel, tmp_path):
    com2 = ["-serial", "file:%s" % (tmp_path / "com2.txt")]
    with boot_to_shell(kernel, "tcg", "auton.bridge=1", extra=com2) as vm:
        assert re.search(STAMP + r"Bridge: protocol v1 on COM2, ready$", vm.output, re.M)
    with boot_to_shell(kernel, "tcg", extra=com2) as vm:
        assert "Bridge:" not in vm.output
