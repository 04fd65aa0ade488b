"""autonctl integrate, end to end: real git workspaces (libgit2, checked with
the git CLI), real kernel builds, real QEMU, the trained model and forged
bad ones. Thresholds are pinned through a test configuration (time limits
multiplied far beyond any noise) so that timing never flips a verdict; the
threshold logic itself is unit-tested (tests/unit/test_validate.c)."""
import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest

from qemu_util import PROMPT, Qemu, slm_query

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOOD = os.path.join(ROOT, "models", "exports", "auton-slm.gguf")
QUICK = os.path.join(ROOT, "tests", "prompts", "quick.json")
SCHEMA = json.load(open(os.path.join(ROOT, "schemas", "report.schema.json")))


class Env:
    """A private integrator installation: config, workspace root, model store,
    reports, and a models directory with copies of the models under test."""

    def __init__(self, base, autonctl, accel):
        self.base = base
        self.autonctl = autonctl
        self.models = base / "models"
        (self.models / "manifests").mkdir(parents=True)
        self.conf = base / "auton.conf"
        self.conf.write_text(f"""
[workspace]
root = {base}/kernels
worktrees = {base}/worktrees
kernel_tree = {ROOT}/kernel-tree
[models]
store = {base}/store
roots = {self.models}
[pipeline]
prompts = {ROOT}/tests/prompts/default.json
reports = {base}/reports
fallback = off
[qemu]
accel = {accel}
[validate]
time_multiplier_tcg = 1000
time_multiplier_kvm = 100
[regress]
boots = 1
boot_floor_ms = 600000
[daemon]
; a socket no autond listens on: these tests run the job in this process even
; when a developer's autond is up (autonctl says so on stderr)
socket = {base}/no-autond.sock
""")
        self.ws = base / "kernels" / "x86_64"

    def add_model(self, path, name=None):
        """Copies a model and its manifest into the models directory."""
        src_dir, fname = os.path.split(path)
        stem = fname[:-5]
        name = name or stem
        shutil.copy(path, self.models / (name + ".gguf"))
        man = os.path.join(src_dir, "manifests", stem + ".json")
        if os.path.exists(man):
            m = json.load(open(man))
            m["name"] = name
            (self.models / "manifests" / (name + ".json")).write_text(json.dumps(m))
        return str(self.models / (name + ".gguf"))

    def run(self, *args, timeout=900):
        r = subprocess.run([self.autonctl, "--config", str(self.conf)] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        return r

    def integrate(self, model, *args, expect=0):
        r = self.run("integrate", "--json", *args, model)
        assert r.returncode == expect, "exit %d\nstdout:%s\nstderr:%s" % (
            r.returncode, r.stdout[-3000:], r.stderr[-6000:])
        report = json.loads(r.stdout)
        jsonschema.validate(report, SCHEMA)
        # the file on disk is the same report, and valid too
        job = report["job_id"]
        on_disk = json.load(open(self.base / "reports" / job / "integration_test_report.json"))
        jsonschema.validate(on_disk, SCHEMA)
        assert on_disk["result"] == report["result"]
        assert (self.base / "reports" / job / "integration_test_report.xml").exists()
        return report, r.stderr

    def git(self, *args):
        return subprocess.run(["git", "-C", str(self.ws)] + list(args), capture_output=True,
                              text=True, check=True).stdout.strip()

    def main(self):
        return self.git("rev-parse", "main")

    def branches(self):
        return self.git("branch", "--list", "integration/*")

    def worktrees(self):
        return [l for l in self.git("worktree", "list", "--porcelain").splitlines()
                if l.startswith("worktree ")]


@pytest.fixture
def env(tmp_path, bin_path, accel):
    return Env(tmp_path, bin_path("autonctl"), accel)


@pytest.fixture(scope="module")
def random_model(tmp_path_factory, bin_path):
    """A model with random weights and the trained model's tokenizer size: it
    runs, and says nothing right."""
    out = tmp_path_factory.mktemp("random")
    subprocess.run([bin_path("slm-forge"), "tiny_10M", "-o", str(out), "--quiet",
                    "--name", "random-slm", "--seed", "7"], check=True, timeout=300)
    return str(out / "random-slm.gguf")


def assert_clean(env):
    """No job left anything behind: no integration branch, no extra worktree."""
    assert env.branches() == ""
    assert len(env.worktrees()) == 1
    assert not any(os.scandir(env.base / "worktrees")) if (env.base / "worktrees").exists() else True


def boot_main(env, accel, prompt=None):
    """Builds the workspace's main as it is checked out and boots it; returns
    the answer to prompt (or the boot log)."""
    r = subprocess.run(["make", "-C", str(env.ws), "-j2"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    with Qemu.boot(env.ws / "kernel.elf", accel, deadline_s=300) as vm:
        vm.expect(re.escape(PROMPT), 120)
        if prompt is None:
            return vm.output
        answer, stats = slm_query(vm, prompt, n=16, timeout=240)
        return answer, stats.group(6)


def stage(report, name):
    return [s for s in report["stages"] if s["name"] == name][-1]


def test_good_model_is_committed_and_main_boots_it(env, accel):
    model = env.add_model(GOOD)
    report, log = env.integrate(model)
    assert report["result"]["decision"] == "committed", log
    assert report["result"]["passed"] is True
    assert report["accelerator"]["name"] == accel
    assert report["model"]["sha256"] == json.load(
        open(os.path.join(ROOT, "models/exports/manifests/auton-slm.json")))["sha256"]
    assert [s["name"] for s in report["stages"]] == [
        "fetch", "verify", "stage", "patch", "build", "check-build", "boot", "infer",
        "validate", "regress", "report", "commit", "notify"]
    assert all(s["status"] == "passed" for s in report["stages"])
    assert all(c["pass"] for c in report["checks"])
    assert "82574L" in report["prompts"][0]["output"]
    # main moved to the job's commit, tagged, with the manifest, patched Makefile, report
    main = env.main()
    assert report["workspace"]["main_after"] == main == report["workspace"]["commit"]
    assert report["workspace"]["main_before"] != main
    tag = report["workspace"]["tag"]
    assert tag.startswith("integrated/auton-slm-") and env.git("rev-parse", tag + "^{}") == main
    msg = env.git("log", "-1", "--format=%B", "main")
    assert "auton-slm" in msg and report["model"]["sha256"] in msg
    files = env.git("ls-tree", "-r", "--name-only", "main").splitlines()
    assert "kernel/slm/models/model_manifest.json" in files
    assert "integration_test_report.json" in files
    assert "kernel/slm/models/auton-slm.gguf" not in files  # the store keeps it
    mk = env.git("show", "main:Makefile")
    assert "\nSLM_ENABLED := 1\n" in mk
    assert os.path.exists(env.base / "store" / "sha256" / (report["model"]["sha256"] + ".gguf"))
    assert env.git("status", "--porcelain") == ""
    assert_clean(env)
    # main, as checked out, builds and boots with the model
    answer, backend = boot_main(env, accel, "PCI device 8086:10d3 is")
    assert "82574L" in answer and backend == "neural"
    # the report subcommand reads it back
    r = env.run("report", report["job_id"])
    assert r.returncode == 0 and "decision: committed" in r.stdout, r.stdout + r.stderr


def test_random_model_after_a_good_one_rolls_main_back_to_the_rule_engine(env, accel,
                                                                            random_model):
    env.integrate(env.add_model(GOOD))
    good_main = env.main()
    report, log = env.integrate(env.add_model(random_model), "--prompts", QUICK, expect=1)
    res = report["result"]
    assert res["class"] == "inference" and res["stage"] == "validate", res
    assert res["decision"] == "rolled_back"
    assert ".coherent" in res["message"] or ".accurate" in res["message"], res
    assert "tokenizer" in res["recommendation"] or "train" in res["recommendation"]
    failed = [c for c in report["checks"] if not c["pass"]]
    assert any(c["name"].endswith(".accurate") for c in failed)
    # main got one rollback commit on top of the good one
    main = env.main()
    assert main != good_main and env.git("rev-parse", "main^") == good_main
    assert env.git("log", "-1", "--format=%s", "main") == "Roll back to the rule engine"
    files = env.git("ls-tree", "-r", "--name-only", "main").splitlines()
    assert "kernel/slm/models/model_manifest.json" not in files
    assert "\nSLM_ENABLED := 0\n" in env.git("show", "main:Makefile")
    assert not os.path.exists(env.ws / "kernel/slm/models/auton-slm.gguf")
    assert [s["name"] for s in report["stages"]][-3:] == ["report", "rollback", "notify"]
    assert_clean(env)
    # that main builds and boots, on the rule engine
    out = boot_main(env, accel)
    assert "rule engine only" in out or "No embedded model" in out


def test_rollback_previous_keeps_the_good_model(env, accel, random_model):
    env.integrate(env.add_model(GOOD))
    good_main = env.main()
    report, _ = env.integrate(env.add_model(random_model), "--prompts", QUICK,
                              "--rollback", "previous", expect=1)
    assert report["result"]["decision"] == "unchanged"
    assert report["options"]["rollback"] == "previous"
    assert env.main() == good_main
    assert os.path.exists(env.ws / "kernel/slm/models/auton-slm.gguf")
    assert_clean(env)


@pytest.mark.parametrize("accel", ["tcg"])
def test_corrupted_gguf_is_refused_at_verify_and_the_workspace_is_untouched(env, forge):
    env.integrate(env.add_model(GOOD))
    before = env.main()
    bad = forge("tiny_10M", "--corrupt", "out-of-file", "--name", "broken")
    report, _ = env.integrate(env.add_model(bad), expect=1)
    res = report["result"]
    assert res["class"] == "model" and res["stage"] == "verify", res
    assert "error[" in res["message"], res["message"]  # the parser's own message
    assert res["decision"] == "unchanged"
    assert [s["name"] for s in report["stages"]] == [
        "fetch", "verify", "report", "rollback", "notify"]
    assert env.main() == before
    assert_clean(env)


@pytest.mark.parametrize("accel", ["tcg"])
@pytest.mark.parametrize("fault,cls,stage_name", [
    ("build", "build", "build"),
    ("panic", "boot", "boot"),
    ("hang", "boot", "boot"),
])
def test_injected_failures_end_in_their_class_and_leave_main_alone(env, fault, cls, stage_name):
    env.integrate(env.add_model(GOOD), "--prompts", QUICK)
    before = env.main()
    overrides = {
        "build": ["-o", "build.make_args=CC=false"],
        "panic": ["-o", "qemu.append=auton.inject=panic"],
        "hang": ["-o", "qemu.append=auton.inject=hang", "-o", "deadlines.boot_s=5",
                 "-o", "validate.time_multiplier_tcg=1"],
    }[fault]
    r = subprocess.run([env.autonctl, "--config", str(env.conf)] + overrides +
                       ["integrate", "--json", "--rollback", "previous", "--prompts", QUICK,
                        env.add_model(GOOD, "again")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr[-4000:]
    report = json.loads(r.stdout)
    jsonschema.validate(report, SCHEMA)
    res = report["result"]
    assert res["class"] == cls and res["stage"] == stage_name, res
    if fault == "panic":
        assert "KERNEL PANIC" in report["boot"]["panic_text"]
        assert "injected boot fault" in res["message"]
    if fault == "hang":
        assert "no prompt within" in res["message"]
    if fault == "build":
        assert "build.log" in res["message"]
    assert env.main() == before
    assert_clean(env)


def comparable(report):
    """The fields of a report that must not depend on the channel."""
    return {
        "keys": sorted(report.keys()),
        "stages": [(s["name"], s["status"]) for s in report["stages"]],
        "checks": [(c["name"], c["pass"]) for c in report["checks"]],
        "prompts": [(p["prompt"], p["output"], p["tokens"], p["backend"], sorted(p.keys()))
                    for p in report["prompts"]],
        "boot": sorted(report["boot"].keys()),
        "regress": sorted(report["regress"].keys()),
        "decision": report["result"]["decision"],
    }


@pytest.mark.parametrize("accel", ["tcg"])
def test_bridge_and_console_give_the_same_report(env):
    model = env.add_model(GOOD)
    via_bridge, _ = env.integrate(model, "--bridge")
    via_console, _ = env.integrate(model, "--console")
    assert via_bridge["channel"] == "bridge" and via_console["channel"] == "console"
    assert comparable(via_bridge) == comparable(via_console)


def test_usage_errors(env):
    r = env.run("integrate", "--arch", "aarch64", "x.gguf")
    assert r.returncode == 2 and "not supported yet" in r.stderr
    r = env.run("integrate")
    assert r.returncode == 2
    r = env.run("integrate", "--help")
    assert r.returncode == 0 and "usage: autonctl integrate" in r.stdout
    r = env.run("frobnicate")
    assert r.returncode == 2
    r = subprocess.run([env.autonctl, "-o", "validate.boot_max_s=ten", "report", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "validate.boot_max_s" in r.stderr


def test_missing_model_is_a_model_failure(env):
    report, _ = env.integrate("no-such-model", expect=1)
    assert report["result"]["class"] == "model"
    assert "no such file" in report["result"]["message"]


@pytest.mark.parametrize("accel", ["tcg"])
def test_fallback_to_a_smaller_model_after_an_inference_failure(env, random_model):
    """fallback = auto: the random-weight 10M model fails validation, the job
    tries the smaller trained model beside it, which integrates."""
    env.add_model(GOOD)
    bad = env.add_model(random_model)
    r = subprocess.run([env.autonctl, "--config", str(env.conf), "-o", "pipeline.fallback=auto",
                        "integrate", "--json", "--prompts", QUICK, bad],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-4000:]
    report = json.loads(r.stdout)
    jsonschema.validate(report, SCHEMA)
    assert report["result"]["decision"] == "committed"
    assert len(report["attempts"]) == 1
    first = report["attempts"][0]
    assert first["model"].endswith("random-slm.gguf") and first["class"] == "inference"
    assert report["model"]["name"] == "auton-slm"
    assert [s["attempt"] for s in report["stages"]].count(2) >= 10
    assert any("fallback" in n for n in report["notes"])
    assert_clean(env)
