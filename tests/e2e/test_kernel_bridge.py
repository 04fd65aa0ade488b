"""The kernel bridge end to end (docs/bridge.md): protocol v1 on COM2 against
the real kernel in QEMU, under TCG and (when usable) KVM. The console path and
the bridge must give the same answers."""
import json
import random
import re
import subprocess

import pytest

from bridge_util import Bridge, bridge_args
from qemu_util import EXIT_POWEROFF, PROMPT, Qemu, build_kernel, slm_query

OPS = ["caps", "slm.query", "slm.batch", "slm.info", "sys.meminfo", "pci.list", "selftest.run",
       "power.off"]


@pytest.fixture(scope="module")
def kernels(tmp_path_factory, forge):
    base = tmp_path_factory.mktemp("bridge-kernels")
    out = {}
    for name, model in [("none", base / "absent.gguf"), ("tiny", forge("tiny_10M"))]:
        kernel = base / ("%s.elf" % name)
        r = build_kernel("B=%s" % (base / "build"), "KERNEL=%s" % kernel, "SLM_MODEL=%s" % model)
        assert r.returncode == 0, r.stdout + r.stderr
        out[name] = kernel
    return out


class Booted:
    def __init__(self, kernel, accel, sock, append="", extra=()):
        self.vm = Qemu.boot(kernel, accel, ("auton.bridge=1 " + append).strip(),
                            list(extra) + bridge_args(sock), deadline_s=150)
        self.br = Bridge(sock)  # QEMU waits for this connection before the guest runs
        self.vm.expect(re.escape(PROMPT), timeout=90)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.br.close()
        self.vm.kill()


@pytest.fixture
def sock(tmp_path):
    return str(tmp_path / "com2.sock")


def check_envelope(reply, run_id):
    assert reply["v"] == 1 and reply["run_id"] == run_id and isinstance(reply["ms"], int)
    assert ("result" in reply) == reply["ok"] and ("error" in reply) == (not reply["ok"])


def test_ready_event_caps_and_every_operation(kernels, accel, sock):
    with Booted(kernels["tiny"], accel, sock, "auton.run_id=br-1",
                ["-nic", "none", "-device", "e1000e"]) as b:
        ev = b.br.wait_event("ready")
        assert ev == {"v": 1, "event": "ready", "run_id": "br-1", "backend": "auto",
                      "neural": True, "model": "tiny_10M"}
        caps = b.br.call("caps")
        check_envelope(caps, "br-1")
        assert caps["result"]["version"] == 1 and caps["result"]["features"] == OPS
        info = b.br.call("slm.info")["result"]
        assert info["neural"] and info["model"]["vocab"] == 32000 and info["model"]["ctx"] == 512
        assert info["model"]["bytes"] == info["embedded_bytes"] > 0
        mem = b.br.call("sys.meminfo")["result"]
        assert mem["pool_size"] == 256 << 20 and 0 < mem["pool_used"] <= mem["pool_peak"]
        pci = b.br.call("pci.list")["result"]["devices"]
        assert {"bdf": "00:03.0", "vendor": "8086", "device": "10d3",
                "class": "Ethernet controller",
                "name": "Intel 82574L Gigabit Network Connection"} in pci
        st = b.br.call("selftest.run", timeout=120)
        assert st["ok"], st
        st = st["result"]
        assert st["failed"] == 0 and st["passed"] == len(st["results"]) >= 11
        assert all(r["ok"] for r in st["results"])
        off = b.br.call("power.off")
        assert off["ok"] and off["result"] == {}
        assert b.vm.wait_exit(30) == EXIT_POWEROFF


def test_bridge_and_console_give_the_same_answers(kernels, accel, sock):
    prompts = ["PCI device 8086:10d3 is", "Install nginx on Debian", "List all PCI devices:"]
    with Booted(kernels["tiny"], accel, sock) as b:
        b.br.wait_event("ready")
        for backend in ("neural", "rule"):
            batch = b.br.call("slm.batch", {"prompts": prompts, "max_tokens": 8,
                                            "backend": backend}, timeout=120)
            assert batch["ok"], batch
            answers = batch["result"]["answers"]
            assert [a["backend"] for a in answers] == [backend] * 3
            b.vm.command("slm backend %s" % backend)
            for p, a in zip(prompts, answers):
                text, stats = slm_query(b.vm, p, n=8)
                assert text == a["text"], (p, backend)
                assert int(stats.group(1)) == a["tokens"] and stats.group(6) == backend
            single = b.br.call("slm.query", {"prompt": prompts[0], "max_tokens": 8,
                                             "backend": backend})
            assert single["result"]["text"] == answers[0]["text"]
            if backend == "neural":
                assert all(a["tokens"] >= 1 and a["pool_peak"] >= a["pool_used"] > 0
                           for a in answers)
                assert batch["result"]["tokens"] == sum(a["tokens"] for a in answers)


def test_busy_and_deadline(kernels, sock):
    """Under TCG a 400-token generation takes tens of seconds: long enough to
    see a second call refused, and a deadline expire mid-generation."""
    with Booted(kernels["tiny"], "tcg", sock) as b:
        b.br.wait_event("ready")
        slow = b.br.send("slm.query", {"prompt": "PCI device", "max_tokens": 400,
                                       "backend": "neural"}, deadline_ms=1500)
        busy = b.br.call("caps", timeout=30)
        assert busy["ok"] is False and busy["error"]["code"] == "busy"
        assert "id %s" % slow in busy["error"]["message"]
        late = b.br.wait_reply(slow, timeout=60)
        assert late["ok"] is False and late["error"]["code"] == "timeout", late
        again = b.br.call("slm.query", {"prompt": "Show disk usage:", "max_tokens": 2,
                                        "backend": "neural"}, timeout=60)
        assert again["ok"], again


