"""The trained AUTON SLM (make model): the committed export passes the engine's checker and
answers the issue's three prompts exactly with greedy decoding; its manifest describes it;
corpus.py is deterministic, and the committed evaluation list is the one it draws from the
training facts. No torch needed (the model tests skip when the export is absent).
"""
import hashlib
import json
import os
import subprocess
import sys

import jsonschema
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "exports", "auton-slm.gguf")
MANIFEST = os.path.join(ROOT, "models", "exports", "manifests", "auton-slm.json")
EVAL_TSV = os.path.join(ROOT, "models", "eval", "eval.tsv")
CORPUS_PY = os.path.join(ROOT, "tools", "train", "corpus.py")

SPEC = [
    ("PCI device 8086:10d3 is", "an Intel 82574L Gigabit Network Connection."),
    ("Install nginx on Debian", "sudo apt-get install nginx"),
    ("List all PCI devices:", "lspci -nn"),
]

needs_model = pytest.mark.skipif(not os.path.exists(MODEL),
                                 reason="models/exports/auton-slm.gguf absent (make model)")


def greedy(bin_path, model, prompt):
    r = subprocess.run([bin_path("slm-run"), model, "-p", prompt, "--temp", "0", "-n", "64",
                        "--stop-newline", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@needs_model
def test_committed_model_passes_the_engines_check(bin_path):
    r = subprocess.run([bin_path("slm-run"), MODEL, "--check", "--json"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.loads(r.stdout)
    assert info["ok"] and info["quant"] == "Q8_0" and info["tied_output"]
    assert info["vocab"] == 4096 and info["params"] < 5_000_000
    assert os.path.getsize(MODEL) < 8 << 20  # a few MB


@needs_model
@pytest.mark.parametrize("prompt,answer", SPEC)
def test_committed_model_answers_the_spec_prompts(bin_path, prompt, answer):
    out = greedy(bin_path, MODEL, prompt)
    assert out["output"].strip() == answer, out
    assert out["stop"] == "eos", out  # the answer, then end of sequence


@needs_model
def test_committed_manifest_describes_the_model(root):
    with open(os.path.join(root, "schemas", "manifest.schema.json")) as f:
        schema = json.load(f)
    with open(MANIFEST) as f:
        m = json.load(f)
    jsonschema.Draft202012Validator(schema).validate(m)
    with open(MODEL, "rb") as f:
        data = f.read()
    assert m["bytes"] == len(data) and m["sha256"] == hashlib.sha256(data).hexdigest()
    assert m["quantization"] == "Q8_0" and "weights_sha256" in m


@pytest.mark.parametrize("name", ["auton-slm.gguf", "auton-slm-q4_0.gguf"])
def test_committed_models_score_on_the_eval_list(bin_path, tmp_path, name):
    model = os.path.join(ROOT, "models", "exports", name)
    if not os.path.exists(model):
        pytest.skip("%s absent (make model)" % name)
    out = tmp_path / "result.json"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train", "eval.py"), model,
                        "--tsv", EVAL_TSV, "--min", "0.95", "--json", str(out),
                        "--slm-run", bin_path("slm-run")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["total"] >= 253 and res["accuracy"] >= 0.95, res["misses"][:5]
    assert set(res["categories"]) == {"pci", "package", "command"}


def run_corpus(tmp):
    out, ev = os.path.join(tmp, "out"), os.path.join(tmp, "eval.tsv")
    subprocess.run([sys.executable, CORPUS_PY, "--out-dir", out, "--eval", ev, "-q"],
                   check=True, timeout=60)
    files = {}
    for name in ("corpus.txt", "facts.tsv"):
        with open(os.path.join(out, name), "rb") as f:
            files[name] = f.read()
    with open(ev, "rb") as f:
        files["eval.tsv"] = f.read()
    return files


def test_corpus_is_deterministic_and_covers_the_eval_list(tmp_path):
    a = run_corpus(str(tmp_path / "a"))
    b = run_corpus(str(tmp_path / "b"))
    assert a == b
    facts = {}
    for line in a["facts.tsv"].decode().splitlines():
        prompt, answer, cat = line.split("\t")
        assert prompt not in facts
        facts[prompt] = (answer, cat)
    # corpus.txt: the same facts, one "prompt answer" line each, in the same order
    assert a["corpus.txt"].decode().splitlines() == [p + " " + v[0] for p, v in facts.items()]
    evals = [l.split("\t") for l in a["eval.tsv"].decode().splitlines()]
    cats = {}
    for prompt, answer in evals:
        assert facts.get(prompt, (None,))[0] == answer, prompt  # a training fact, same answer
        cats[facts[prompt][1]] = cats.get(facts[prompt][1], 0) + 1
    assert cats["pci"] >= 200 and cats["package"] + cats["command"] >= 50
    for prompt, answer in SPEC:
        assert [prompt, answer] in evals
    assert ("List all PCI devices:" in facts and
            facts["List all PCI devices:"][0] == "lspci -nn")
    # the committed list is the one corpus.py draws
    with open(EVAL_TSV, "rb") as f:
        assert f.read() == a["eval.tsv"], "models/eval/eval.tsv is stale: run tools/train/corpus.py"


def test_slm_tok_gives_the_engines_prompt_tokens(bin_path, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("PCI device 8086:10d3 is an Intel 82574L Gigabit Network Connection.\n"
                      "Install nginx on Debian: sudo apt-get install nginx\n")
    model = tmp_path / "m.gguf"
    subprocess.run([bin_path("slm-forge"), "tiny_10M", "--dim", "64", "--layers", "1",
                    "--heads", "2", "--kv-heads", "1", "--ffn", "64", "--vocab", "400", "--ctx",
                    "64", "--corpus", corpus, "-o", model, "-q"], check=True, timeout=60)
    lines = ["PCI device 8086:10d3 is", "Install nginx on Debian:", "", "ünïcode ✓ bytes",
             "Install nginx on Debian: sudo apt-get install nginx"]
    inp = tmp_path / "lines.txt"
    inp.write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    r = subprocess.run([bin_path("slm-tok"), model, inp], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ids = [[int(x) for x in l.split()] for l in r.stdout.split("\n")[:-1]]
    assert len(ids) == len(lines) and ids[2] == []
    assert all(i > 2 for row in ids for i in row)  # no bos/eos/unk added
    assert ids[4][:len(ids[1])] == ids[1]  # a prompt's tokens prefix its line's
    # stdin gives the same; the engine feeds bos + exactly these tokens for a prompt
    r2 = subprocess.run([bin_path("slm-tok"), model], input=inp.read_text(encoding="utf-8"),
                        capture_output=True, text=True)
    assert r2.stdout == r.stdout
    for line, row in zip(lines, ids):
        if line:
            out = subprocess.run([bin_path("slm-run"), model, "-p", line, "-n", "1", "--json"],
                                 capture_output=True, text=True)
            assert json.loads(out.stdout)["prompt_tokens"] == len(row) + 1, line
    # errors name the file
    bad = subprocess.run([bin_path("slm-tok"), corpus], capture_output=True, text=True)
    assert bad.returncode == 1 and "corpus.txt" in bad.stderr and "MAGIC" in bad.stderr
    bad = subprocess.run([bin_path("slm-tok"), model, tmp_path / "nope.txt"],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "nope.txt" in bad.stderr
    assert subprocess.run([bin_path("slm-tok")], capture_output=True).returncode == 2


# --- in the kernel -----------------------------------------------------------------

def _kernel_with(model, tmp_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from qemu_util import build_kernel
    kernel = tmp_path / "kernel.elf"
    r = build_kernel("B=%s" % (tmp_path / "build"), "KERNEL=%s" % kernel, "SLM_MODEL=%s" % model)
    assert r.returncode == 0, r.stdout + r.stderr
    return kernel


@needs_model
def test_committed_model_answers_the_spec_prompts_in_the_kernel_under_tcg(tmp_path):
    """The committed model inside the kernel, at the console, TCG (works everywhere)."""
    from qemu_util import PROMPT, Qemu
    kernel = _kernel_with(MODEL, tmp_path)
    with Qemu.boot(kernel, "tcg", deadline_s=240) as vm:
        vm.expect(PROMPT.replace(">", r"\>"), timeout=60)
        assert "SLM: Neural backend ready (vocab=4096, ctx=256)" in vm.output
        for prompt, answer in SPEC:
            out = vm.command('slm query "%s"' % prompt, timeout=200)
            assert "SLM: Output: %s\n" % answer in out + "\n", out
            assert out.rstrip().endswith("backend=neural"), out


@needs_model
@pytest.mark.parametrize("name", ["auton-slm.gguf", "auton-slm-q4_0.gguf"])
def test_committed_models_score_on_the_eval_list_in_the_kernel(tmp_path, name):
    """Every prompt of the evaluation list through the bridge, in the kernel;
    needs KVM (under TCG the full list takes minutes: see make eval-model)."""
    from qemu_util import probe_kvm
    model = os.path.join(ROOT, "models", "exports", name)
    ok, why = probe_kvm(_kernel_with(model, tmp_path))
    if not ok:
        pytest.skip("KVM unavailable (%s): the TCG run of the whole list is make eval-model's"
                    % why)
    out = tmp_path / "k.json"
    r = subprocess.run(["/usr/bin/python3",
                        os.path.join(ROOT, "tools", "train", "eval_kernel.py"), model,
                        "--accel", "kvm", "--min", "0.95", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["total"] >= 250 and res["accuracy"] >= 0.95, res
