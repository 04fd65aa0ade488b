"""autond end to end: the real daemon on a private installation (its own
config, job store, token, Unix socket, git workspaces, model roots), real
kernel builds and QEMU (TCG), real local HTTP servers for webhooks and URL
models. Nothing is mocked.

A full integration costs a kernel build and a few boots (15-30 s here), so
they are few: one module-wide daemon (`shared`) carries the API tests and
the integrations whose traces do not interfere (the first job, URL and
bundle models, nightly runs, metrics); crashes, cancels, shutdowns, the
queue and webhooks get fresh daemons. Jobs that only need to end use a
model whose manifest has a wrong sha256: refused within a second, class
model."""
import hashlib
import hmac
import http.server
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import uuid

import jsonschema
import pytest

from daemon_util import (GOOD, GOOD_MANIFEST, ROOT, TERMINAL, TOKEN, Daemon, Response,
                         processes_referencing)

REPORT_SCHEMA = json.load(open(os.path.join(ROOT, "schemas", "report.schema.json")))
MANIFEST = json.load(open(GOOD_MANIFEST))
SHA = MANIFEST["sha256"]
STAGES = ["fetch", "verify", "stage", "patch", "build", "check-build", "boot", "infer",
          "validate", "regress", "report", "commit", "notify"]
try:
    import yaml
    ERROR_SCHEMA = yaml.safe_load(open(os.path.join(ROOT, "schemas", "openapi.yaml")))[
        "components"]["schemas"]["Error"]
except ImportError:  # python3-yaml is optional: the same schema, by hand
    ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}


# ---- fixtures -----------------------------------------------------------------------------------