def test_bad_input_never_wedges_the_kernel(kernels, accel, sock):
    rng = random.Random(4)
    garbage = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))).replace(b"\n", b"")
               for _ in range(40)]
    malformed = [
        b'{"v":1,"id":"a","op":"caps"',                        # truncated
        b'[1,2,3]',                                            # not an object
        b'{"v":2,"id":"b","op":"caps"}',                       # version
        b'{"id":"c","op":"caps"}',                             # no version
        b'{"v":1,"op":"caps"}',                                # no id
        b'{"v":1,"id":7,"op":"caps"}',                         # id of the wrong type
        b'{"v":1,"id":"d","op":"reboot"}',                     # unknown op
        b'{"v":1,"id":"e","op":"slm.query","args":[]}',        # args not an object
        b'{"v":1,"id":"f","op":"slm.query","args":{}}',        # no prompt
        b'{"v":1,"id":"g","op":"slm.query","args":{"prompt":5}}',
        b'{"v":1,"id":"h","op":"slm.query","args":{"prompt":"x","max_tokens":-1}}',
        b'{"v":1,"id":"i","op":"slm.query","args":{"prompt":"x","temperature":"hot"}}',
        b'{"v":1,"id":"j","op":"slm.batch","args":{"prompts":[]}}',
        b'{"v":1,"id":"k","op":"caps","deadline_ms":0}',
        b'[' * 40 + b']' * 40,                                 # too deep
        b'{"v":1,"id":"' + b"x" * 100 + b'","op":"caps"}',     # id too long
    ]
    expect = {b'{"v":2': "version", b'{"id":"c"': "version", b'{"v":1,"op"': "bad_request",
              b'{"v":1,"id":7': "bad_request", b'{"v":1,"id":"d"': "unknown_op"}
    with Booted(kernels["tiny"], accel, sock) as b:
        b.br.wait_event("ready")
        for line in garbage + malformed:
            b.br.send_raw(line + b"\n")
            reply = b.br.next_message(timeout=30)
            assert reply["ok"] is False and reply["error"]["code"] in (
                "parse", "version", "bad_request", "unknown_op"), (line, reply)
            for prefix, code in expect.items():
                if line.startswith(prefix):
                    assert reply["error"]["code"] == code, (line, reply)
        b.br.send_raw(b"y" * 20000 + b"\n")
        reply = b.br.next_message(timeout=30)
        assert reply["error"]["code"] == "too_long" and reply["id"] is None
        caps = b.br.call("caps")
        assert caps["ok"] and caps["result"]["version"] == 1
        assert "KERNEL PANIC" not in b.vm.output
        b.vm.command("slm backend rule")
        out = b.vm.command('slm query "PCI device 8086:10d3 is"', timeout=60)
        assert "SLM: Output: an Intel 82574L Gigabit Network Connection." in out


def test_unicode_round_trips(kernels, accel, sock):
    with Booted(kernels["none"], accel, sock) as b:
        b.br.wait_event("ready")
        r = b.br.call("slm.query", {"prompt": "Install caf\u00e9-\u00fcber on Debian \u2603"})
        assert r["ok"] and r["result"]["text"].startswith("No rule matches")
        r = b.br.call("slm.query", {"prompt": "Install caf\u00e9 on Debian"})
        assert r["result"]["text"] == "sudo apt-get install caf\u00e9"


def test_without_the_toggle_com2_stays_silent(kernels, sock):
    vm = Qemu.boot(kernels["none"], "tcg", None, bridge_args(sock), deadline_s=60)
    with vm:
        br = Bridge(sock)
        vm.expect(re.escape(PROMPT), timeout=60)
        assert "Bridge:" not in vm.output
        br.send("caps")
        with pytest.raises(Exception):
            br.next_message(timeout=3)
        br.close()


def run_c_client(bin_path, sock, *args, timeout=120):
    r = subprocess.run([bin_path("auton-bridge"), "-s", sock] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, [json.loads(l) for l in r.stdout.splitlines()], r.stderr


def test_c_host_client_against_the_kernel(kernels, accel, sock, bin_path):
    """The libuv client (src/qemu/) end to end, through tools/auton-bridge."""
    vm = Qemu.boot(kernels["tiny"], accel, "auton.bridge=1 auton.run_id=c-1", bridge_args(sock),
                   deadline_s=150)
    with vm:
        rc, replies, err = run_c_client(
            bin_path, sock, "--ready", "caps",
            "slm.query", json.dumps({"prompt": "Install nginx on Debian", "backend": "rule"}),
            "slm.batch", json.dumps({"prompts": ["PCI device 8086:10d3 is"], "max_tokens": 4}),
            "nosuch.op")
        assert rc == 1, err  # the last call fails on purpose
        assert [r["status"] for r in replies] == ["ok", "ok", "ok", "error"], replies
        assert replies[0]["result"]["version"] == 1 and replies[0]["run_id"] == "c-1"
        assert replies[1]["result"]["text"] == "sudo apt-get install nginx"
        assert replies[2]["result"]["answers"][0]["backend"] == "neural"
        assert replies[3]["code"] == "unknown_op"


def test_c_host_client_reports_a_kernel_timeout(kernels, sock, bin_path):
    vm = Qemu.boot(kernels["tiny"], "tcg", "auton.bridge=1", bridge_args(sock), deadline_s=150)
    with vm:
        rc, replies, err = run_c_client(
            bin_path, sock, "--ready", "-t", "2000", "slm.query",
            json.dumps({"prompt": "PCI device", "max_tokens": 400, "backend": "neural"}))
        assert rc == 1 and replies[0]["status"] == "timeout", (replies, err)
