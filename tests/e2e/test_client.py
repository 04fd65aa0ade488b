"""The Python client (clients/python/auton_client) against a real autond on a
private installation (daemon_util), over TCP with the bearer token and over
the Unix socket: health, an integration of the trained model waited for to
its commit with its events, the event stream reopened with Last-Event-ID
through a proxy that cuts it mid-event, submit and cancel, the API's errors
as AutonError, paging, models, configuration from the environment, and the
error that names the URL when nothing listens. One full integration; the
jobs that only need to end use a model whose manifest has a wrong sha256
(refused within a second)."""
import os
import socket
import sys
import threading
import time

import pytest

from daemon_util import GOOD, ROOT, TOKEN, Daemon, free_port

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
import auton_client  # noqa: E402
from auton_client import (AutonConnectionError, AutonError, AutonTimeout, Client,  # noqa: E402
                          SSEParser)

STAGES = ["fetch", "verify", "stage", "patch", "build", "check-build", "boot", "infer",
          "validate", "regress", "report", "commit", "notify"]


# ---- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(request, bin_path):
    """A started autond whose model root holds auton-slm and 'badsha' (a
    manifest with a wrong sha256: its jobs fail at once, class model)."""
    failed_before = request.session.testsfailed
    d = Daemon(bin_path("autond"), autonctl=bin_path("autonctl"))
    d.add_bad_model("badsha")
    d.seed()
    d.start()
    yield d
    rc = d.stop()
    if rc != 0 or request.session.testsfailed > failed_before:
        capman = request.config.pluginmanager.getplugin("capturemanager")
        with capman.global_and_fixture_disabled():
            sys.stderr.write("\n==== autond log (exit %s) ====\n%s\n" % (rc, d.log()[-20000:]))
    d.cleanup()
    assert rc == 0, "autond exited %d after SIGTERM" % rc


@pytest.fixture(scope="module")
def tcp(daemon):
    return Client("http://127.0.0.1:%d" % daemon.port, token=TOKEN)


@pytest.fixture(scope="module")
def unix(daemon):
    return Client("unix:" + daemon.socket)


@pytest.fixture
def clean_env(monkeypatch):
    for k in ("AUTON_URL", "AUTON_TOKEN", "AUTON_TOKEN_FILE"):
        monkeypatch.delenv(k, raising=False)
    auton_client.set_default_client(None)
    return monkeypatch


class CuttingProxy:
    """A TCP proxy to the daemon that cuts the first `cuts` event streams after
    `after` bytes of their answer (mid-event, without the end), and records
    every request head it forwarded."""

    def __init__(self, port, cuts=2, after=1500):
        self.port, self.cuts, self.after = port, cuts, after
        self.heads = []
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        u = socket.create_connection(("127.0.0.1", self.port))
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                b = c.recv(4096)
                if not b:
                    return
                head += b
            with self.lock:
                self.heads.append(head.decode("latin-1"))
                cut = b"/events" in head.split(b"\r\n")[0] and self.cuts > 0
                self.cuts -= cut
            u.sendall(head)
            sent = 0
            while True:
                b = u.recv(512)
                if not b:
                    return
                if cut and sent + len(b) >= self.after:
                    c.sendall(b[:self.after - sent])
                    c.shutdown(socket.SHUT_RDWR)
                    return
                c.sendall(b)
                sent += len(b)
        except OSError:
            pass
        finally:
            u.close()
            c.close()

    def close(self):
        self.lsock.close()


# ---- the SSE framing (no daemon) ---------------------------------------------------------------

STREAM = (b"\xef\xbb\xbf: keepalive\r\n\r\n"
          b"id: 1\r\nevent: job\r\ndata: {\"status\": \"running\"}\r\n\r\n"
          b"id: 2\revent: console\rdata: {\"line\":\r"
          b"data:  \"a \\u00e9\"}\r\r"
          b"event: nodata\nid: 3\n\n"
          b"retry: 250\ndata\ndata: plain\n\n"
          b"event: end\ndata: {\"state\": \"committed\"}\n\n"
          b"id: 9\ndata: partial, never ended")


def test_sse_framing_survives_any_chunking_and_every_line_ending():
    want = [("job", {"status": "running"}), ("console", {"line": "a \u00e9"}),
            ("message", "\nplain"), ("end", {"state": "committed"})]
    for size in list(range(1, 12)) + [len(STREAM)]:
        p = SSEParser()
        got = []
        for i in range(0, len(STREAM), size):
            got += p.feed(STREAM[i:i + size])
        assert got == want, size
        assert [e.id for e in got] == [1, 2, None, None], size
        assert p.last_id == "9" and p.retry_ms == 250
        assert got[0].type == "job" and got[0].data == {"status": "running"}


# ---- health, models, metrics ------------------------------------------------------------------

