"""autonctl tool, end to end: the integration spec's agent tools
(integrate-slm-model, build-kernel, test-kernel-boot, test-slm-inference,
is-gibberish) through `autonctl tool ... --json` on copies of kernel-tree/,
with real builds, real QEMU and the bundled trained model. The spec's flow
(Step 1 and its Integration Test Suite) runs once per module on one workspace;
broken workspaces (no Makefile, no model, a build error, no kernel, a kernel
that panics or hangs) must each give success false with the reason, quickly.
Every result and every argument object is validated against its schema
(schemas/tools/<tool>.json)."""
import hashlib
import json
import os
import shutil
import subprocess
import time
from types import SimpleNamespace

import jsonschema
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNEL_TREE = os.path.join(ROOT, "kernel-tree")
MODEL = os.path.join(ROOT, "models", "exports", "auton-slm.gguf")
MANIFEST = os.path.join(ROOT, "models", "exports", "manifests", "auton-slm.json")
TOOLS = ["integrate-slm-model", "build-kernel", "test-kernel-boot", "test-slm-inference",
         "is-gibberish"]
SCHEMAS = {t: json.load(open(os.path.join(ROOT, "schemas", "tools", t + ".json"))) for t in TOOLS}
# The spec's Integration Test Suite, Test 3.
SPEC_PROMPTS = ["PCI device 8086:10d3 is", "Install nginx on Debian", "List all PCI devices:"]
# The spec's Test 2.
SLM_BOOT_LINES = ["SLM: Loading embedded neural model", "SLM: Neural backend ready",
                  "SLM: Runtime initialized successfully"]
# The positional arguments of `autonctl tool NAME`, in order (cmd_tool.c).
POSITIONAL = {
    "integrate-slm-model": ["model_path", "kernel_workspace", "manifest_path"],
    "build-kernel": ["workspace_path", "arch"],
    "test-kernel-boot": ["workspace_path", "arch"],
    "test-slm-inference": ["workspace_path", "arch"],
    "is-gibberish": ["text"],
}
QUICK_S = 60  # a failure that the tool must see at once (no build, no boot deadline)


def args_schema(tool):
    return dict(SCHEMAS[tool], **{"$ref": "#/$defs/args"})


def copy_tree(dst):
    """kernel-tree/ without its build outputs (and without a staged model)."""
    def ignore(d, names):
        rel = os.path.relpath(d, KERNEL_TREE)
        skip = {".": {"build", "kernel.elf"}, "kernel/slm": {"model_data.o", "models"}}
        return skip.get(rel, set()) & set(names)
    shutil.copytree(KERNEL_TREE, dst, ignore=ignore)
    return str(dst)


class Tools:
    """autonctl with a private configuration: reports under base, the
    accelerator given, deadlines that a hang cannot stretch to an hour."""

    def __init__(self, base, autonctl, accel):
        self.base = base
        self.autonctl = autonctl
        self.conf = base / "auton.conf"
        self.conf.write_text(f"""
[models]
roots = {ROOT}/models/exports
store = {base}/store
[pipeline]
reports = {base}/reports
[deadlines]
boot_s = 120
infer_s = 240
[qemu]
accel = {accel}
[validate]
time_multiplier_tcg = 1
time_multiplier_kvm = 1
[daemon]
socket = {base}/no-autond.sock
""")

    def cli(self, tool, args, opts=(), extra=(), timeout=300):
        argv = [self.autonctl, "--config", str(self.conf)]
        for o in opts:
            argv += ["-o", o]
        argv += ["tool", "--json", "-q", tool]
        argv += [str(args[k]) for k in POSITIONAL[tool] if k in args]
        for p in args.get("test_prompts", []):
            argv += ["--prompt", p]
        t0 = time.monotonic()
        r = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=timeout)
        return r, time.monotonic() - t0

    def run(self, tool, opts=(), **args):
        """Runs a tool; returns (result, seconds). The arguments and the result
        are checked against the tool's schema, the exit status against success,
        and the result file in the report directory against the result."""
        args = {k: str(v) if k != "test_prompts" else v for k, v in args.items()}
        jsonschema.validate(args, args_schema(tool))
        r, secs = self.cli(tool, args, opts)
        assert r.returncode in (0, 1), "exit %d\nstdout:%s\nstderr:%s" % (
            r.returncode, r.stdout[-3000:], r.stderr[-3000:])
        res = json.loads(r.stdout)
        jsonschema.validate(res, SCHEMAS[tool])
        assert res["tool"] == tool
        assert res["success"] == (r.returncode == 0), res
        if tool != "is-gibberish":
            with open(os.path.join(res["report_dir"], "tool_result.json")) as f:
                assert json.load(f) == res
        return res, secs