def dump_logs(request, daemons, why):
    """Shows the daemons' logs on the terminal (pytest shows a teardown's output
    only when the teardown itself fails)."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        for d in daemons:
            sys.stderr.write("\n==== autond log (%s) %s ====\n%s\n" % (why, d.base,
                                                                    d.log()[-20000:]))


def finish(request, daemons, failed_before):
    """Stops the daemons with SIGTERM (exit status 0 expected), shows their logs
    when a test failed, removes their installations."""
    errors = []
    for d in daemons:
        if d.running():
            rc = d.stop()
            if rc != 0:
                errors.append("%s: autond exited %d after SIGTERM" % (d.base, rc))
    if errors or request.session.testsfailed > failed_before:
        dump_logs(request, daemons, "; ".join(errors) or "a test failed")
    for d in daemons:
        d.cleanup()
    assert not errors, errors


@pytest.fixture(scope="module")
def autond(bin_path):
    """autond, and autonctl (looked up when a workspace is seeded)."""
    return bin_path("autond"), lambda: bin_path("autonctl")


@pytest.fixture
def make_daemon(request, autond):
    """make_daemon(settings, start=True, seed=True) -> a started Daemon on a new
    installation (seed: its workspace created first, so that main exists
    before the first job)."""
    made = []
    failed_before = request.session.testsfailed

    def make(settings=None, start=True, seed=True):
        d = Daemon(autond[0], settings, autonctl=autond[1])
        made.append(d)
        if seed:
            d.seed()
        if start:
            d.start()
        return d
    yield make
    finish(request, made, failed_before)


@pytest.fixture(scope="module")
def shared(request, autond):
    """The module-wide daemon: nightly runs integrate auton-slm.gguf; the model
    root also holds 'badsha' (a manifest with a wrong sha256)."""
    failed_before = request.session.testsfailed
    d = Daemon(autond[0], {"nightly": {"models": "auton-slm.gguf", "archs": "x86_64"}},
               autonctl=autond[1])
    d.add_bad_model("badsha")
    d.seed()
    d.start()
    yield d
    finish(request, [d], failed_before)


def error_of(r, status, code):
    """Asserts an error answer: the status, a JSON body of the API's error shape,
    the code; returns the message."""
    assert r.status == status, r
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    body = r.json()
    jsonschema.validate(body, ERROR_SCHEMA)
    assert body["error"]["code"] == code, body
    assert body["error"]["message"], body
    return body["error"]["message"]


def wait_for(cond, timeout, what, d=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s%s" % (what, "\n" + d.log()[-6000:] if d else ""))


def job_paths(d, jid):
    return [os.path.join(d.worktrees, jid), os.path.join(d.reports, jid)]


def wait_building(d, jid):
    """Waits until the job is in its build stage with make running in its worktree."""
    d.wait_job(jid, states=("running",), stage="build", timeout=60)
    wait_for(lambda: processes_referencing([os.path.join(d.worktrees, jid)]), 30,
             "make in the worktree of " + jid, d)


# ---- submit, poll, stream -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def first_job(shared):
    """The trained model submitted over TCP, followed at once by polling (the
    job, and its build log by offset), by its event stream (read on a thread
    from the first event) and by a second stream that joins mid-build after
    event 3."""
    before = shared.main()
    r = shared.post("/v1/integrations", {"model": "auton-slm.gguf"})
    assert r.status == 202, r
    job = r.json()
    jid = job["id"]
    streams = [{}, {}]

    def read(out, last_id):
        try:
            out["events"] = shared.events(jid, last_id=last_id)
        except BaseException as e:  # noqa: B902 - reported by the test
            out["error"] = e
    threads = [threading.Thread(target=read, args=(streams[0], None), daemon=True),
               threading.Thread(target=read, args=(streams[1], 3), daemon=True)]
    threads[0].start()
    states, log, log_states, off = [], b"", [], 0
    deadline = time.time() + 300
    while time.time() < deadline:
        cur = shared.job(jid)
        if not states or states[-1] != cur["state"]:
            states.append(cur["state"])
        if cur["stage"] == "build" and not threads[1].is_alive() and not streams[1]:
            threads[1].start()
        lr = shared.get("/v1/integrations/%s/logs/build?offset=%d" % (jid, off))
        assert lr.status == 200, lr
        log += lr.body
        off = int(lr.headers["X-Log-Offset"])
        log_states.append(lr.headers["X-Job-State"])
        if cur["state"] in TERMINAL:
            break
        time.sleep(0.1)
    lr = shared.get("/v1/integrations/%s/logs/build?offset=%d" % (jid, off))
    log += lr.body
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "an event stream did not end after the job did"
    return {"post": r, "job": job, "final": cur, "states": states, "stream": streams[0],
            "late_stream": streams[1], "main_before": before, "followed_log": log,
            "log_states": log_states}


def test_submit_poll_and_stream_a_job_to_its_commit(shared, first_job):
    r, job, final = first_job["post"], first_job["job"], first_job["final"]
    jid = job["id"]
    assert r.headers["Location"] == "/v1/integrations/" + jid
    assert job["state"] in ("queued", "running"), job
    assert job["model"] == os.path.join(shared.models, "auton-slm.gguf")
    assert job["request"]["model_requested"] == "auton-slm.gguf"
    assert job["arch"] == "x86_64" and job["priority"] == 0 and job["created"] > 0

    # polled: queued/running, then committed, never backwards
    order = ["queued", "running", "committed"]
    assert first_job["states"][-1] == "committed", (first_job["states"], final, shared.log())
    assert [order.index(s) for s in first_job["states"]] == sorted(
        order.index(s) for s in first_job["states"])
    assert final["class"] is None and final["message"] is None
    s = final["summary"]
    assert s["decision"] == "committed" and s["passed"] is True, s
    assert s["boot_ms"] > 0 and s["tok_s"] > 0 and s["pool_peak_mb"] > 0, s
    assert s["model_sha256"] == SHA and s["model_name"] == "auton-slm" and s["accel"] == "tcg"
    assert final["created"] <= final["started"] <= final["finished"]
    assert [st["name"] for st in final["stages"]] == STAGES
    assert all(st["status"] == "ok" and st["duration_s"] >= 0 for st in final["stages"])
    assert final["deliveries"] == []

    # the stream: every event once, numbered 1.. without gaps, then end, then closed
    assert "error" not in first_job["stream"], first_job["stream"].get("error")
    events = first_job["stream"]["events"]
    body = events[:-1]
    assert [e[0] for e in body] == list(range(1, len(body) + 1))
    types = {e[1] for e in body}
    assert {"job", "progress", "stage", "prompt", "check", "console"} <= types, types
    assert events[-1] == (None, "end", {"state": "committed"}), events[-1]
    assert body[0][1] == "job" and body[0][2]["status"] == "running"
    assert body[-1][1] == "job" and body[-1][2]["status"] == "committed"
    assert body[-1][2]["decision"] == "committed"
    prompt = [e[2] for e in body if e[1] == "prompt"][0]
    assert "82574L" in prompt["output"] and prompt["tok_s"] > 0
    assert any("AUTON kernel booting" in e[2]["line"] for e in body if e[1] == "console")
    started = [e[2]["stage"] for e in body if e[1] == "progress"]
    assert started == [n for n in STAGES], started
    percents = [e[2]["percent"] for e in body if e[1] == "progress"]
    assert percents == sorted(percents)

    # the stream that joined mid-build after event 3 got the same events from 4 on
    assert "error" not in first_job["late_stream"], first_job["late_stream"].get("error")
    assert first_job["late_stream"]["events"] == events[3:]

    # replays: Last-Event-ID (and ?after=) give only what follows, the header winning
    n = len(body) // 2
    again = shared.events(jid, last_id=n)
    assert again == events[n:], (again[:3], events[n:n + 3])
    assert shared.events(jid, after=n) == events[n:]
    assert shared.events(jid, last_id=n, after=1) == events[n:]
    assert shared.events(jid, last_id=len(body)) == [events[-1]]


def test_the_report_logs_workspace_and_artifacts_of_a_committed_job(shared, first_job):
    jid = first_job["job"]["id"]
    final = first_job["final"]
    r = shared.get("/v1/integrations/%s/report" % jid)
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/json"), r
    report = r.json()
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["job_id"] == jid
    assert report["result"]["decision"] == "committed" and report["result"]["passed"] is True
    on_disk = json.load(open(os.path.join(shared.reports, jid, "integration_test_report.json")))
    assert on_disk == report
    assert final["report_dir"] == os.path.join(shared.reports, jid)

    build_log = open(os.path.join(shared.reports, jid, "build.log"), "rb").read()
    r = shared.get("/v1/integrations/%s/logs/build" % jid)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain"), r
    assert r.body == build_log and b"Entering directory" in r.body
    assert r.headers["X-Log-Offset"] == str(len(build_log))
    assert r.headers["X-Job-State"] == "committed"
    r = shared.get("/v1/integrations/%s/logs/build?offset=10" % jid)
    assert r.body == build_log[10:] and r.headers["X-Log-Offset"] == str(len(build_log))
    r = shared.get("/v1/integrations/%s/logs/build?offset=%d" % (jid, len(build_log)))
    assert r.status == 200 and r.body == b"" and r.headers["X-Log-Offset"] == str(len(build_log))
    # followed while the job ran, by the offsets the answers gave: the whole log
    assert first_job["followed_log"] == build_log
    assert "running" in first_job["log_states"], first_job["log_states"]
    r = shared.get("/v1/integrations/%s/logs/console" % jid)
    assert r.status == 200 and b"AUTON kernel booting" in r.body, r

    # main moved to the job's commit; nothing left behind
    main = shared.main()
    assert main == final["summary"]["commit"] != first_job["main_before"]
    assert shared.git("rev-parse", "main^") == first_job["main_before"]
    assert SHA in shared.git("log", "-1", "--format=%B", "main")
    shared.assert_clean(jid)

    # the artifacts archive
    art = os.path.join(shared.reports, jid, "artifacts.tar.zst")
    assert os.path.exists(art), os.listdir(os.path.join(shared.reports, jid))
    names = subprocess.run(["tar", "--zstd", "-tf", art], capture_output=True, text=True,
                           check=True).stdout.split()
    assert any(n.endswith("integration_test_report.json") for n in names), names
    assert any(n.endswith("build.log") for n in names), names


# ---- metrics (right after the first job: it is the last finished integration) -------------------

def metrics_of(text):
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


def test_metrics_in_prometheus_text_format(shared, first_job):
    assert error_of(shared.get("/metrics", token=False), 401, "unauthorized")
    r = shared.get("/metrics")
    assert r.status == 200, r
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    m = metrics_of(r.text)
    assert m['autond_jobs{state="committed",class="none"}'] >= 1, r.text
    assert m["autond_queue_depth"] == 0
    assert m["autond_jobs_running"] == 0
    assert m['autond_stage_duration_seconds_sum{stage="build"}'] > 1, r.text
    assert m['autond_stage_duration_seconds_count{stage="build"}'] >= 1
    jid = first_job["job"]["id"]
    tok = m['autond_last_integration_tokens_per_second{job="%s"}' % jid]
    assert tok == pytest.approx(first_job["final"]["summary"]["tok_s"], abs=0.01)
    assert m['autond_last_integration_boot_milliseconds{job="%s"}' % jid] > 0
    assert m["autond_http_requests_total"] > 0 and m["autond_uptime_seconds"] > 0
    assert "# TYPE autond_jobs gauge" in r.text
    # the Unix socket needs no token
    assert shared.get("/metrics", unix=True).status == 200


# ---- authentication -----------------------------------------------------------------------------

def test_tcp_needs_the_bearer_token_the_unix_socket_and_health_do_not(shared):
    r = shared.get("/v1/integrations", token=False)
    error_of(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    error_of(shared.get("/v1/integrations", token="wrong-token-0123456789"), 401, "unauthorized")
    error_of(shared.get("/v1/integrations", token=TOKEN + "x"), 401, "unauthorized")
    error_of(shared.get("/v1/integrations", token=TOKEN[:-1]), 401, "unauthorized")
    error_of(shared.get("/v1/integrations", headers={"Authorization": "Basic " + TOKEN},
                        token=False), 401, "unauthorized")
    n = len(shared.jobs())
    error_of(shared.post("/v1/integrations", {"model": "auton-slm.gguf"}, token=False), 401,
             "unauthorized")
    assert len(shared.jobs()) == n  # refused before anything was queued
    assert shared.get("/v1/integrations").status == 200
    assert shared.get("/v1/integrations", unix=True).status == 200
    assert shared.get("/v1/models", unix=True).status == 200
    assert oct(os.stat(shared.socket).st_mode & 0o777) == oct(0o600)
    h = shared.get("/v1/health", token=False)
    assert h.status == 200, h
    health = h.json()
    assert health["status"] == "ok" and health["max_jobs"] == 1 and health["version"]


def test_models_lists_the_models_under_the_roots(shared):
    r = shared.get("/v1/models")
    assert r.status == 200, r
    out = r.json()
    assert out["roots"] == [shared.models]
    m = {i["name"]: i for i in out["items"]}["auton-slm"]
    assert m["path"] == os.path.join(shared.models, "auton-slm.gguf")
    assert m["bytes"] == os.path.getsize(GOOD) and m["sha256"] == SHA
    assert m["quantization"] == "Q8_0" and m["manifest"].endswith("manifests/auton-slm.json")


def test_one_connection_serves_several_requests(shared):
    conn = shared.connection()
    try:
        socks = set()
        for path in ("/v1/health", "/v1/integrations", "/v1/models", "/v1/nightly"):
            conn.request("GET", path, headers={"Authorization": "Bearer " + TOKEN})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, (path, resp.status)
            socks.add(id(conn.sock))
        assert len(socks) == 1, "the connection was not kept alive"
    finally:
        conn.close()


def test_many_clients_at_once(shared):
    """40 clients, 5 requests each, TCP and the Unix socket mixed."""
    errors = []

    def client(i):
        try:
            for k in range(5):
                unix = (i + k) % 2 == 0
                path = ("/v1/integrations?limit=5", "/v1/health", "/metrics", "/v1/models",
                        "/v1/nightly")[k]
                r = shared.get(path, unix=unix)
                if r.status != 200:
                    errors.append((path, unix, r))
        except Exception as e:  # noqa: B902 - collected
            errors.append(repr(e))
    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert shared.get("/v1/health", token=False).json()["status"] == "ok"


def test_a_missing_token_file_is_created_and_a_short_token_refused(make_daemon):
    d = make_daemon(start=False, seed=False)
    os.remove(os.path.join(d.base, "token"))
    d.start()
    path = os.path.join(d.base, "token")
    assert os.stat(path).st_mode & 0o777 == 0o600
    token = open(path).read().splitlines()[0]
    assert len(token) >= 16
    assert d.get("/v1/integrations", token=token).status == 200
    error_of(d.get("/v1/integrations"), 401, "unauthorized")  # the test's token is not it
    assert d.stop() == 0
    with open(path, "w") as f:
        f.write("short\n")
    r = subprocess.run([d.autond, "--foreground", "--config", d.conf], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0 and "at least 16 characters" in r.stderr, r


# ---- bad requests -------------------------------------------------------------------------------

def setup_confinement(d):
    """A symbolic link in the model root to a model outside it."""
    link = os.path.join(d.models, "escape.gguf")
    if not os.path.islink(link):
        os.symlink(GOOD, link)


BAD_SUBMITS = [
    ("malformed_json", b'{"model": "auton-slm.gguf"', 400, "invalid_json"),
    ("not_an_object", b'["auton-slm.gguf"]', 400, "invalid_json"),
    ("a_string", b'"auton-slm.gguf"', 400, "invalid_json"),
    ("unknown_field", {"model": "auton-slm.gguf", "colour": "red"}, 400, "unknown_field"),
    ("model_not_a_string", {"model": 5}, 400, "invalid_type"),
    ("priority_not_a_number", {"model": "auton-slm.gguf", "priority": "high"}, 400,
     "invalid_type"),
    ("bridge_not_a_boolean", {"model": "auton-slm.gguf", "bridge": "yes"}, 400, "invalid_type"),
    ("missing_model", {}, 422, "missing_field"),
    ("empty_model", {"model": ""}, 422, "missing_field"),
    ("dotdot", {"model": "../models/auton-slm.gguf"}, 422, "path_traversal"),
    ("inner_dotdot", {"model": "manifests/../auton-slm.gguf"}, 422, "path_traversal"),
    ("manifest_dotdot", {"model": "auton-slm.gguf", "manifest": "../x.json"}, 422,
     "path_traversal"),
    ("absolute_outside", {"model": GOOD}, 422, "outside_roots"),
    ("symlink_outside", {"model": "escape.gguf"}, 422, "outside_roots"),
    ("prompts_outside", {"model": "auton-slm.gguf", "prompts": "/etc/passwd"}, 422,
     "outside_roots"),
    ("nonexistent", {"model": "no-such-model.gguf"}, 422, "not_found"),
    ("arch", {"model": "auton-slm.gguf", "arch": "aarch64"}, 422, "invalid_value"),
    ("rollback", {"model": "auton-slm.gguf", "rollback": "sideways"}, 422, "invalid_value"),
    ("fallback", {"model": "auton-slm.gguf", "fallback": "maybe"}, 422, "invalid_value"),
    ("priority_range", {"model": "auton-slm.gguf", "priority": 101}, 422, "invalid_value"),
    ("priority_fraction", {"model": "auton-slm.gguf", "priority": 1.5}, 422, "invalid_value"),
    ("too_large", json.dumps({"model": "x" * (70 << 10)}).encode(), 413, "payload_too_large"),
]


@pytest.mark.parametrize("name,body,status,code", BAD_SUBMITS, ids=[c[0] for c in BAD_SUBMITS])
def test_a_bad_submission_is_refused_with_its_error_code(shared, name, body, status, code):
    setup_confinement(shared)
    n = len(shared.jobs())
    headers = {"Content-Type": "application/json"}
    r = shared.post("/v1/integrations", body, headers=headers)
    msg = error_of(r, status, code)
    if code in ("unknown_field", "invalid_type"):
        assert re.search(r"colour|model|priority|bridge", msg), msg
    assert len(shared.jobs()) == n, "a refused request queued a job"


def test_a_body_of_another_media_type_is_refused(shared):
    r = shared.post("/v1/integrations", b'{"model": "auton-slm.gguf"}',
                    headers={"Content-Type": "text/plain"})
    error_of(r, 415, "unsupported_media_type")


def test_a_chunked_body_over_the_limit_is_refused(shared):
    conn = shared.connection()
    try:
        chunks = iter([b'{"model": "'] + [b"x" * 8192] * 10 + [b'"}'])
        conn.request("POST", "/v1/integrations", body=chunks, encode_chunked=True,
                     headers={"Authorization": "Bearer " + TOKEN,
                              "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        r = Response(resp.status, resp.headers, resp.read())
    finally:
        conn.close()
    error_of(r, 413, "payload_too_large")


def test_headers_over_the_limit_are_refused(shared):
    r = shared.get("/v1/integrations", headers={"X-Padding": "p" * (20 << 10)})
    error_of(r, 431, "headers_too_large")


UNKNOWN = [
    ("GET", "/v1/integrations/20990101-000000-abcdef", 404, "unknown_job"),
    ("GET", "/v1/integrations/nope/report", 404, "unknown_job"),
    ("GET", "/v1/integrations/nope/events", 404, "unknown_job"),
    ("GET", "/v1/integrations/nope/logs/build", 404, "unknown_job"),
    ("GET", "/v1/integrations/nope/logs/kernel", 404, "unknown_log"),
    ("POST", "/v1/integrations/nope/cancel", 404, "unknown_job"),
    ("POST", "/v1/workspaces/riscv64/rollback", 404, "unknown_workspace"),
    ("GET", "/v1/frobnicate", 404, "not_found"),
    ("GET", "/v2/integrations", 404, "not_found"),
    ("GET", "/", 404, "not_found"),
    ("DELETE", "/v1/integrations", 405, "method_not_allowed"),
    ("PUT", "/v1/integrations/nope/cancel", 405, "method_not_allowed"),
    ("GET", "/v1/nightly/run", 405, "method_not_allowed"),
    ("POST", "/metrics", 405, "method_not_allowed"),
    ("GET", "/v1/integrations?state=bogus", 400, "invalid_parameter"),
    ("GET", "/v1/integrations?limit=0", 400, "invalid_parameter"),
    ("GET", "/v1/integrations?limit=1001", 400, "invalid_parameter"),
    ("GET", "/v1/integrations?cursor=abc", 400, "invalid_parameter"),
]


@pytest.mark.parametrize("method,path,status,code", UNKNOWN,
                         ids=["%s %s" % (c[0], c[1]) for c in UNKNOWN])
def test_unknown_things_wrong_methods_and_bad_parameters(shared, method, path, status, code):
    error_of(shared.request(method, path), status, code)


def test_garbage_on_a_raw_socket_gets_a_json_400_and_the_connection_closes(shared):
    s = socket.create_connection(("127.0.0.1", shared.port), timeout=10)
    try:
        s.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n")
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                raise AssertionError("the connection stayed open after the 400: %r" % data)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 "), data
    assert b"application/json" in head, head
    e = json.loads(body)
    jsonschema.validate(e, ERROR_SCHEMA)
    assert e["error"]["code"] == "bad_request", e
    # the daemon is fine
    assert shared.get("/v1/health", token=False).status == 200


def test_list_pages_with_a_cursor(shared, first_job):
    items = shared.jobs(limit=1)
    assert len(items) == 1
    r = shared.get("/v1/integrations?limit=1")
    page = r.json()
    everything = shared.jobs(limit=1000)
    if len(everything) > 1:
        assert page["next_cursor"], page
        nxt = shared.get("/v1/integrations?limit=1&cursor=" + page["next_cursor"]).json()
        assert nxt["items"][0]["id"] == everything[1]["id"]
    assert [j["id"] for j in shared.jobs(state="committed")] == [
        j["id"] for j in everything if j["state"] == "committed"]


def test_a_bare_model_name_resolves_under_the_roots(shared):
    job = shared.submit("badsha")
    assert job["model"] == os.path.join(shared.models, "badsha.gguf")
    assert job["request"]["model_requested"] == "badsha"
    job = shared.wait_job(job["id"], timeout=60)
    assert job["state"] == "failed" and job["class"] == "model", job


def test_connections_over_max_conns_are_refused_with_503(make_daemon):
    d = make_daemon({"daemon": {"max_conns": 2}}, seed=False)
    held = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(2)]
    try:
        time.sleep(0.2)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), data
        assert json.loads(body)["error"]["code"] == "too_many_connections", body
    finally:
        for h in held:
            h.close()
    wait_for(lambda: d.get("/v1/health", token=False).status == 200, 10, "a free connection", d)


# ---- idempotency --------------------------------------------------------------------------------

def test_an_idempotency_key_returns_the_first_job_and_refuses_another_body(shared):
    key = "idem-" + uuid.uuid4().hex
    body = json.dumps({"model": "badsha.gguf", "rollback": "previous"})
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    n = len(shared.jobs(limit=1000))
    r1 = shared.post("/v1/integrations", body, headers=headers)
    assert r1.status == 202, r1
    assert r1.headers.get("Idempotent-Replayed") is None, r1.headers
    r2 = shared.post("/v1/integrations", body, headers=headers)
    assert r2.status == 202, r2
    assert r2.headers["Idempotent-Replayed"] == "true", r2.headers
    jid = r1.json()["id"]
    assert r2.json()["id"] == jid and r2.headers["Location"] == r1.headers["Location"]
    items = shared.jobs(limit=1000)
    assert len(items) == n + 1 and [j["id"] for j in items].count(jid) == 1
    other = json.dumps({"model": "badsha.gguf", "rollback": "rule-engine"})
    error_of(shared.post("/v1/integrations", other, headers=headers), 409,
             "idempotency_conflict")
    assert len(shared.jobs(limit=1000)) == n + 1
    # the job itself runs once and is refused at once (its manifest lies)
    job = shared.wait_job(jid, timeout=60)
    assert job["state"] == "failed" and job["class"] == "model", job
    r3 = shared.post("/v1/integrations", body, headers=headers)  # still the same job
    assert r3.status == 202 and r3.json()["id"] == jid and r3.json()["state"] == "failed"


# ---- the queue ----------------------------------------------------------------------------------

def test_the_queue_runs_one_job_at_a_time_by_priority_then_fifo(make_daemon):
    d = make_daemon({"daemon": {"max_jobs": 1}})
    d.add_bad_model("bad1")
    a = d.submit("auton-slm.gguf")["id"]
    wait_building(d, a)
    b = d.submit("bad1.gguf")["id"]
    c = d.submit("bad1.gguf")["id"]
    e = d.submit("bad1.gguf")["id"]
    hi = d.submit("bad1.gguf", priority=5)["id"]
    low = d.submit("bad1.gguf", priority=-3)["id"]
    states = {j["id"]: j["state"] for j in d.jobs()}
    assert states == {a: "running", b: "queued", c: "queued", e: "queued", hi: "queued",
                      low: "queued"}, states
    m = metrics_of(d.get("/metrics").text)
    assert m["autond_queue_depth"] == 5 and m["autond_jobs_running"] == 1

    # a queued job is canceled at once
    r = d.post("/v1/integrations/%s/cancel" % e)
    assert r.status == 202 and r.json()["state"] == "canceled", r
    job = d.job(e)
    assert job["state"] == "canceled" and job["class"] == "canceled" and job["started"] is None

    # the running one is stopped; the rest run one by one
    r = d.post("/v1/integrations/%s/cancel" % a)
    assert r.status == 202 and r.json()["state"] in ("running", "canceled"), r
    deadline = time.time() + 120
    while time.time() < deadline:
        jobs = d.jobs()
        running = [j["id"] for j in jobs if j["state"] == "running"]
        assert len(running) <= 1, running
        assert d.get("/v1/health").json()["running"] <= 1
        if all(j["state"] in TERMINAL for j in jobs):
            break
        time.sleep(0.02)
    jobs = {j["id"]: j for j in d.jobs()}
    assert jobs[a]["state"] == "canceled", jobs[a]
    for j in (b, c, hi, low):
        assert jobs[j]["state"] == "failed" and jobs[j]["class"] == "model", jobs[j]
    # by start time: the running one, then priority 5, then FIFO at 0, then -3
    ran = sorted((jobs[j]["started"], j) for j in (a, b, c, hi, low))
    assert [j for _, j in ran] == [a, hi, b, c, low], [(jobs[j]["priority"], j) for _, j in ran]
    spans = sorted((jobs[j]["started"], jobs[j]["finished"]) for j in (a, b, c, hi, low))
    for (s1, f1), (s2, f2) in zip(spans, spans[1:]):
        assert f1 <= s2, "two jobs ran at once: %s" % spans
    # a finished job cannot be canceled
    error_of(d.post("/v1/integrations/%s/cancel" % b), 409, "job_finished")
    error_of(d.post("/v1/integrations/%s/cancel" % e), 409, "job_finished")
    d.assert_clean()


# ---- cancel a running job -----------------------------------------------------------------------

def watch_stream(d, jid):
    """Reads the job's event stream on a thread; returns (thread, result dict)."""
    out = {}

    def read():
        try:
            out["events"] = d.events(jid, timeout=60)
        except BaseException as exc:  # noqa: B902 - reported by the test
            out["error"] = exc
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t, out


