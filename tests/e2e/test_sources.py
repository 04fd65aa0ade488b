"""autonctl integrate with models from elsewhere: http(s) URLs (checked against
their manifest's sha256, kept under that hash in <store>/partial/ until whole,
resumed with HTTP Range) and tar bundles (.tar, .tar.gz, .tar.zst, extracted as
untrusted input); and the artifacts archive every job leaves in reports/<job>/.

The tests share one installation (a module-scoped Env of test_integrate.py):
the first commits the trained model from a URL, the refusals after it check
that main stays where that commit put it. Full integrations are few (they
take a kernel build and boots); a job that must only get past fetch is
stopped at verify by a pool budget no model fits (-o validate.pool_peak_max_mb).
"""
import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
import urllib.parse

import jsonschema
import pytest

from test_integrate import Env, GOOD, QUICK, SCHEMA

MANIFEST = json.load(open(os.path.join(os.path.dirname(GOOD), "manifests", "auton-slm.json")))
SHA = MANIFEST["sha256"]
STOP_AT_VERIFY = ["-o", "validate.pool_peak_max_mb=0.001"]


class Site:
    """A local HTTP server over a directory, honouring single Range requests
    ("bytes=N-"), recording every request (path, Range header). cut = (path,
    n): the next whole-file answer for path announces its full length, sends n
    bytes and drops the connection."""

    def __init__(self, root):
        self.root = root
        self.requests = []
        self.cut = None
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                path = urllib.parse.unquote(self.path.split("?")[0])
                site.requests.append((path, rng))
                full = os.path.join(site.root, path.lstrip("/"))
                if not os.path.isfile(full):
                    self.send_error(404)
                    return
                data = open(full, "rb").read()
                start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else 0
                if start >= len(data) and rng:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % len(data))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range",
                                     "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if site.cut and site.cut[0] == path and not rng:
                    body, site.cut = body[:site.cut[1]], None
                    self.close_connection = True
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, rel):
        return "http://127.0.0.1:%d/%s" % (self.httpd.server_address[1], rel)

    def put(self, rel, data):
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def gets(self, suffix):
        return [r for r in self.requests if r[0].endswith(suffix)]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def manifest_with(**changes):
    m = dict(MANIFEST, **changes)
    return json.dumps(m).encode()


@pytest.fixture(scope="module")
def env(tmp_path_factory, bin_path):
    return Env(tmp_path_factory.mktemp("sources"), bin_path("autonctl"), "tcg")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    s = Site(str(root))
    model = open(GOOD, "rb").read()
    s.put("auton-slm.gguf", model)
    s.put("manifests/auton-slm.json", manifest_with())
    # the same file under a manifest that says otherwise
    s.put("bad/auton-slm.gguf", model)
    s.put("bad/manifests/auton-slm.json", manifest_with(sha256="0" * 64))
    # a model without a manifest; a manifest without its model (and a hash no store has)
    s.put("bare/auton-slm.gguf", model)
    s.put("gone/manifests/auton-slm.json", manifest_with(sha256="ab" * 32))
    yield s
    s.close()