def failed(res, cls, stage, secs, limit=QUICK_S):
    assert res["success"] is False, res
    assert res["class"] == cls, res
    assert res["stage"] == stage, res
    assert res["error"], res
    assert secs < limit, "took %.1f s" % secs


@pytest.fixture(scope="module")
def flow(tmp_path_factory, bin_path):
    """The spec's flow on one workspace: build-kernel on the plain tree (the
    rule-engine kernel: the size baseline, kept as a second workspace), then
    integrate-slm-model and build-kernel again."""
    base = tmp_path_factory.mktemp("tools")
    autonctl = bin_path("autonctl")
    tools = Tools(base, autonctl, "tcg")
    ws = copy_tree(base / "ws")
    rule_build, _ = tools.run("build-kernel", workspace_path=ws)
    ws_rule = str(base / "ws-rule")
    shutil.copytree(ws, ws_rule, symlinks=True)
    integrate, secs = tools.run("integrate-slm-model", model_path=MODEL, kernel_workspace=ws,
                                manifest_path=MANIFEST)
    build, _ = tools.run("build-kernel", workspace_path=ws)
    return SimpleNamespace(base=base, autonctl=autonctl, ws=ws, ws_rule=ws_rule,
                           rule_build=rule_build, integrate=integrate, integrate_s=secs,
                           build=build)


@pytest.fixture
def tools(flow, accel):
    """The tools with the accelerator under test (TCG, and KVM where usable)."""
    d = flow.base / ("conf-" + accel)
    d.mkdir(exist_ok=True)
    return Tools(d, flow.autonctl, accel)


@pytest.fixture
def broken(tmp_path):
    """A fresh copy of the tree to break."""
    return copy_tree(tmp_path / "ws")


# ---- the spec's flow ---------------------------------------------------------------------

def test_build_without_a_model_succeeds_with_nothing_embedded(flow):
    r = flow.rule_build
    assert r["success"] is True, r
    assert r["slm_enabled"] is False
    assert r["model_bytes"] == 0
    assert r["symbols"] == {"slm_model_start": False, "slm_model_end": False,
                            "slm_model_size": False}
    assert r["kernel"] == os.path.join(flow.ws, "kernel.elf")
    assert r["kernel_bytes"] > 0 and r["kernel_bytes"] == r["rule_kernel_bytes"]
    assert "make" in r["logs"]


def test_integrate_copies_model_and_manifest_and_patches_the_makefile(flow):
    r = flow.integrate
    assert r["success"] is True, r
    models = os.path.join(flow.ws, "kernel", "slm", "models")
    assert r["model_dest"] == os.path.join(models, "auton-slm.gguf")
    assert r["manifest_dest"] == os.path.join(models, "model_manifest.json")
    with open(MODEL, "rb") as f:
        data = f.read()
    with open(r["model_dest"], "rb") as f:
        assert f.read() == data
    with open(r["manifest_dest"]) as f, open(MANIFEST) as g:
        assert f.read() == g.read()
    m = r["model"]
    assert m["name"] == "auton-slm"
    assert m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["bytes"] == len(data)
    assert m["params"] > 0 and m["quant"]
    assert r["makefile_patched"] is True
    with open(os.path.join(flow.ws, "Makefile")) as f:
        assert "SLM_ENABLED := 1" in f.read()
    for stage in ("fetch", "verify", "stage", "patch"):
        assert stage + ": " in r["logs"]
    assert flow.integrate_s < QUICK_S


def test_build_embeds_the_model_spec_test_1(flow):
    r = flow.build
    assert r["success"] is True, r
    assert r["slm_enabled"] is True
    assert r["symbols"] == {"slm_model_start": True, "slm_model_end": True,
                            "slm_model_size": True}
    model = os.path.getsize(MODEL)
    assert r["model_bytes"] == model
    kernel = os.path.getsize(os.path.join(flow.ws, "kernel.elf"))
    assert r["kernel_bytes"] == kernel
    # the spec's check: base kernel + model, within 5 %; the base is the same
    # tree built without the model
    expected = flow.rule_build["kernel_bytes"] + model
    assert abs(kernel - expected) / expected < 0.05
    assert abs((kernel - flow.rule_build["kernel_bytes"]) - model) / model < 0.05
    symbols = subprocess.check_output(["nm", os.path.join(flow.ws, "kernel.elf")]).decode()
    assert "slm_model_start" in symbols