def test_a_stream_opened_on_a_queued_job_ends_when_the_job_is_canceled(make_daemon):
    d = make_daemon()
    a = d.submit("auton-slm.gguf")["id"]
    wait_building(d, a)
    q = d.submit("auton-slm.gguf")["id"]
    assert d.job(q)["state"] == "queued"
    t, watch = watch_stream(d, q)
    time.sleep(0.5)  # connected, the (empty) stored events read
    r = d.post("/v1/integrations/%s/cancel" % q)
    assert r.status == 202 and r.json()["state"] == "canceled", r
    t.join(5)
    alive = t.is_alive()
    d.post("/v1/integrations/%s/cancel" % a)
    d.wait_job(a, timeout=60)
    assert not alive and "error" not in watch, (
        "GET /v1/integrations/%s/events, opened while the job was queued, did not end within "
        "5 s of the job's cancel (%s)" % (q, watch.get("error")))
    assert watch["events"] == [(None, "end", {"state": "canceled"})], watch["events"]


def test_canceling_a_job_while_it_builds_leaves_nothing_behind(make_daemon):
    d = make_daemon()
    before = d.main()
    jid = d.submit("auton-slm.gguf")["id"]
    wait_building(d, jid)
    # a client that reads a little of the stream and goes away
    raw = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    raw.sendall(("GET /v1/integrations/%s/events HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 "Bearer %s\r\n\r\n" % (jid, TOKEN)).encode())
    assert raw.recv(4096).startswith(b"HTTP/1.1 200 ")
    raw.close()
    t, watch = watch_stream(d, jid)
    r = d.post("/v1/integrations/%s/cancel" % jid)
    assert r.status == 202, r
    assert r.json()["cancel_requested"] is True, r
    job = d.wait_job(jid, timeout=60)
    assert job["state"] == "canceled" and job["class"] == "canceled", job
    assert job["summary"]["decision"] == "unchanged", job
    assert d.main() == before
    d.assert_clean(jid)
    t.join(10)
    assert not t.is_alive() and "error" not in watch, watch.get("error")
    assert watch["events"][-1] == (None, "end", {"state": "canceled"}), watch["events"][-3:]
    last = watch["events"][-2]
    assert last[1] == "job" and last[2]["class"] == "canceled", last
    assert last[2]["decision"] == "unchanged", last
    assert d.events(jid) == watch["events"]
    error_of(d.post("/v1/integrations/%s/cancel" % jid), 409, "job_finished")


# ---- crashes ------------------------------------------------------------------------------------

def assert_interrupted(d, jid, stage, before):
    job = d.job(jid)
    assert job["state"] == "interrupted" and job["class"] == "infrastructure", job
    assert stage in job["message"], job["message"]
    assert d.main() == before
    assert not os.path.exists(os.path.join(d.worktrees, jid))
    assert jid not in d.branches()
    assert [w for w in d.worktree_list() if jid in w] == []
    assert processes_referencing(job_paths(d, jid)) == []
    events = d.events(jid)
    assert events[-1] == (None, "end", {"state": "interrupted"}), events[-3:]
    assert [e[0] for e in events[:-1]] == list(range(1, len(events)))
    return job


def test_kill9_during_the_build_leaves_an_interrupted_job_and_a_usable_workspace(make_daemon):
    d = make_daemon()
    before = d.main()
    jid = d.submit("auton-slm.gguf")["id"]
    wait_building(d, jid)
    d.kill9()
    # (make ends by itself soon after the daemon: its output went through it)
    d.start()
    job = assert_interrupted(d, jid, "build", before)
    assert "leftover process group" in job["message"], job["message"]
    assert [j["id"] for j in d.jobs()] == [jid]  # retry_interrupted is off
    d.assert_clean(jid)
    # the workspace takes the next job
    nxt = d.submit("auton-slm.gguf")["id"]
    job = d.wait_job(nxt, timeout=300)
    assert job["state"] == "committed", job
    assert d.git("rev-parse", "main^") == before
    d.assert_clean(nxt)


def test_kill9_during_the_boot_with_retry_interrupted_runs_the_job_again(make_daemon):
    # the kernel hangs where its boot would finish: the job waits in boot
    d = make_daemon({"qemu": {"append": "auton.inject=hang"}})
    before = d.main()
    jid = d.submit("auton-slm.gguf")["id"]
    d.wait_job(jid, states=("running",), stage="boot", timeout=300)
    qemu = wait_for(lambda: [p for p in processes_referencing(job_paths(d, jid))
                             if "qemu" in p[1]], 30, "QEMU of " + jid, d)
    d.kill9()
    # QEMU outlives the daemon (a process group of its own): the restart must end it
    assert processes_referencing(job_paths(d, jid)), qemu
    d.configure({"qemu": {"append": '""'}, "daemon": {"retry_interrupted": True}})
    d.start()
    job = assert_interrupted(d, jid, "boot", before)
    assert re.search(r"\b[1-9]\d* leftover process group", job["message"]), job["message"]
    retry = [j for j in d.jobs() if j["id"] != jid]
    assert len(retry) == 1 and retry[0]["retry_of"] == jid, retry
    assert retry[0]["request"]["model"] == d.job(jid)["request"]["model"]
    job = d.wait_job(retry[0]["id"], timeout=300)
    assert job["state"] == "committed", job
    assert d.git("rev-parse", "main^") == before
    d.assert_clean(retry[0]["id"])


# ---- SIGTERM ------------------------------------------------------------------------------------

def test_sigterm_during_a_build_cancels_the_job_and_exits_0(make_daemon):
    d = make_daemon({"daemon": {"shutdown_grace_s": 20}})
    before = d.main()
    jid = d.submit("auton-slm.gguf")["id"]
    wait_building(d, jid)
    t0 = time.time()
    rc = d.stop(timeout=40)
    took = time.time() - t0
    assert rc == 0, d.log()
    assert took < 20, "exited %.1f s after SIGTERM (grace 20 s)" % took
    assert processes_referencing(job_paths(d, jid)) == []
    d.start()
    job = d.job(jid)
    assert job["state"] == "canceled" and job["class"] == "canceled", job
    assert d.main() == before
    d.assert_clean(jid)


def test_sigterm_with_shutdown_finish_past_the_grace_leaves_an_interrupted_job(make_daemon):
    d = make_daemon({"daemon": {"shutdown": "finish", "shutdown_grace_s": 2}})
    before = d.main()
    jid = d.submit("auton-slm.gguf")["id"]
    wait_building(d, jid)
    t0 = time.time()
    rc = d.stop(timeout=30)
    took = time.time() - t0
    assert rc == 0, d.log()
    assert 1.5 < took < 10, "exited %.1f s after SIGTERM (grace 2 s, the build takes longer)" % took
    assert "grace period over" in d.log()
    d.start()
    job = assert_interrupted(d, jid, "build", before)
    assert job["retry_of"] is None and len(d.jobs()) == 1
    d.assert_clean(jid)


# ---- webhooks -----------------------------------------------------------------------------------

class Receiver:
    """A webhook receiver: records every POST; answers by the model the event
    names (its file's stem): plan[stem] = (first answers, the answer after)."""

    def __init__(self):
        self.requests = []
        self.plan = {}
        self.lock = threading.Lock()
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    stem = os.path.basename(json.loads(body)["model"])[:-5]
                except (ValueError, KeyError, TypeError):
                    stem = ""
                with rec.lock:
                    rec.requests.append((time.time(), self.path, self.headers, body, stem))
                    first, then = rec.plan.get(stem, ([], 200))
                    status = first.pop(0) if first else then
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]

    def of(self, stem):
        with self.lock:
            return [r for r in self.requests if r[4] == stem]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


SECRET = "webhook-secret-0123456789"


@pytest.fixture(scope="module")
def hooked(request, autond):
    """A daemon whose manager is a local receiver: signed events, 3 retries,
    a 100 ms backoff."""
    rec = Receiver()
    failed_before = request.session.testsfailed
    d = Daemon(autond[0], autonctl=autond[1])
    with open(os.path.join(d.base, "secret"), "w") as f:
        f.write(SECRET + "\n")
    d.configure({"notify": {"url": rec.url, "secret_file": d.base + "/secret",
                            "backoff_ms": 100, "retries": 3, "timeout_ms": 5000}})
    d.start()
    yield d, rec
    finish(request, [d], failed_before)
    rec.close()


def wait_delivery(d, jid, state):
    return wait_for(lambda: [x for x in d.job(jid)["deliveries"] if x["state"] == state], 30,
                    "a delivery %s for %s" % (state, jid), d)[0]


def test_a_finished_job_is_posted_signed_to_the_manager(hooked):
    d, rec = hooked
    d.add_bad_model("hook-ok")
    jid = d.submit("hook-ok.gguf")["id"]
    job = d.wait_job(jid, timeout=60)
    assert job["state"] == "failed" and job["class"] == "model", job
    got = wait_for(lambda: rec.of("hook-ok"), 30, "the webhook", d)
    assert len(got) == 1
    _, path, headers, body, _ = got[0]
    assert path == "/hook"
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Auton-Event"] == "job.finished" and headers["X-Auton-Attempt"] == "1"
    want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Auton-Signature"] == want
    e = json.loads(body)
    assert e["event"] == "job.finished" and e["job"] == jid and e["arch"] == "x86_64"
    assert e["state"] == "failed" and e["class"] == "model" and e["decision"] == "unchanged", e
    assert e["stage"] in ("fetch", "verify") and "sha256" in e["message"], e
    assert e["recommendation"], e
    assert e["report"] == "/v1/integrations/%s/report" % jid
    assert e["summary"]["decision"] == "unchanged" and e["summary"]["passed"] is False
    dl = wait_delivery(d, jid, "delivered")
    assert dl["attempts"] == 1 and dl["http_status"] == 200 and dl["event"] == "job.finished"
    assert dl["url"] == rec.url and str(dl["id"]) == headers["X-Auton-Delivery"]
    assert dl["error"] is None


def test_a_webhook_answered_500_is_retried_with_backoff(hooked):
    d, rec = hooked
    d.add_bad_model("hook-retry")
    rec.plan["hook-retry"] = ([500, 500], 200)
    jid = d.submit("hook-retry.gguf")["id"]
    d.wait_job(jid, timeout=60)
    dl = wait_delivery(d, jid, "delivered")
    got = rec.of("hook-retry")
    assert [r[2]["X-Auton-Attempt"] for r in got] == ["1", "2", "3"], got
    assert len({r[3] for r in got}) == 1  # the same body (and so signature) each time
    assert len({r[2]["X-Auton-Delivery"] for r in got}) == 1
    assert got[1][0] - got[0][0] >= 0.09 and got[2][0] - got[1][0] >= 0.19, [r[0] for r in got]
    assert dl["attempts"] == 3 and dl["http_status"] == 200, dl


def test_a_webhook_that_always_fails_gives_up_after_the_retries(hooked):
    d, rec = hooked
    d.add_bad_model("hook-fail")
    rec.plan["hook-fail"] = ([], 503)
    jid = d.submit("hook-fail.gguf")["id"]
    d.wait_job(jid, timeout=60)
    dl = wait_delivery(d, jid, "failed")
    assert dl["attempts"] == 4 and dl["http_status"] == 503, dl
    assert "503" in dl["error"], dl
    time.sleep(1.0)
    assert [r[2]["X-Auton-Attempt"] for r in rec.of("hook-fail")] == ["1", "2", "3", "4"]
    assert "gave up after 4 attempt(s)" in d.log()


def test_canceled_jobs_running_or_queued_are_posted_too(hooked):
    d, rec = hooked
    d.add_model(GOOD, "hook-running")
    d.add_model(GOOD, "hook-queued")
    a = d.submit("hook-running.gguf")["id"]
    wait_building(d, a)
    q = d.submit("hook-queued.gguf")["id"]
    assert d.post("/v1/integrations/%s/cancel" % q).json()["state"] == "canceled"
    assert d.post("/v1/integrations/%s/cancel" % a).status == 202
    assert d.wait_job(a, timeout=60)["state"] == "canceled"
    got = wait_for(lambda: rec.of("hook-running"), 30, "the running job's webhook", d)
    e = json.loads(got[0][3])
    assert e["job"] == a and e["state"] == "canceled" and e["class"] == "canceled", e
    time.sleep(1.0)
    got = rec.of("hook-queued")
    assert len(got) == 1, "no job.finished webhook for job %s, canceled while queued " \
        "(deliveries: %s)" % (q, d.job(q)["deliveries"])
    e = json.loads(got[0][3])
    assert e["job"] == q and e["state"] == "canceled" and e["class"] == "canceled", e


def test_an_interrupted_job_is_posted_after_the_restart(make_daemon):
    rec = Receiver()
    try:
        d = make_daemon({"notify": {"url": rec.url, "backoff_ms": 100, "retries": 3}})
        jid = d.submit("auton-slm.gguf")["id"]
        wait_building(d, jid)
        d.kill9()
        d.start()
        assert d.job(jid)["state"] == "interrupted"
        time.sleep(1.5)
        got = rec.of("auton-slm")
        assert len(got) == 1, "no job.finished webhook for job %s, found interrupted at the " \
            "restart (deliveries: %s)" % (jid, d.job(jid)["deliveries"])
        e = json.loads(got[0][3])
        assert e["job"] == jid and e["state"] == "interrupted", e
        assert e["class"] == "infrastructure" and e["recommendation"], e
    finally:
        rec.close()


def test_a_job_canceled_by_sigterm_is_posted(make_daemon):
    """The job ends (canceled) while autond shuts down: its end is posted then,
    or recorded and sent at the next start."""
    rec = Receiver()
    try:
        d = make_daemon({"notify": {"url": rec.url, "backoff_ms": 100, "retries": 3}})
        jid = d.submit("auton-slm.gguf")["id"]
        wait_building(d, jid)
        assert d.stop() == 0
        d.start()
        assert d.job(jid)["state"] == "canceled"
        time.sleep(1.5)
        got = rec.of("auton-slm")
        assert len(got) == 1, "no job.finished webhook for job %s, canceled by SIGTERM " \
            "(deliveries: %s)" % (jid, d.job(jid)["deliveries"])
        e = json.loads(got[0][3])
        assert e["job"] == jid and e["state"] == "canceled", e
    finally:
        rec.close()


def test_a_pending_webhook_is_resent_after_a_restart(make_daemon):
    rec = Receiver()
    try:
        d = make_daemon({"notify": {"url": rec.url, "backoff_ms": 600000, "retries": 3}},
                        seed=False)
        d.add_bad_model("hook-resume")
        rec.plan["hook-resume"] = ([500], 200)
        jid = d.submit("hook-resume.gguf")["id"]
        d.wait_job(jid, timeout=60)
        dl = wait_for(lambda: [x for x in d.job(jid)["deliveries"] if x["attempts"] == 1 and
                               x["http_status"] == 500], 30, "the failed first attempt", d)[0]
        assert dl["state"] == "pending", dl
        assert d.stop() == 0  # the next attempt was 10 minutes away
        d.start()
        dl = wait_delivery(d, jid, "delivered")
        assert dl["attempts"] == 2 and dl["http_status"] == 200, dl
        got = rec.of("hook-resume")
        assert [r[2]["X-Auton-Attempt"] for r in got] == ["1", "2"]
        assert got[0][3] == got[1][3] and got[0][2]["X-Auton-Delivery"] == \
            got[1][2]["X-Auton-Delivery"] == str(dl["id"])
        assert "X-Auton-Signature" not in got[0][2]  # no secret: unsigned
        assert "resending" in d.log()
    finally:
        rec.close()


# ---- models at URLs -----------------------------------------------------------------------------

class Site:
    """A static HTTP server over a directory; records the paths asked for."""

    def __init__(self, root):
        self.root = root
        self.paths = []
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *a, **kw):
                super().__init__(*a, directory=site.root, **kw)

            def log_message(self, *args):
                pass

            def do_GET(self):
                site.paths.append(urllib.parse.unquote(self.path))
                super().do_GET()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, rel):
        return "http://127.0.0.1:%d/%s" % (self.httpd.server_address[1], rel)

    def put(self, rel, data):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(str(tmp_path_factory.mktemp("site")))
    model = open(GOOD, "rb").read()
    s.put("auton-slm.gguf", model)
    s.put("manifests/auton-slm.json", json.dumps(MANIFEST).encode())
    s.put("bad/auton-slm.gguf", model)
    s.put("bad/manifests/auton-slm.json", json.dumps(dict(MANIFEST, sha256="0" * 64)).encode())
    yield s
    s.close()


