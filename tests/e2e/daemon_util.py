"""A private autond installation for the end-to-end tests: its own config,
workspace root, model store, reports, job store, token and Unix socket; the
daemon started in the foreground with its log captured; HTTP over TCP (with
or without the bearer token) and over the Unix socket; Server-Sent Events;
and the checks that a job left nothing behind (worktrees, branches,
processes)."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPORTS = os.path.join(ROOT, "models", "exports")
GOOD = os.path.join(EXPORTS, "auton-slm.gguf")
GOOD_MANIFEST = os.path.join(EXPORTS, "manifests", "auton-slm.json")
QUICK = os.path.join(ROOT, "tests", "prompts", "quick.json")
TOKEN = "test-token-0123456789abcdef"
TERMINAL = ("committed", "rolled_back", "failed", "canceled", "interrupted")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # an http.client.HTTPMessage (case-insensitive)
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<HTTP %d %s>" % (self.status, self.body[:2000])


def ini(sections):
    out = []
    for name, keys in sections.items():
        out.append("[%s]" % name)
        for k, v in keys.items():
            if isinstance(v, bool):
                v = "true" if v else "false"
            out.append("%s = %s" % (k, v))
    return "\n".join(out) + "\n"


class Daemon:
    """A private installation and the autond that serves it. settings:
    {section: {key: value}} merged over the test defaults (TCG, the quick
    prompt suite, time limits far beyond noise, no fallback)."""

    def __init__(self, autond, settings=None, base=None, models=True, autonctl=None):
        self.autond = autond
        self.autonctl = autonctl
        self.base = base or tempfile.mkdtemp(prefix="autond-", dir="/tmp")
        self.port = free_port()
        self.models = os.path.join(self.base, "models")
        os.makedirs(os.path.join(self.models, "manifests"), exist_ok=True)
        if models:
            self.add_model(GOOD)
        with open(os.path.join(self.base, "token"), "w") as f:
            f.write(TOKEN + "\n")
        self.conf = os.path.join(self.base, "auton.conf")
        self.socket = os.path.join(self.base, "autond.sock")
        self.ws = os.path.join(self.base, "kernels", "x86_64")
        self.worktrees = os.path.join(self.base, "worktrees")
        self.reports = os.path.join(self.base, "reports")
        self.log_path = os.path.join(self.base, "autond.log")
        self.settings = {}
        self.configure(settings or {})
        self.proc = None
        self.log_file = None
        self.exits = []

    # ---- configuration ------------------------------------------------------------------------

    def defaults(self):
        b = self.base
        return {
            "workspace": {"root": b + "/kernels", "worktrees": b + "/worktrees",
                          "kernel_tree": ROOT + "/kernel-tree"},
            "models": {"store": b + "/store", "roots": self.models},
            "pipeline": {"prompts": QUICK, "reports": b + "/reports", "fallback": "off"},
            "qemu": {"accel": "tcg"},
            "validate": {"time_multiplier_tcg": 1000},
            "regress": {"boots": 1, "boot_floor_ms": 600000},
            "daemon": {"listen": "127.0.0.1:%d" % self.port, "socket": self.socket,
                       "token_file": b + "/token", "db": b + "/autond.db"},
        }

    def configure(self, settings):
        """Merges settings into the config file (written at once)."""
        for sec, keys in settings.items():
            self.settings.setdefault(sec, {}).update(keys)
        merged = self.defaults()
        for sec, keys in self.settings.items():
            merged.setdefault(sec, {}).update(keys)
        with open(self.conf, "w") as f:
            f.write(ini(merged))

    def add_model(self, path, name=None, manifest=None):
        """Copies a model (and its manifest, renamed, or the given manifest dict)
        into the model root; returns its path there."""
        src_dir, fname = os.path.split(path)
        stem = fname[:-5]
        name = name or stem
        dest = os.path.join(self.models, name + ".gguf")
        shutil.copy(path, dest)
        if manifest is None:
            man_path = os.path.join(src_dir, "manifests", stem + ".json")
            if os.path.exists(man_path):
                manifest = json.load(open(man_path))
        if manifest is not None:
            manifest = dict(manifest, name=name)
            with open(os.path.join(self.models, "manifests", name + ".json"), "w") as f:
                json.dump(manifest, f)
        return dest

    def add_bad_model(self, name="badsha"):
        """The trained model under a manifest whose sha256 is wrong: refused at
        fetch or verify within a second (class model)."""
        m = json.load(open(GOOD_MANIFEST))
        return self.add_model(GOOD, name, dict(m, sha256="0" * 64))

    def seed(self):
        """Creates the workspace (autonctl workspace status does, from the same
        config), so that main exists before the first job."""
        autonctl = self.autonctl() if callable(self.autonctl) else self.autonctl
        r = subprocess.run([autonctl, "--config", self.conf, "workspace", "status"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        return self.main()

    # ---- the process -------------------------------------------------------------------------

    def start(self, timeout=30):
        self.log_file = open(self.log_path, "ab")
        self.log_file.write(b"==== start ====\n")
        self.log_file.flush()
        self.proc = subprocess.Popen([self.autond, "--foreground", "--config", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=self.log_file,
                                     stderr=self.log_file, cwd=self.base)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("autond exited %d at start:\n%s" %
                                     (self.proc.returncode, self.log()))
            try:
                r = self.request("GET", "/v1/health", token=False, timeout=2)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("autond did not answer /v1/health:\n" + self.log())

    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM; returns the exit status."""
        if not self.running():
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("autond did not exit within %d s of SIGTERM:\n%s" %
                                 (timeout, self.log()))
        self.exits.append(rc)
        self.log_file.close()
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.exits.append(self.proc.returncode)
        self.log_file.close()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, text, timeout=10, start=0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.log()[start:]:
                return True
            time.sleep(0.05)
        return False

    def cleanup(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        kill_referencing([self.base])
        shutil.rmtree(self.base, ignore_errors=True)

    # ---- HTTP -------------------------------------------------------------------------------

    def connection(self, unix=False, timeout=30):
        if unix:
            return UnixHTTPConnection(self.socket, timeout=timeout)
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, token=True, unix=False,
                timeout=30):
        """One request on a fresh connection. body: bytes, str, or a JSON value."""
        h = dict(headers or {})
        if token is True and not unix:
            h["Authorization"] = "Bearer " + TOKEN
        elif isinstance(token, str):
            h["Authorization"] = "Bearer " + token
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode()
        conn = self.connection(unix, timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def submit(self, model, **fields):
        """POST /v1/integrations; returns the job (asserting 202)."""
        body = dict(fields, model=model)
        r = self.post("/v1/integrations", body)
        assert r.status == 202, r
        return r.json()

    def job(self, jid):
        r = self.get("/v1/integrations/" + jid)
        assert r.status == 200, r
        return r.json()

    def jobs(self, **query):
        q = "&".join("%s=%s" % kv for kv in query.items())
        r = self.get("/v1/integrations" + ("?" + q if q else ""))
        assert r.status == 200, r
        return r.json()["items"]

    def wait_job(self, jid, states=TERMINAL, timeout=300, stage=None):
        """Polls the job until its state is in states (and, given, its stage is
        stage); returns it."""
        deadline = time.time() + timeout
        job = None
        while time.time() < deadline:
            job = self.job(jid)
            if job["state"] in states and (stage is None or job.get("stage") == stage):
                return job
            if job["state"] in TERMINAL and job["state"] not in states:
                break
            time.sleep(0.1)
        raise AssertionError("job %s: wanted %s%s, got %s\n%s" % (
            jid, states, " at stage " + stage if stage else "",
            json.dumps(job, indent=1)[:4000], self.log()[-6000:]))

    def events(self, jid, last_id=None, after=None, timeout=600):
        """The job's event stream read to its end: [(id, type, data)], and
        whether the server closed it after the end event."""
        path = "/v1/integrations/%s/events" % jid
        if after is not None:
            path += "?after=%d" % after
        h = {"Authorization": "Bearer " + TOKEN, "Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = str(last_id)
        conn = self.connection(timeout=timeout)
        try:
            conn.request("GET", path, headers=h)
            sock = conn.sock  # getresponse() forgets it for a close-delimited answer
            r = conn.getresponse()
            if r.status != 200:
                raise AssertionError(Response(r.status, r.headers, r.read()))
            assert r.headers["Content-Type"].startswith("text/event-stream"), r.headers
            return parse_sse(r, lambda: sock.settimeout(10))
        finally:
            conn.close()

    # ---- the workspace ------------------------------------------------------------------------

    def git(self, *args):
        return subprocess.run(["git", "-C", self.ws] + list(args), capture_output=True,
                              text=True, check=True).stdout.strip()

    def main(self):
        return self.git("rev-parse", "main")

    def branches(self):
        return self.git("branch", "--list", "integration/*")

    def worktree_list(self):
        return [l for l in self.git("worktree", "list", "--porcelain").splitlines()
                if l.startswith("worktree ")]

    def assert_clean(self, jid=None):
        """No job left a worktree, an integration branch or a process behind."""
        assert self.branches() == "", self.branches()
        assert len(self.worktree_list()) == 1, self.worktree_list()
        if os.path.isdir(self.worktrees):
            assert os.listdir(self.worktrees) == [], os.listdir(self.worktrees)
        if jid:
            left = processes_referencing([os.path.join(self.worktrees, jid),
                                          os.path.join(self.reports, jid)])
            assert left == [], left


def parse_sse(resp, on_end=None):
    """Reads an SSE stream to its close: [(id, type, data)]. After the end
    event, on_end() (a shorter timeout): the server must close the stream."""
    events, cur = [], {}
    while True:
        try:
            line = resp.readline()
        except (socket.timeout, TimeoutError):
            if events and events[-1][1] == "end":
                raise AssertionError("the server kept the stream open after its end event")
            raise
        if not line:
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if cur:
                data = "\n".join(cur.get("data", []))
                events.append((cur.get("id"), cur.get("event", "message"),
                               json.loads(data) if data else None))
                if events[-1][1] == "end" and on_end:
                    on_end()
            cur = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            cur.setdefault("data", []).append(value)
        elif field == "id":
            cur["id"] = int(value)
        else:
            cur[field] = value
    return events


def processes_referencing(paths):
    """[(pid, cmdline)] of the processes whose command line or working directory
    names one of paths (make's compilers run in the worktree)."""
    out = []
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        try:
            cmd += " cwd=" + os.readlink("/proc/%s/cwd" % d)
        except OSError:
            pass
        if any(p in cmd for p in paths):
            out.append((int(d), cmd[:300]))
    return out


def kill_referencing(paths):
    """Kills (by pid) what a failed test may have left running under paths."""
    for pid, _ in processes_referencing(paths):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