def integrate(env, model, *args, opts=(), expect=0):
    """Runs autonctl integrate --json; returns (report, stderr), the report
    checked against the schema and the same on disk."""
    r = subprocess.run([env.autonctl, "--config", str(env.conf)] + list(opts) +
                       ["integrate", "--json", "--prompts", QUICK] + list(args) + [model],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == expect, "exit %d\nstdout:%s\nstderr:%s" % (
        r.returncode, r.stdout[-3000:], r.stderr[-6000:])
    report = json.loads(r.stdout)
    jsonschema.validate(report, SCHEMA)
    on_disk = json.load(open(env.base / "reports" / report["job_id"] /
                             "integration_test_report.json"))
    assert on_disk["result"] == report["result"]
    return report, r.stderr


def artifacts(env, report):
    """The names in reports/<job>/artifacts.tar.zst (listed by GNU tar)."""
    path = env.base / "reports" / report["job_id"] / "artifacts.tar.zst"
    assert path.exists()
    out = subprocess.run(["tar", "--zstd", "-tf", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return sorted(out.split())


def partial(env, store="store"):
    d = env.base / store / "partial"
    return sorted(os.listdir(d)) if d.exists() else []


def stored(env, sha=SHA, store="store"):
    return (env.base / store / "sha256" / (sha + ".gguf")).exists()


def refused(report, cls="model", stage="fetch"):
    res = report["result"]
    assert res["class"] == cls and res["stage"] == stage, res
    assert res["decision"] == "unchanged", res
    return res["message"]


def fetch_log(report):
    return " | ".join(m for s in report["stages"] if s["name"] == "fetch"
                      for m in s.get("messages", []))


# ---- URLs ------------------------------------------------------------------------------

def test_a_url_model_is_verified_stored_and_committed(env, site):
    url = site.url("auton-slm.gguf")
    report, log = integrate(env, url)
    assert report["result"]["decision"] == "committed", log
    m = report["model"]
    assert m["source"] == "url" and m["url"] == url and m["path"] == url
    assert m["name"] == "auton-slm" and m["sha256"] == SHA and m["bytes"] == MANIFEST["bytes"]
    assert site.gets("/manifests/auton-slm.json") and site.gets("/auton-slm.gguf")
    assert stored(env) and partial(env) == []
    # the manifest used is kept with the report, and everything goes into the archive
    job_dir = env.base / "reports" / report["job_id"]
    assert json.load(open(job_dir / "model_manifest.json")) == MANIFEST
    names = artifacts(env, report)
    for n in ["integration_test_report.json", "integration_test_report.xml", "build.log",
              "console.log", "model_manifest.json"]:
        assert n in names, names
    assert "kernel/slm/models/model_manifest.json" in env.git(
        "ls-tree", "-r", "--name-only", "main").splitlines()


def test_a_model_already_in_the_store_is_not_downloaded_again(env, site):
    main = env.main()
    before = len(site.gets("/auton-slm.gguf"))
    report, _ = integrate(env, site.url("auton-slm.gguf"), opts=STOP_AT_VERIFY, expect=1)
    refused(report, stage="verify")
    assert len(site.gets("/auton-slm.gguf")) == before
    assert "not downloaded" in fetch_log(report)
    assert env.main() == main


def test_a_download_that_does_not_match_its_manifest_is_refused_and_removed(env, site):
    main = env.main()
    report, _ = integrate(env, site.url("bad/auton-slm.gguf"), expect=1)
    msg = refused(report)
    assert "sha256 mismatch" in msg and "0" * 64 in msg and SHA in msg, msg
    assert partial(env) == [] and not stored(env, "0" * 64)
    assert env.main() == main
    assert "integration_test_report.json" in artifacts(env, report)
    assert "model_manifest.json" not in artifacts(env, report)  # fetch never finished


def test_a_url_model_without_a_manifest_is_refused(env, site):
    report, _ = integrate(env, site.url("bare/auton-slm.gguf"), expect=1)
    msg = refused(report)
    assert "verified against its manifest's sha256; none at" in msg, msg
    assert "bare/manifests/auton-slm.json: HTTP 404" in msg, msg
    assert not site.gets("/bare/auton-slm.gguf")  # no manifest, no download


def test_a_missing_url_model_is_a_model_failure(env, site):
    main = env.main()
    report, _ = integrate(env, site.url("gone/auton-slm.gguf"), expect=1)
    msg = refused(report)
    assert "gone/auton-slm.gguf: HTTP 404" in msg, msg
    assert partial(env) == [] and env.main() == main
    assert len(report["attempts"]) == 0  # a model failure is not retried


def test_an_unreachable_server_is_an_infrastructure_failure(env, site):
    report, _ = integrate(env, "http://127.0.0.1:1/auton-slm.gguf", expect=3)
    res = report["result"]
    assert res["class"] == "infrastructure" and res["stage"] == "fetch", res
    assert len(report["attempts"]) == 1  # retried once ([pipeline] retries)


def test_a_download_cut_half_way_is_resumed_by_the_retry(env, site):
    half = MANIFEST["bytes"] // 2
    site.cut = ("/auton-slm.gguf", half)
    report, _ = integrate(env, site.url("auton-slm.gguf"),
                          opts=STOP_AT_VERIFY + ["-o", "models.store=%s/store-cut" % env.base],
                          expect=1)
    refused(report, stage="verify")
    first = report["attempts"][0]
    assert first["class"] == "infrastructure" and first["stage"] == "fetch", first
    assert ("/auton-slm.gguf", "bytes=%d-" % half) in site.requests
    assert stored(env, store="store-cut") and partial(env, "store-cut") == []


def test_a_part_left_by_an_earlier_job_is_resumed(env, site):
    """A daemon restart or an earlier job left the first megabyte."""
    part = env.base / "store-part" / "partial" / (SHA + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(open(GOOD, "rb").read()[:1 << 20])
    report, _ = integrate(env, site.url("auton-slm.gguf"),
                          opts=STOP_AT_VERIFY + ["-o", "models.store=%s/store-part" % env.base],
                          expect=1)
    refused(report, stage="verify")
    assert ("/auton-slm.gguf", "bytes=%d-" % (1 << 20)) in site.requests
    assert "resuming" in fetch_log(report)
    assert stored(env, store="store-part") and partial(env, "store-part") == []


def test_a_stale_part_is_dropped_and_the_download_starts_over(env, site):
    part = env.base / "store-stale" / "partial" / (SHA + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 4096)
    report, _ = integrate(env, site.url("auton-slm.gguf"),
                          opts=STOP_AT_VERIFY + ["-o", "models.store=%s/store-stale" % env.base],
                          expect=1)
    refused(report, stage="verify")
    assert "starting over" in fetch_log(report)
    assert stored(env, store="store-stale") and partial(env, "store-stale") == []


# ---- bundles ---------------------------------------------------------------------------

def add(tar, name, data=None, **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(data) if data is not None else 0
    for k, v in attrs.items():
        setattr(info, k, v)
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def make_bundle(path, entries):
    """A tar at path (.tar, .tar.gz, or .tar.zst through the zstd program) with
    entries: (name, bytes) or (name, None, TarInfo attributes)."""
    plain = path[:-4] if path.endswith(".zst") else path
    mode = "w:gz" if path.endswith(".gz") else "w"
    with tarfile.open(plain, mode, format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            add(tar, e[0], e[1], **(e[2] if len(e) > 2 else {}))
    if path.endswith(".zst"):
        subprocess.run(["zstd", "-q", "--rm", "-f", plain, "-o", path], check=True)
    return path


MODEL_BYTES = open(GOOD, "rb").read()
MANIFEST_BYTES = manifest_with()


@pytest.mark.parametrize("kind,layout", [
    ("tar", {"auton-slm.gguf": MODEL_BYTES, "auton-slm.json": MANIFEST_BYTES}),
    ("tar.gz", {"model/auton-slm.gguf": MODEL_BYTES,
                "model/manifests/auton-slm.json": MANIFEST_BYTES}),
    ("tar.zst", {"auton-slm.gguf": MODEL_BYTES, "manifests/auton-slm.json": MANIFEST_BYTES}),
])
def test_a_bundle_is_extracted_and_committed(env, site, tmp_path, kind, layout):
    path = make_bundle(str(tmp_path / ("auton-slm." + kind)), list(layout.items()))
    model = path
    if kind == "tar.zst":  # this one comes over HTTP
        site.put("bundles/auton-slm.tar.zst", open(path, "rb").read())
        model = site.url("bundles/auton-slm.tar.zst")
    report, log = integrate(env, model)
    assert report["result"]["decision"] == "committed", log
    m = report["model"]
    gguf = [n for n in layout if n.endswith(".gguf")][0]
    assert m["source"] == "bundle" and m["path"] == model + "!" + gguf, m
    assert m["sha256"] == SHA and m["name"] == "auton-slm"
    assert (m.get("url") == model) == (kind == "tar.zst")
    job_dir = env.base / "reports" / report["job_id"]
    extracted = [str(p.relative_to(job_dir / "bundle")) for p in (job_dir / "bundle").rglob("*")
                 if p.is_file()]
    assert extracted == [n for n in layout if n.endswith(".json")]  # the .gguf is in the store
    assert not list(job_dir.glob("download-*"))
    assert "model_manifest.json" in artifacts(env, report)
    assert env.main() == report["workspace"]["commit"]


HOSTILE = {
    "absolute": ([("{outside}/evil.gguf", MODEL_BYTES)], "an absolute path"),
    "dotdot": ([("../../evil.gguf", MODEL_BYTES), ("auton-slm.json", MANIFEST_BYTES)],
               "'..' path component"),
    "symlink": ([("auton-slm.gguf", None, {"type": tarfile.SYMTYPE, "linkname": GOOD}),
                 ("auton-slm.json", MANIFEST_BYTES)], "a symbolic link"),
    "two models": ([("a.gguf", MODEL_BYTES), ("b.gguf", MODEL_BYTES)], "2 .gguf files"),
    "oversize": ([("auton-slm.gguf", MODEL_BYTES), ("auton-slm.json", MANIFEST_BYTES)],
                 "over the limit"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_bundle_is_refused_and_writes_nothing(env, tmp_path, case):
    main = env.main()
    outside = tmp_path / "outside"
    outside.mkdir()
    entries, why = HOSTILE[case]
    entries = [(e[0].format(outside=outside),) + tuple(e[1:]) for e in entries]
    path = make_bundle(str(tmp_path / "hostile.tar"), entries)
    opts = ["-o", "models.max_model_mb=1"] if case == "oversize" else []
    report, _ = integrate(env, path, opts=opts, expect=1)
    msg = refused(report)
    assert msg.startswith("bundle hostile.tar") and why in msg, msg
    job_dir = env.base / "reports" / report["job_id"]
    assert not (job_dir / "bundle").exists() or not any((job_dir / "bundle").iterdir())
    assert list(outside.iterdir()) == []
    assert not list(env.base.rglob("evil.gguf"))
    assert env.main() == main
    assert "integration_test_report.json" in artifacts(env, report)