def test_health_over_tcp_and_the_unix_socket(daemon, tcp, unix):
    for c in (tcp, unix, Client("http://127.0.0.1:%d" % daemon.port, token="")):
        h = c.health()
        assert h["status"] == "ok" and h["version"] and h["max_jobs"] == 1, h
    assert "unix:" in repr(unix)


def test_models_metrics_and_nightly(daemon, tcp, unix):
    for c in (tcp, unix):
        out = c.models()
        assert out["roots"] == [daemon.models]
        m = {i["name"]: i for i in out["items"]}["auton-slm"]
        assert m["path"] == os.path.join(daemon.models, "auton-slm.gguf")
        assert m["bytes"] == os.path.getsize(GOOD)
    assert "# TYPE autond_jobs gauge" in tcp.metrics()
    assert unix.nightly()["runs"] == []
    with pytest.raises(AutonError) as e:
        tcp.nightly_run()  # no [nightly] models configured
    assert e.value.status == 422 and e.value.code == "nightly", e.value


# ---- an integration to its commit --------------------------------------------------------------

@pytest.fixture(scope="module")
def committed(daemon, tcp):
    """auton-slm integrated through Client.integrate (wait, on_event) on a
    thread, while its event stream is also read through a proxy that cuts the
    stream twice mid-event."""
    seen, out = [], {}

    def run():
        try:
            out["final"] = tcp.integrate("auton-slm", on_event=lambda t, d: seen.append((t, d)))
        except BaseException as e:  # noqa: B902 - reported by the test
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    before = {j["id"] for j in tcp.jobs()}
    t.start()
    deadline = time.time() + 30
    new = []
    while not new and time.time() < deadline:
        new = [j for j in tcp.jobs() if j["id"] not in before]
        time.sleep(0.05)
    assert new, "the integration was not submitted"
    proxy = CuttingProxy(daemon.port)
    try:
        via_proxy = list(Client(proxy.url, token=TOKEN, reconnect_for=20).events(new[0]["id"]))
    finally:
        proxy.close()
    t.join(300)
    assert not t.is_alive(), "integrate() did not return"
    if "error" in out:
        raise out["error"]
    return {"final": out["final"], "seen": seen, "proxy": via_proxy, "heads": proxy.heads}


def test_integrate_waits_for_the_commit_and_returns_the_report(daemon, committed):
    final = committed["final"]
    assert final["state"] == "committed", final
    assert final["class"] is None and final["summary"]["decision"] == "committed"
    assert [s["name"] for s in final["stages"]] == STAGES
    assert final["report"]["job_id"] == final["id"]
    assert final["report"]["result"]["decision"] == "committed"
    assert daemon.main() == final["summary"]["commit"]


def test_the_events_arrive_in_order_and_end(committed):
    seen = committed["seen"]
    types = [t for t, _ in seen]
    assert types[0] == "job" and seen[0][1]["status"] == "running"
    assert types[-1] == "end" and seen[-1][1] == {"state": "committed"}
    assert seen[-2][0] == "job" and seen[-2][1]["status"] == "committed"
    assert {"progress", "stage", "prompt", "console"} <= set(types), set(types)
    started = [d["stage"] for t, d in seen if t == "progress"]
    assert started == STAGES
    # a stage's events come after its progress event, the prompts within infer
    first_prompt = types.index("prompt")
    infer_at = [i for i, (t, d) in enumerate(seen) if t == "progress" and d["stage"] == "infer"]
    validate_at = [i for i, (t, d) in enumerate(seen)
                   if t == "progress" and d["stage"] == "validate"]
    assert infer_at[0] < first_prompt < validate_at[0]
    prompt = [d for t, d in seen if t == "prompt"][0]
    assert "82574L" in prompt["output"]
    stage_names = [d["stage"] for t, d in seen if t == "stage" and d["status"] != "running"]
    assert stage_names == [s for s in STAGES if s in stage_names]


def test_a_cut_event_stream_is_reopened_with_last_event_id(committed):
    # every event once, in order, as the uncut stream had them
    assert committed["proxy"] == committed["seen"]
    ids = [e.id for e in committed["proxy"][:-1]]
    assert ids == list(range(1, len(ids) + 1))
    event_heads = [h for h in committed["heads"] if "/events" in h.split("\r\n")[0]]
    assert len(event_heads) == 3, event_heads
    assert "last-event-id" not in event_heads[0].lower()
    resumed = [int(line.split(":", 1)[1]) for h in event_heads[1:] for line in h.split("\r\n")
               if line.lower().startswith("last-event-id:")]
    assert len(resumed) == 2 and 0 < resumed[0] < resumed[1] < len(ids), resumed


def test_replays_over_the_unix_socket_and_after(committed, tcp, unix):
    jid = committed["final"]["id"]
    seen = committed["seen"]
    assert list(unix.events(jid)) == seen
    assert list(tcp.events(jid, after=5)) == seen[5:]
    assert unix.wait(jid)["state"] == "committed"
    log = unix.logs(jid, "build")
    assert "Entering directory" in log.text and log.state == "committed"
    assert log.offset == len(log.text.encode())
    assert tcp.logs(jid, "build", offset=log.offset).text == ""
    assert tcp.report(jid)["job_id"] == jid


