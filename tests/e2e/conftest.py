"""Shared fixtures for the end-to-end tests (run with /usr/bin/python3 -m pytest)."""
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")


@pytest.fixture(scope="session")
def root():
    """The repository root."""
    return ROOT


@pytest.fixture(scope="session")
def bin_path():
    """Returns the path of a built host program: bin_path('slm-run')."""
    def path(name):
        p = os.path.join(BIN, name)
        if not os.path.exists(p):
            pytest.fail("%s is not built: run `make` first" % p)
        return p
    return path


@pytest.fixture(scope="session")
def forge(tmp_path_factory, bin_path):
    """forge(preset, *args) -> path of a forged .gguf, cached per argument list."""
    cache = {}
    base = tmp_path_factory.mktemp("forged")

    def make(preset, *args):
        key = (preset,) + tuple(args)
        if key not in cache:
            out = base / ("m%d" % len(cache))
            out.mkdir()
            subprocess.run([bin_path("slm-forge"), preset, "-o", str(out), "--quiet"] + list(args),
                           check=True, timeout=120)
            name = preset
            if "--name" in args:
                name = args[list(args).index("--name") + 1]
            cache[key] = str(out / (name + ".gguf"))
        return cache[key]
    return make


@pytest.fixture(scope="session")
def kvm_status():
    """(usable, why not): whether KVM boots the kernel to its shell here; probed
    once per run with the default kernel-tree build."""
    from qemu_util import KERNEL_ELF, build_kernel, probe_kvm
    r = build_kernel()
    assert r.returncode == 0, r.stdout + r.stderr
    return probe_kvm(KERNEL_ELF)


@pytest.fixture(params=["tcg", "kvm"])
def accel(request, kvm_status):
    """Each kernel test runs under TCG, and under KVM where usable (skipped
    with the reason otherwise)."""
    if request.param == "kvm" and not kvm_status[0]:
        pytest.skip("KVM unavailable: " + kvm_status[1])
    return request.param


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes several seconds (deselect with -m 'not slow')")
