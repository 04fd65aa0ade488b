"""autonctl through autond, end to end: a real autond (--foreground, a private
configuration and job store) and the real pipeline behind it (kernel builds,
QEMU under TCG, the bundled model), driven by autonctl over the Unix socket.
Also autonctl without a daemon (auto mode runs in-process, --daemon refuses),
and the event-stream reader against a scripted server that splits the stream
everywhere, breaks it once and mixes line endings."""
import http.client
import json
import os
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOOD = os.path.join(ROOT, "models", "exports", "auton-slm.gguf")
QUICK = os.path.join(ROOT, "tests", "prompts", "quick.json")
FINAL = {"committed", "rolled_back", "failed", "canceled", "interrupted"}


def write_conf(base, socket_path, extra=""):
    """A private installation: workspace, store, reports and a model root with
    the bundled model and its manifest."""
    models = base / "models"
    (models / "manifests").mkdir(parents=True, exist_ok=True)
    shutil.copy(GOOD, models / "auton-slm.gguf")
    shutil.copy(os.path.join(ROOT, "models", "exports", "manifests", "auton-slm.json"),
                models / "manifests" / "auton-slm.json")
    conf = base / "auton.conf"
    conf.write_text(f"""
[workspace]
root = {base}/kernels
worktrees = {base}/worktrees
kernel_tree = {ROOT}/kernel-tree
[models]
store = {base}/store
roots = {models}
[pipeline]
prompts = {QUICK}
reports = {base}/reports
fallback = off
[qemu]
accel = tcg
[validate]
time_multiplier_tcg = 1000
[regress]
boots = 1
boot_floor_ms = 600000
[daemon]
listen = 127.0.0.1:{free_port()}
socket = {socket_path}
token_file = {base}/token
db = {base}/autond.db
[nightly]
models = auton-slm.gguf
{extra}""")
    return conf


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("autond", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Daemon:
    """A running autond and an autonctl configured for it."""

    def __init__(self, base, autonctl, autond):
        self.base = base
        self.autonctl = autonctl
        self.sock = str(base / "autond.sock")
        self.conf = write_conf(base, self.sock)
        self.ws = base / "kernels" / "x86_64"
        self.log = open(base / "autond.log", "w")
        self.proc = subprocess.Popen([autond, "--foreground", "--config", str(self.conf)],
                                     stdout=self.log, stderr=subprocess.STDOUT, cwd=str(base))
        deadline = time.time() + 30
        while time.time() < deadline:
            assert self.proc.poll() is None, self.daemon_log()
            try:
                if self.api("GET", "/v1/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("autond did not answer on " + self.sock + "\n" + self.daemon_log())

    def daemon_log(self):
        return (self.base / "autond.log").read_text()[-4000:]

    def api(self, method, path, body=None):
        c = UnixHTTPConnection(self.sock)
        try:
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            c.request(method, path, json.dumps(body) if body is not None else None, hdrs)
            r = c.getresponse()
            data = r.read()
            return r.status, json.loads(data) if data else None
        finally:
            c.close()

    def run(self, *args, timeout=300):
        return subprocess.run([self.autonctl, "--config", str(self.conf)] + list(args),
                              capture_output=True, text=True, timeout=timeout)

    def jobs(self):
        r = self.run("list", "--all", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["items"]

    def wait_for(self, job, pred, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, j = self.api("GET", "/v1/integrations/" + job)
            assert status == 200, j
            if pred(j):
                return j
            time.sleep(0.05)
        raise AssertionError("job %s: timed out in %s" % (job, j["state"]))

    def main(self):
        return subprocess.run(["git", "-C", str(self.ws), "rev-parse", "main"],
                              capture_output=True, text=True, check=True).stdout.strip()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=90)
        self.log.close()
        return rc


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, bin_path):
    # a short base: a Unix socket path has room for about 100 bytes
    base = tmp_path_factory.mktemp("d")
    d = Daemon(base, bin_path("autonctl"), bin_path("autond"))
    yield d
    rc = d.stop()
    assert rc == 0, "autond exited %d\n%s" % (rc, d.daemon_log())


@pytest.fixture(scope="module")
def committed(daemon):
    """autonctl integrate in auto mode with autond up: (job id, result)."""
    before = {j["id"] for j in daemon.jobs()}
    r = daemon.run("integrate", "--json", "auton-slm")
    assert r.returncode == 0, r.stderr[-6000:]
    new = [j for j in daemon.jobs() if j["id"] not in before]
    assert len(new) == 1 and new[0]["state"] == "committed", new
    return new[0]["id"], r


# ---- without autond ----------------------------------------------------------------------

@pytest.fixture
def nodaemon(tmp_path, bin_path):
    conf = write_conf(tmp_path, str(tmp_path / "none.sock"))

    def run(*args):
        return subprocess.run([bin_path("autonctl"), "--config", str(conf)] + list(args),
                              capture_output=True, text=True, timeout=120)
    run.sock = str(tmp_path / "none.sock")
    return run


def test_auto_mode_without_autond_runs_in_process_and_says_so_once(nodaemon):
    r = nodaemon("integrate", "--json", "no-such-model")
    assert r.returncode == 1, r.stderr
    note = ("autonctl: autond is not running (no answer on unix:%s): running the job in this "
            "process" % nodaemon.sock)
    assert r.stderr.count("autond is not running") == 1 and note in r.stderr.splitlines()
    assert json.loads(r.stdout)["result"]["class"] == "model"


def test_daemon_flag_and_daemon_commands_without_autond_exit_3(nodaemon):
    for args in (["--daemon", "integrate", "auton-slm"], ["integrate", "--daemon", "auton-slm"],
                 ["--daemon", "rollback"]):
        r = nodaemon(*args)
        assert r.returncode == 3 and "unix:" + nodaemon.sock in r.stderr, (args, r.stderr)
    for cmd in (["list"], ["show", "x"], ["logs", "x", "build"], ["cancel", "x"], ["nightly"],
                ["models"]):
        r = nodaemon(*cmd)
        assert r.returncode == 3, (cmd, r.stderr)
        assert ("autonctl: %s needs autond (no answer on unix:%s); start it with `autond`"
                % (cmd[0], nodaemon.sock)) in r.stderr
    r = nodaemon("--local", "list")
    assert r.returncode == 2 and "no --local mode" in r.stderr


# ---- the event-stream reader against a scripted server -----------------------------------

STREAM_1 = (b": hello\r\n\r\nid: 1\r\nevent: stage\r\n"
            b'data: {"stage":"build",\r\ndata: "status":"running"}\r\n\r\n'
            b'id: 2\revent: prompt\rretry: 100\rdata:{"prompt":"p?","output":"an answer"}\r\r'
            b"id: 3\nevent: stage\ndata")  # broken off inside an event
STREAM_2 = (b': keepalive\n\nid: 3\nevent: stage\ndata: {"stage":"build","status":"passed",'
            b'"ms":1500}\n\nid: 4\nevent: novelty\ndata: not json\n\n'
            b'event: end\ndata: {"state":"committed"}\n\n')
REPORT = {"job_id": "fake-1", "stages": [{"name": "build", "status": "passed", "ms": 1500}],
          "checks": [], "model": {"name": "fake"},
          "result": {"passed": True, "decision": "committed"}}


class FakeAutond(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def fake_handler(seen):
    import http.server

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # bodies end where the connection closes

        def log_message(self, *a):
            pass

        def json(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            seen.append(("GET", self.path, self.headers.get("Last-Event-ID")))
            if self.path == "/v1/health":
                return self.json(200, {"status": "ok"})
            if self.path == "/v1/integrations/fake-1/events":
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                stream = STREAM_1 if self.headers.get("Last-Event-ID") is None else STREAM_2
                for i in range(len(stream)):  # one byte at a time: split everywhere
                    self.wfile.write(stream[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.0005)
                return
            if self.path == "/v1/integrations/fake-1":
                return self.json(200, {"id": "fake-1", "state": "committed", "class": None,
                                       "report_dir": "/nowhere"})
            if self.path == "/v1/integrations/fake-1/report":
                return self.json(200, REPORT)
            self.json(404, {"error": {"code": "not_found", "message": "no " + self.path}})

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append(("POST", self.path, json.loads(body)))
            self.json(202, {"id": "fake-1", "state": "queued", "model": "fake",
                            "arch": "x86_64"})
    return H


def test_event_stream_split_anywhere_broken_once_and_mixed_line_ends(tmp_path, bin_path):
    sock = str(tmp_path / "fake.sock")
    conf = write_conf(tmp_path, sock)
    seen = []
    srv = FakeAutond(sock, fake_handler(seen))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        r = subprocess.run([bin_path("autonctl"), "--config", str(conf), "integrate", "--json",
                            "--no-fallback", "--priority", "5", "--console",
                            "--prompts", os.path.relpath(QUICK, ROOT), "auton-slm"],
                           capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 0, r.stderr
    post = [s for s in seen if s[0] == "POST"][0]
    # options mapped to the request; a relative path that exists here is sent absolute
    assert post[1] == "/v1/integrations" and post[2] == {
        "model": "auton-slm", "prompts": QUICK, "fallback": "off", "bridge": False,
        "priority": 5}
    events = [s for s in seen if s[1].endswith("/events")]
    assert [e[2] for e in events] == [None, "2"]  # reopened after the last whole event
    err = r.stderr
    assert "job fake-1 queued" in err
    assert "stage build: running" in err  # two data lines joined
    assert "prompt 'p?' -> 'an answer'" in err  # CR line ends
    assert "stage build        passed (1.5 s)" in err
    assert "decision: committed" in err
    assert json.loads(r.stdout) == REPORT


# ---- through a real autond ---------------------------------------------------------------

def test_integrate_in_auto_mode_goes_through_autond(daemon, committed):
    job, r = committed
    assert "autond is not running" not in r.stderr
    assert "job %s queued" % job in r.stderr
    assert "stage build: running" in r.stderr and "stage commit       passed" in r.stderr
    assert "prompt '" in r.stderr  # the same display as an in-process run
    assert "decision: committed" in r.stderr
    report = json.loads(r.stdout)
    assert report["job_id"] == job and report["result"]["decision"] == "committed"


def test_local_mode_with_autond_up_does_not_make_a_daemon_job(daemon, committed):
    before = len(daemon.jobs())
    for args in (["--local", "integrate"], ["integrate", "--local"]):
        r = daemon.run(*args, "--json", "no-such-model")
        assert r.returncode == 1, r.stderr
        assert json.loads(r.stdout)["result"]["class"] == "model"
        assert "autond" not in r.stderr
    assert len(daemon.jobs()) == before


def test_list_show_logs_report_and_models(daemon, committed):
    job, _ = committed
    r = daemon.run("list")
    assert r.returncode == 0 and job in r.stdout and "committed" in r.stdout
    assert r.stdout.splitlines()[0].split()[:3] == ["ID", "STATE", "CLASS"]
    r = daemon.run("list", "--state", "committed", "--json")
    assert {j["state"] for j in json.loads(r.stdout)["items"]} == {"committed"}
    paged = daemon.run("list", "--limit", "1", "--all", "--json")
    assert [j["id"] for j in json.loads(paged.stdout)["items"]] == [
        j["id"] for j in daemon.jobs()]
    r = daemon.run("show", job)
    assert r.returncode == 0 and "job %s: committed" % job in r.stdout
    assert "build" in r.stdout and "infer" in r.stdout and "auton-slm" in r.stdout
    shown = json.loads(daemon.run("show", "--json", job).stdout)
    assert shown["id"] == job and any(s["name"] == "build" for s in shown["stages"])
    r = daemon.run("logs", job, "build")
    assert r.returncode == 0 and "make" in r.stdout and "Entering directory" in r.stdout
    r = daemon.run("logs", "-f", job, "console")  # ended: follows to the end and stops
    assert r.returncode == 0 and "AUTON kernel booting" in r.stdout
    r = daemon.run("--daemon", "report", job)
    assert r.returncode == 0 and "decision: committed" in r.stdout
    r = daemon.run("--daemon", "report", "--json", job)
    assert json.loads(r.stdout)["job_id"] == job
    r = daemon.run("models")
    assert r.returncode == 0 and "auton-slm" in r.stdout and "Q8_0" in r.stdout
    models = json.loads(daemon.run("models", "--json").stdout)
    assert [m["name"] for m in models["items"]] == ["auton-slm"]


def test_api_errors_are_printed_with_their_code(daemon):
    r = daemon.run("integrate", "/etc/passwd")
    assert r.returncode == 2  # a request autond refused is a usage error
    assert "autonctl: autond: 422 outside_roots: model '/etc/passwd'" in r.stderr
    r = daemon.run("show", "no-such-job")
    assert r.returncode == 1 and "autond: 404 unknown_job" in r.stderr
    r = daemon.run("integrate", "--id", "mine", "auton-slm")
    assert r.returncode == 2 and "--local" in r.stderr
    r = daemon.run("list", "--state", "bogus")
    assert r.returncode == 2 and "400 invalid_parameter" in r.stderr


def test_cancel_a_running_job_leaves_main_alone(daemon, committed):
    main = daemon.main()
    status, job = daemon.api("POST", "/v1/integrations", {"model": "auton-slm"})
    assert status == 202
    daemon.wait_for(job["id"], lambda j: j["stage"] == "build" or j["state"] in FINAL)
    r = daemon.run("cancel", job["id"])
    assert r.returncode == 0, r.stderr
    j = daemon.wait_for(job["id"], lambda j: j["state"] in FINAL)
    assert j["state"] == "canceled" and j["class"] == "canceled"
    assert daemon.main() == main
    r = daemon.run("cancel", job["id"])
    assert r.returncode == 1 and "409 job_finished" in r.stderr


def test_ctrl_c_cancels_the_daemon_job_and_shows_its_end(daemon, committed):
    main = daemon.main()
    p = subprocess.Popen([daemon.autonctl, "--config", str(daemon.conf), "integrate",
                          "auton-slm"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    while "stage build: running" not in err:
        line = p.stderr.readline()
        assert line, err
        err += line
    p.send_signal(signal.SIGINT)
    out, rest = p.communicate(timeout=120)
    err += rest
    assert p.returncode == 1, err
    job = err.split("job ", 1)[1].split()[0]
    assert "canceling job %s" % job in err and "failure: canceled" in err
    assert daemon.wait_for(job, lambda j: j["state"] in FINAL)["state"] == "canceled"
    assert daemon.main() == main


def test_nightly_run_now_waits_and_shows_the_run(daemon):
    r = daemon.run("nightly", "run-now", "--wait")
    assert r.returncode == 0, r.stderr
    assert "nightly run" in r.stdout and "committed" in r.stdout
    h = json.loads(daemon.run("nightly", "--json").stdout)
    assert len(h["runs"]) == 1 and len(h["runs"][0]["jobs"]) == 1
    assert h["runs"][0]["jobs"][0]["state"] == "committed"
    assert list(h["trends"]) == ["auton-slm@x86_64"]
    r = daemon.run("nightly")
    assert r.returncode == 0 and "manual" in r.stdout and "1/1" in r.stdout
    assert "auton-slm@x86_64" in r.stdout


def test_rollback_through_autond(daemon, committed):
    r = daemon.run("rollback", "--reason", "e2e test")
    assert r.returncode == 0, r.stderr
    assert "main -> " in r.stdout and "the rule engine" in r.stdout
    msg = subprocess.run(["git", "-C", str(daemon.ws), "log", "-1", "--format=%B", "main"],
                         capture_output=True, text=True, check=True).stdout
    assert "Roll back to the rule engine" in msg and "e2e test" in msg
    r = daemon.run("rollback")
    assert r.returncode == 0 and "nothing to do" in r.stdout


def test_an_idempotency_key_gives_back_the_first_job(daemon):
    """The same key twice: one job, and the second run says it got the first
    one back (autond's Idempotent-Replayed header). A model whose manifest
    disagrees with it keeps the job short (refused at verify)."""
    models = daemon.base / "models"
    shutil.copy(GOOD, models / "replay.gguf")
    m = json.load(open(os.path.join(ROOT, "models", "exports", "manifests", "auton-slm.json")))
    m["name"], m["sha256"] = "replay", "0" * 64
    (models / "manifests" / "replay.json").write_text(json.dumps(m))
    before = {j["id"] for j in daemon.jobs()}
    first = daemon.run("integrate", "--idempotency-key", "nightly-42", "replay")
    second = daemon.run("integrate", "--idempotency-key", "nightly-42", "replay")
    assert first.returncode == 1 and second.returncode == 1, second.stderr[-3000:]
    new = [j for j in daemon.jobs() if j["id"] not in before]
    assert len(new) == 1 and new[0]["class"] == "model", new
    assert "Idempotency-Key queued before" not in first.stderr
    assert "job %s failed" % new[0]["id"] in second.stderr, second.stderr[-3000:]
    assert "the job this Idempotency-Key queued before" in second.stderr