# ---- submit, cancel, timeouts ------------------------------------------------------------------

def test_submit_then_cancel(committed, tcp, unix):
    job = tcp.submit("auton-slm", priority=5, idempotency_key="cancel-me")
    assert job["state"] in ("queued", "running") and job["priority"] == 5
    assert tcp.submit("auton-slm", priority=5, idempotency_key="cancel-me")["id"] == job["id"]
    with pytest.raises(AutonTimeout) as e:
        tcp.wait(job["id"], timeout=0.3)
    assert e.value.code == "timeout" and job["id"] in str(e.value)
    c = unix.cancel(job["id"])
    assert c["id"] == job["id"] and c["state"] in ("queued", "running", "canceled")
    final = tcp.wait(job["id"], timeout=120)
    assert final["state"] == "canceled", final
    with pytest.raises(AutonError) as e:
        tcp.cancel(job["id"])
    assert e.value.status == 409 and e.value.code == "job_finished"


# ---- errors -------------------------------------------------------------------------------------

def test_errors_carry_the_status_and_code(daemon, tcp, unix):
    cases = [
        (lambda: tcp.submit(GOOD), 422, "outside_roots"),  # the repository's copy
        (lambda: tcp.submit("../auton-slm.gguf"), 422, "path_traversal"),
        (lambda: tcp.submit("auton-slm", priority=1000), 422, "invalid_value"),
        (lambda: tcp.job("no-such-job"), 404, "unknown_job"),
        (lambda: unix.events("no-such-job"), 404, "unknown_job"),
        (lambda: tcp.jobs(state="bogus"), 400, "invalid_parameter"),
        (lambda: Client(tcp.url, token="wrong-token-0123456789").jobs(), 401, "unauthorized"),
        (lambda: Client(tcp.url, token="").models(), 401, "unauthorized"),
        (lambda: tcp.request("GET", "/v1/nothing"), 404, "not_found"),
    ]
    for call, status, code in cases:
        with pytest.raises(AutonError) as e:
            r = call()
            next(iter(r))  # an iterator fails on first use
        assert (e.value.status, e.value.code) == (status, code), (status, code, e.value)
        assert e.value.message and str(status) in str(e.value)
        assert not isinstance(e.value, AutonConnectionError)


def test_nothing_listening_raises_a_connection_error_naming_the_url(tmp_path):
    url = "http://127.0.0.1:%d" % free_port()
    for u in (url, "unix:" + str(tmp_path / "no.sock")):
        with pytest.raises(AutonConnectionError) as e:
            Client(u, token=TOKEN, timeout=5).health()
        assert u in str(e.value) and e.value.url == u and e.value.status is None
        assert isinstance(e.value, AutonError)
    with pytest.raises(ValueError):
        Client("ftp://example")


# ---- listing and the environment ---------------------------------------------------------------

def test_jobs_pages_through_next_cursor(committed, tcp, unix):
    ids = [tcp.submit("badsha")["id"] for _ in range(3)]
    for jid in ids:
        assert tcp.wait(jid, timeout=60)["state"] == "failed"
    everything = [j["id"] for j in unix.jobs(limit=1000)]
    assert len(everything) >= 5 and everything[:3] == ids[::-1]  # newest first
    assert [j["id"] for j in tcp.jobs(page_size=1)] == everything
    assert [j["id"] for j in tcp.jobs(page_size=2, limit=3)] == everything[:3]
    failed = [j["id"] for j in tcp.jobs(state="failed", page_size=2)]
    assert set(ids) <= set(failed)
    assert all(j["state"] == "failed" for j in tcp.jobs(state="failed"))


def test_configuration_from_the_environment(daemon, committed, clean_env):
    env = clean_env
    env.setenv("AUTON_URL", "http://127.0.0.1:%d" % daemon.port)
    with pytest.raises(AutonError) as e:
        Client().models()
    assert e.value.status == 401
    env.setenv("AUTON_TOKEN", TOKEN)
    assert Client().models()["roots"] == [daemon.models]
    env.delenv("AUTON_TOKEN")
    env.setenv("AUTON_TOKEN_FILE", os.path.join(daemon.base, "token"))
    assert Client().token == TOKEN and Client().models()["roots"] == [daemon.models]
    jid = committed["final"]["id"]
    assert list(auton_client.events(jid)) == committed["seen"]
    env.setenv("AUTON_URL", "unix:" + daemon.socket)
    env.delenv("AUTON_TOKEN_FILE")
    final = auton_client.integrate("badsha")  # waits; fails at once, class model
    assert final["state"] == "failed" and final["class"] == "model", final
    env.setenv("AUTON_TOKEN_FILE", os.path.join(daemon.base, "missing"))
    with pytest.raises(AutonError) as e:
        Client()
    assert e.value.code == "token_file"