def test_boot_initializes_the_slm_spec_test_2(flow, tools, accel):
    r, _ = tools.run("test-kernel-boot", workspace_path=flow.ws, arch="x86_64")
    assert r["success"] is True, r
    for line in SLM_BOOT_LINES:
        assert line in r["logs"], r["logs"]
    assert r["slm_ready"] is True and r["neural"] is True
    assert r["panic"] is False and r["panic_text"] is None
    assert r["accel"] == accel
    assert r["boot_ms"] > 0


def test_inference_answers_the_spec_prompts_spec_test_3(flow, tools, accel):
    r, _ = tools.run("test-slm-inference", workspace_path=flow.ws, arch="x86_64",
                     test_prompts=SPEC_PROMPTS)
    assert r["success"] is True, r
    assert len(r["outputs"]) == len(SPEC_PROMPTS)
    assert [x["prompt"] for x in r["results"]] == SPEC_PROMPTS
    assert [x["output"] for x in r["results"]] == r["outputs"]
    for prompt, output, x in zip(SPEC_PROMPTS, r["outputs"], r["results"]):
        print("Prompt: %s\nOutput: %s (%d chars)\n" % (prompt, output, len(output)))
        assert x["backend"] == "neural"
        assert x["chars"] == len(output)
        assert not x["gibberish"], x
        # the result's verdict is the is-gibberish tool's
        g, _ = tools.run("is-gibberish", text=output)
        assert g["gibberish"] is False and g["text"] == output
    for output in r["outputs"][:2]:
        assert len(output) > 10, r["outputs"]
    assert r["accel"] == accel
    assert "SLM: Neural backend ready" in r["logs"]


def test_rule_engine_kernel_boots_and_answers_from_the_rule_engine(flow, tools):
    r, _ = tools.run("test-kernel-boot", workspace_path=flow.ws_rule)
    assert r["success"] is True, r
    assert r["slm_ready"] is True and r["neural"] is False
    assert "SLM: Neural backend ready" not in r["logs"]
    r, _ = tools.run("test-slm-inference", workspace_path=flow.ws_rule,
                     test_prompts=SPEC_PROMPTS[:2])
    assert r["success"] is True, r
    assert [x["backend"] for x in r["results"]] == ["rule", "rule"]
    assert all(len(o) > 10 for o in r["outputs"]), r["outputs"]


def test_inference_prompts_from_a_suite_file(flow, tmp_path):
    suite = tmp_path / "suite.json"
    suite.write_text(json.dumps({"name": "t", "max_tokens": 8,
                                 "prompts": [{"prompt": SPEC_PROMPTS[1]}]}))
    t = Tools(tmp_path, flow.autonctl, "tcg")
    r, _ = t.cli("test-slm-inference", {"workspace_path": flow.ws}, extra=["--prompts", str(suite)])
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    jsonschema.validate(res, SCHEMAS["test-slm-inference"])
    assert len(res["outputs"]) == 1
    assert 0 < res["results"][0]["tokens"] <= 8


def test_is_gibberish_tells_text_from_noise(flow):
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, _ = t.run("is-gibberish", text="sudo apt-get install nginx")
    assert r["success"] is True and r["gibberish"] is False and r["reason"] == "coherent"
    r, _ = t.run("is-gibberish", text="xq#z@@k zzkq vvvvvvvvvvvvvvvvvvvvvv qqqq#@@@")
    assert r["success"] is True and r["gibberish"] is True and r["reason"] != "coherent"
    r, _ = t.run("is-gibberish", text="")
    assert r["gibberish"] is True and "empty" in r["reason"]


# ---- broken workspaces: success false with the reason, quickly ------------------------

def test_integrate_without_the_model_fails_in_fetch(flow, broken):
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, secs = t.run("integrate-slm-model", model_path=os.path.join(broken, "nope.gguf"),
                    kernel_workspace=broken)
    failed(r, "model", "fetch", secs)
    assert "no such file" in r["error"]
    assert r["model"] is None and r["model_dest"] is None and r["makefile_patched"] is False
    assert not os.path.exists(os.path.join(broken, "kernel", "slm", "models"))


