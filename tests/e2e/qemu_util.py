"""Booting the AUTON kernel in QEMU for end-to-end tests.

Every QEMU started here runs with a deadline and is killed (with its process
group) when the deadline passes or the test is done: under the nested KVM of
these machines a guest error can leave QEMU hanging forever. COM1 is the
process's stdin/stdout (`-serial stdio`); a reader thread collects the output
so that a test can wait for a pattern with its own timeout.

    with Qemu.boot(kernel, "tcg") as vm:
        vm.expect(r"Shell> ")
        out = vm.command("lspci")
"""
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KERNEL_TREE = REPO / "kernel-tree"
KERNEL_ELF = KERNEL_TREE / "kernel.elf"
QBOOT = "/usr/share/qemu/qboot.rom"
PROMPT = "Shell> "

# Per PLATFORM.md: TCG with every feature QEMU emulates; KVM needs
# -arch-capabilities and boots in ~0.1 s with qboot instead of ~4 s with SeaBIOS.
ACCEL_ARGS = {
    "tcg": ["-accel", "tcg", "-cpu", "max"],
    "kvm": ["-accel", "kvm", "-cpu", "host,-arch-capabilities", "-bios", QBOOT],
}

# isa-debug-exit: the kernel writes v to port 0xf4, QEMU exits with (v << 1) | 1.
EXIT_POWEROFF = 1
EXIT_TEST_FAILED = 3
EXIT_PANIC = 5


# The last line of a console `slm query` (docs/kernel.md).
SLM_STATS = (r"^SLM: Stats: tokens=(\d+) ms=(\d+) tok_s=(\d+\.\d) pool_used=(\d+) "
             r"pool_peak=(\d+) backend=(neural|rule)$")


def slm_query(vm, text, n=None, timeout=90):
    """Runs `slm query` at the console; returns (answer text rebuilt from the
    "SLM: Output:" and "SLM: |" lines, the SLM_STATS match)."""
    cmd = 'slm query %s"%s"' % ("-n %d " % n if n else "", text)
    out = vm.command(cmd, timeout=timeout)
    lines = out.splitlines()
    assert lines[0] == "SLM: Inference starting...", out
    stats = [m for m in (re.match(SLM_STATS, l) for l in lines) if m]
    assert len(stats) == 1, out
    answer = []
    for l in lines[1:]:
        if l.startswith("SLM: Output: "):
            answer.append(l[len("SLM: Output: "):])
        elif l.startswith("SLM: | "):
            answer.append(l[len("SLM: | "):])
    return "\n".join(answer), stats[0]


def qemu_argv(kernel, accel, append=None, extra=()):
    """The QEMU command line for booting kernel under accel ("tcg" or "kvm")."""
    argv = ["qemu-system-x86_64", "-kernel", str(kernel), "-m", "512M", "-display", "none",
            "-serial", "stdio", "-no-reboot",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"] + ACCEL_ARGS[accel]
    if append:
        argv += ["-append", append]
    return argv + list(extra)


def build_kernel(*make_args, timeout=300):
    """Runs make in kernel-tree/; returns the CompletedProcess (text output)."""
    return subprocess.run(["make", "-C", str(KERNEL_TREE)] + list(make_args),
                          capture_output=True, text=True, timeout=timeout)


class Qemu:
    """A running QEMU with its COM1 on a pipe. Use as a context manager."""

    def __init__(self, argv, deadline_s=90):
        self.argv = argv
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._eof = False
        self.pos = 0  # expect() searches the output from here on
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._killer = threading.Timer(deadline_s, self.kill)
        self._killer.daemon = True
        self._killer.start()

    @classmethod
    def boot(cls, kernel, accel, append=None, extra=(), deadline_s=90):
        return cls(qemu_argv(kernel, accel, append, extra), deadline_s)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            with self._cond:
                if not chunk:
                    self._eof = True
                    self._cond.notify_all()
                    return
                self._buf += chunk
                self._cond.notify_all()

    @property
    def output(self):
        """Everything COM1 printed so far, CRLF turned into LF."""
        with self._cond:
            return self._buf.decode("utf-8", "replace").replace("\r\n", "\n")

    def expect(self, pattern, timeout=30):
        """Waits until regex pattern matches the output after self.pos; moves
        self.pos past the match and returns it. Fails with the transcript on
        timeout or when QEMU exits first."""
        rx = re.compile(pattern, re.M)
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                text = self._buf.decode("utf-8", "replace").replace("\r\n", "\n")
                m = rx.search(text, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = end - time.monotonic()
                if self._eof or left <= 0:
                    why = "QEMU exited" if self._eof else "timed out after %ss" % timeout
                    raise AssertionError("%s waiting for %r; output:\n%s\nstderr: %s" % (
                        why, pattern, text[-4000:], self._stderr_tail()))
                self._cond.wait(min(left, 0.5))

    def send(self, text):
        self.proc.stdin.write(text.encode() if isinstance(text, str) else text)
        self.proc.stdin.flush()

    def command(self, line, timeout=30):
        """Types line at the prompt and returns what the shell printed before
        the next prompt (the echoed line excluded)."""
        self.send(line + "\n")
        self.expect(re.escape(line) + r"\n", timeout)
        start = self.pos
        m = self.expect(re.escape(PROMPT), timeout)
        return self.output[start:m.start()]

    def wait_exit(self, timeout=30):
        """QEMU's exit status; fails if it is still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("QEMU still running after %ss; output:\n%s" % (
                timeout, self.output[-4000:]))

    def elapsed(self):
        return time.monotonic() - self.started

    def kill(self):
        self._killer.cancel()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def _stderr_tail(self):
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode("utf-8", "replace")[-2000:]


def probe_kvm(kernel, timeout=30):
    """(True, "") when KVM can boot kernel to the shell prompt, else (False, why)."""
    if not os.path.exists("/dev/kvm"):
        return False, "/dev/kvm does not exist"
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return False, "/dev/kvm cannot be opened: %s" % e
    with Qemu.boot(kernel, "kvm", deadline_s=timeout + 5) as vm:
        try:
            vm.expect(re.escape(PROMPT), timeout)
        except AssertionError as e:
            return False, "a probe boot under KVM failed: %s" % str(e)[-500:]
    return True, ""