def test_a_url_model_whose_manifest_disagrees_is_refused(shared, site):
    jid = shared.submit(site.url("bad/auton-slm.gguf"))["id"]
    job = shared.wait_job(jid, timeout=120)
    assert job["state"] == "failed" and job["class"] == "model", job
    assert "sha256" in job["message"], job["message"]
    assert "/bad/auton-slm.gguf" in site.paths and "/bad/manifests/auton-slm.json" in site.paths


def test_a_url_that_answers_404_is_a_model_failure(shared, site):
    jid = shared.submit(site.url("missing/auton-slm.gguf"))["id"]
    job = shared.wait_job(jid, timeout=120)
    assert job["state"] == "failed" and job["class"] == "model", job
    assert "404" in job["message"], job["message"]


def test_a_url_model_is_integrated(shared, site):
    before = shared.main()
    # earlier jobs put the model in the store, where a URL model's manifest hash
    # would find it without a download
    stored = os.path.join(shared.base, "store", "sha256", SHA + ".gguf")
    if os.path.exists(stored):
        os.remove(stored)
    url = site.url("auton-slm.gguf")
    r = shared.post("/v1/integrations", {"model": url})
    assert r.status == 202, r
    assert r.json()["model"] == url
    job = shared.wait_job(r.json()["id"], timeout=300)
    assert job["state"] == "committed", job
    assert job["summary"]["model_sha256"] == SHA
    assert "/auton-slm.gguf" in site.paths and "/manifests/auton-slm.json" in site.paths
    assert shared.git("rev-parse", "main^") == before
    shared.assert_clean(job["id"])


