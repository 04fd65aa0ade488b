"""make bench, autond part: HTTP throughput and latency with wrk on
GET /v1/health and GET /v1/integrations (TCP, bearer token, keep-alive),
first with the daemon idle, then while an integration of the bundled model
runs (build, QEMU boot, inference on the same 2 CPUs), side by side in one
run; and the daemon's resident memory (VmRSS now, VmHWM peak).

Run alone: /usr/bin/python3 tests/bench/daemon_bench.py
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
TOKEN = "bench-token-0123456789abcdef"
WRK_SECONDS = 8


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_conf(base, port):
    conf = os.path.join(base, "auton.conf")
    with open(os.path.join(base, "token"), "w") as f:
        f.write(TOKEN + "\n")
    with open(conf, "w") as f:
        f.write(f"""
[workspace]
root = {base}/kernels
worktrees = {base}/worktrees
kernel_tree = {ROOT}/kernel-tree
[models]
store = {base}/store
roots = {ROOT}/models/exports
[pipeline]
prompts = {ROOT}/tests/prompts/quick.json
reports = {base}/reports
fallback = off
[validate]
time_multiplier_tcg = 1000
time_multiplier_kvm = 100
[regress]
boots = 1
boot_floor_ms = 600000
[daemon]
listen = 127.0.0.1:{port}
socket = {base}/autond.sock
token_file = {base}/token
db = {base}/autond.db
""")
    return conf


def api(port, method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": "Bearer " + TOKEN,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def wrk(port, path):
    out = subprocess.run(["wrk", "-t2", "-c32", "-d%ds" % WRK_SECONDS, "--latency",
                          "-H", "Authorization: Bearer " + TOKEN,
                          f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, timeout=WRK_SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(errors.group(1)) if errors else 0


def rss_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def main():
    if not shutil.which("wrk"):
        print("daemon bench: wrk is not installed (make deps installs it): skipped")
        return
    base = tempfile.mkdtemp(prefix="autond-bench.")
    port = free_port()
    conf = write_conf(base, port)
    log = open(os.path.join(base, "autond.log"), "w")
    d = subprocess.Popen([os.path.join(BIN, "autond"), "--foreground", "--config", conf],
                         stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                api(port, "GET", "/v1/health")
                break
            except OSError:
                time.sleep(0.1)
        rows = []
        rss_idle = rss_kb(d.pid, "VmRSS")
        for path in ("/v1/health", "/v1/integrations?limit=20"):
            rows.append(("idle", path) + wrk(port, path))
        job = api(port, "POST", "/v1/integrations", {"model": "auton-slm"})
        time.sleep(1.0)
        for path in ("/v1/health", "/v1/integrations?limit=20"):
            state = api(port, "GET", "/v1/integrations/" + job["id"])["state"]
            rows.append(("integrating (%s)" % state, path) + wrk(port, path))
        while api(port, "GET", "/v1/integrations/" + job["id"])["state"] in ("queued", "running"):
            time.sleep(0.5)
        final = api(port, "GET", "/v1/integrations/" + job["id"])
        print("\nautond HTTP (wrk -t2 -c32 -d%ds, TCP + bearer token, keep-alive)" % WRK_SECONDS)
        print("%-24s %-28s %12s %10s %8s" % ("daemon", "endpoint", "requests/s", "p99 ms",
                                             "non-2xx"))
        for when, path, rps, p99, errs in rows:
            print("%-24s %-28s %12.0f %10.2f %8d" % (when, path, rps, p99, errs))
        print("integration during the load: %s in %.1f s" % (
            final["state"], (final["finished"] or 0) - (final["started"] or 0)))
        print("autond memory: VmRSS idle %.1f MiB, now %.1f MiB, peak (VmHWM) %.1f MiB" % (
            rss_idle / 1024, rss_kb(d.pid, "VmRSS") / 1024, rss_kb(d.pid, "VmHWM") / 1024))
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(timeout=60)
        except subprocess.TimeoutExpired:
            d.kill()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