def test_integrate_without_a_makefile_fails_in_patch(flow, broken):
    os.unlink(os.path.join(broken, "Makefile"))
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, secs = t.run("integrate-slm-model", model_path=MODEL, kernel_workspace=broken)
    failed(r, "build", "patch", secs)
    assert "Makefile" in r["error"]
    assert r["makefile_patched"] is False


def test_build_without_a_makefile_fails(flow, broken):
    os.unlink(os.path.join(broken, "Makefile"))
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, secs = t.run("build-kernel", workspace_path=broken)
    failed(r, "build", "build", secs)
    assert "no makefile found" in r["error"]
    assert r["kernel"] is None and r["kernel_bytes"] == 0


def test_build_error_fails_with_the_compiler_message(flow, broken):
    with open(os.path.join(broken, "kernel", "main.c"), "a") as f:
        f.write("\nthis is not C;\n")
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, secs = t.run("build-kernel", workspace_path=broken)
    failed(r, "build", "build", secs, limit=300)
    assert "kernel/main.c" in r["error"] and "error" in r["error"]
    assert "error:" in r["logs"]
    assert r["kernel"] is None


def test_build_with_the_model_enabled_but_missing_fails(flow, tmp_path):
    ws = str(tmp_path / "ws")
    shutil.copytree(flow.ws_rule, ws, symlinks=True)  # built: make has little to redo
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, _ = t.run("integrate-slm-model", model_path=MODEL, kernel_workspace=ws)
    assert r["success"] is True, r
    os.unlink(r["model_dest"])
    r, secs = t.run("build-kernel", workspace_path=ws)
    failed(r, "build", "build", secs)
    assert "model" in r["error"]


def test_boot_and_inference_before_a_build_fail(flow, broken):
    t = Tools(flow.base, flow.autonctl, "tcg")
    r, secs = t.run("test-kernel-boot", workspace_path=broken)
    failed(r, "boot", "boot", secs)
    assert "no kernel to boot" in r["error"]
    r, secs = t.run("test-slm-inference", workspace_path=broken, test_prompts=["hello"])
    failed(r, "boot", "boot", secs)
    assert r["outputs"] == [] and r["results"] == []


def test_kernel_panic_fails_the_boot(flow, tools):
    r, secs = tools.run("test-kernel-boot", opts=["qemu.append=auton.inject=panic"],
                        workspace_path=flow.ws)
    failed(r, "boot", "boot", secs)
    assert r["panic"] is True
    assert "injected boot fault" in r["panic_text"]
    assert "KERNEL PANIC" in r["logs"]
    r, secs = tools.run("test-slm-inference", opts=["qemu.append=auton.inject=panic"],
                        workspace_path=flow.ws, test_prompts=SPEC_PROMPTS)
    failed(r, "boot", "boot", secs)
    assert r["outputs"] == []


def test_kernel_hang_ends_at_the_boot_deadline(flow, tools):
    opts = ["qemu.append=auton.inject=hang", "deadlines.boot_s=3"]
    r, secs = tools.run("test-kernel-boot", opts=opts, workspace_path=flow.ws)
    failed(r, "boot", "boot", secs, limit=30)
    assert secs >= 3
    assert "no prompt within 3000 ms" in r["error"]
    assert "hanging as asked" in r["logs"]
    assert r["panic"] is False


def test_bad_arguments_are_usage_errors(flow, tmp_path):
    t = Tools(tmp_path, flow.autonctl, "tcg")
    cases = [
        ("build-kernel", {"workspace_path": flow.ws, "arch": "aarch64"}, "not supported"),
        ("build-kernel", {"workspace_path": str(tmp_path / "nowhere")}, "No such file"),
        ("test-slm-inference", {"workspace_path": flow.ws}, "--prompt"),
        ("test-slm-inference", {"workspace_path": flow.ws, "test_prompts": [""]}, "test_prompts"),
        ("is-gibberish", {}, "argument"),
    ]
    for tool, args, why in cases:
        r, _ = t.cli(tool, args)
        assert r.returncode == 2, (tool, args, r.stdout, r.stderr)
        assert why in r.stderr, r.stderr
        assert r.stdout == ""
    # the schemas refuse what the tools refuse
    for tool, args in [("build-kernel", {"workspace_path": "w", "arch": "aarch64"}),
                       ("build-kernel", {"workspace_path": "w", "jobs": 2}),
                       ("test-slm-inference", {"workspace_path": "w", "test_prompts": []}),
                       ("integrate-slm-model", {"model_path": "m.gguf"})]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(args, args_schema(tool))