# ---- bundles ------------------------------------------------------------------------------------

def tar_gz(entries):
    """entries: [(name, bytes | ('symlink', target))] -> .tar.gz bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = int(time.time())
            if isinstance(data, tuple):
                info.type = tarfile.SYMTYPE
                info.linkname = data[1]
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def good_entries():
    return [("auton-slm.gguf", open(GOOD, "rb").read()),
            ("manifests/auton-slm.json", json.dumps(MANIFEST).encode())]


def test_a_bundle_under_the_model_root_is_integrated(shared):
    with open(os.path.join(shared.models, "bundle.tar.gz"), "wb") as f:
        f.write(tar_gz(good_entries()))
    before = shared.main()
    job = shared.submit("bundle.tar.gz")
    assert job["model"] == os.path.join(shared.models, "bundle.tar.gz")
    job = shared.wait_job(job["id"], timeout=300)
    assert job["state"] == "committed", job
    assert job["summary"]["model_sha256"] == SHA and job["summary"]["model_name"] == "auton-slm"
    assert shared.git("rev-parse", "main^") == before
    shared.assert_clean(job["id"])


HOSTILE = ["dotdot", "absolute", "symlink"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_bundle_is_refused_and_writes_nothing_outside(shared, kind, tmp_path):
    outside = str(tmp_path / "outside")
    os.makedirs(outside)
    evil = {"dotdot": [("../evil", b"pwned")],
            "absolute": [(outside + "/evil", b"pwned")],
            "symlink": [("link", ("symlink", outside)), ("link/evil", b"pwned")]}[kind]
    name = "hostile-%s.tar.gz" % kind
    with open(os.path.join(shared.models, name), "wb") as f:
        f.write(tar_gz(good_entries() + evil))
    before = shared.main()
    jid = shared.submit(name)["id"]
    job = shared.wait_job(jid, timeout=120)
    assert job["state"] == "failed" and job["class"] == "model", job
    assert job["stage"] == "fetch", job
    assert os.listdir(outside) == []
    written = [os.path.join(dp, f) for dp, dn, fn in os.walk(shared.base) for f in fn + dn
               if f == "evil"]
    assert written == []
    assert shared.main() == before
    shared.assert_clean(jid)


# ---- nightly runs -------------------------------------------------------------------------------

def nightly_run(d):
    r = d.post("/v1/nightly/run")
    assert r.status == 202, r
    run = r.json()
    assert run["trigger"] == "manual" and len(run["jobs"]) == 1, run
    job = d.wait_job(run["jobs"][0], timeout=300)
    assert job["state"] == "committed", job
    assert job["nightly_id"] == run["id"]
    assert job["model"] == os.path.join(d.models, "auton-slm.gguf")

    def done():
        h = d.get("/v1/nightly").json()
        return h if h["runs"] and h["runs"][0]["id"] == run["id"] and \
            h["runs"][0]["state"] == "done" else None
    return run, wait_for(done, 30, "nightly run %s done" % run["id"], d)


def test_nightly_runs_now_and_keeps_a_trend(shared):
    run1, h = nightly_run(shared)
    assert h["enabled"] is False and h["models"] == "auton-slm.gguf" and h["archs"] == "x86_64"
    r = h["runs"][0]
    assert r["trigger"] == "manual" and r["finished"] >= r["started"]
    assert [j["id"] for j in r["jobs"]] == run1["jobs"] and r["jobs"][0]["state"] == "committed"
    pts = h["trends"]["auton-slm@x86_64"]
    assert len(pts) == 1, h["trends"]
    p1 = pts[0]
    assert p1["run"] == run1["id"] and p1["job"] == run1["jobs"][0] and p1["passed"] is True
    assert p1["figures"]["boot_ms"] > 0 and p1["figures"]["tok_s"] > 0, p1

    run2, h = nightly_run(shared)
    assert run2["id"] != run1["id"]
    assert [r["id"] for r in h["runs"]] == [run2["id"], run1["id"]]
    pts = h["trends"]["auton-slm@x86_64"]
    assert [p["run"] for p in pts] == [run1["id"], run2["id"]], pts
    a, b = pts[0]["figures"], pts[1]["figures"]
    for k in ("boot_ms", "tok_s", "pool_peak_mb"):
        assert pts[1][k + "_change_pct"] == pytest.approx(100.0 * (b[k] - a[k]) / a[k],
                                                          abs=0.01), (k, pts)
    assert shared.get("/v1/nightly?limit=1").json()["runs"][0]["id"] == run2["id"]


def test_a_workspace_rollback_puts_main_on_the_rule_engine(shared, first_job):
    error_of(shared.post("/v1/workspaces/x86_64/rollback", {"why": "x"}), 400, "unknown_field")
    error_of(shared.post("/v1/workspaces/x86_64/rollback", {"reason": 5}), 400, "invalid_type")
    error_of(shared.post("/v1/workspaces/x86_64/rollback", b"[1]",
                         headers={"Content-Type": "application/json"}), 400, "invalid_json")
    before = shared.main()
    assert "\nSLM_ENABLED := 1\n" in shared.git("show", "main:Makefile")
    r = shared.post("/v1/workspaces/x86_64/rollback", {"reason": "e2e: back to the rules"})
    assert r.status == 202, r
    jid = r.json()["id"]
    assert r.headers["Location"] == "/v1/integrations/" + jid
    job = shared.wait_job(jid, timeout=300)
    assert job["state"] == "rolled_back", job
    assert shared.git("rev-parse", "main^") == before
    msg = shared.git("log", "-1", "--format=%B", "main")
    assert msg.startswith("Roll back to the rule engine") and "e2e: back to the rules" in msg
    assert "\nSLM_ENABLED := 0\n" in shared.git("show", "main:Makefile")
    shared.assert_clean(jid)
    # main is on the rule engine already: nothing to do
    after = shared.main()
    r = shared.post("/v1/workspaces/x86_64/rollback")
    assert r.status == 202, r
    job = shared.wait_job(r.json()["id"], timeout=300)
    assert job["state"] != "failed", job
    assert shared.main() == after


def test_a_nightly_run_without_models_is_refused(make_daemon):
    d = make_daemon(seed=False)
    msg = error_of(d.post("/v1/nightly/run"), 422, "nightly")
    assert "empty" in msg, msg
    mark = len(d.log())
    d.configure({"nightly": {"models": "nomatch-*.gguf"}})
    d.signal(signal.SIGHUP)
    assert d.wait_log("configuration reloaded", start=mark), d.log()
    msg = error_of(d.post("/v1/nightly/run"), 422, "nightly")
    assert "matches no model" in msg, msg
    h = d.get("/v1/nightly").json()
    assert h["runs"] == [] and h["models"] == "nomatch-*.gguf"
    assert d.jobs() == []


# ---- SIGHUP -------------------------------------------------------------------------------------

def test_sighup_reloads_a_good_config_and_keeps_the_old_one_on_a_bad_one(make_daemon):
    d = make_daemon(seed=False)
    assert d.get("/v1/health").json()["max_jobs"] == 1
    mark = len(d.log())
    d.configure({"daemon": {"max_jobs": 2}, "notify": {"backoff_ms": 250}})
    d.signal(signal.SIGHUP)
    assert d.wait_log("SIGHUP: configuration reloaded", start=mark), d.log()
    assert d.get("/v1/health").json()["max_jobs"] == 2

    for bad, key in ((("daemon", "max_jobs", 0), "max_jobs"),
                     (("notify", "backoff_ms", "soon"), "backoff_ms"),
                     (("daemon", "frobnicate", 1), "frobnicate")):
        mark = len(d.log())
        d.configure({bad[0]: {bad[1]: bad[2]}})
        d.signal(signal.SIGHUP)
        assert d.wait_log("configuration not reloaded", start=mark), d.log()
        line = [l for l in d.log()[mark:].splitlines() if "not reloaded" in l][0]
        assert key in line, line
        assert d.get("/v1/health").json()["max_jobs"] == 2  # the old one serves
        assert d.get("/v1/integrations", unix=True).status == 200
        del d.settings[bad[0]][bad[1]]
    d.configure({})
