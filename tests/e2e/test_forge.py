"""slm-forge end to end: models of every type with manifests that validate
against schemas/manifest.schema.json and agree with the file; byte-for-byte
reproducibility; the GGUF read back by a small independent reader (header,
metadata, tensor table, layout); a real llama vocabulary; the medium preset's
size and speed; every --corrupt kind; bad arguments and unwritable outputs.
"""
import hashlib
import json
import os
import re
import resource
import signal
import struct
import subprocess
import time

import jsonschema
import pytest

TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"]

# ggml type id -> (name, elements per block, bytes per block)
QTYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 8: ("Q8_0", 32, 34),
          12: ("Q4_K", 256, 144), 14: ("Q6_K", 256, 210), 30: ("BF16", 1, 2)}
QTYPE_ID = {v[0]: k for k, v in QTYPES.items()}
FILE_TYPE = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 7, "Q4_K": 15, "Q6_K": 18, "BF16": 32}

# The brief's table: kind -> the codes the parser may answer.
CORRUPT = {
    "truncated": {"TRUNCATED"}, "bad-magic": {"MAGIC"}, "bad-version": {"VERSION"},
    "huge-kv-count": {"COUNT"}, "huge-tensor-count": {"COUNT"},
    "string-overflow": {"TRUNCATED", "STRING"}, "too-many-dims": {"DIMS"},
    "zero-dim": {"DIMS"}, "dim-overflow": {"DIMS", "OVERFLOW"},
    "unknown-type": {"TENSOR_TYPE"}, "removed-type": {"TENSOR_TYPE"},
    "size-overflow": {"OVERFLOW"}, "misaligned": {"ALIGN"}, "overlap": {"OVERLAP"},
    "out-of-file": {"BOUNDS"}, "alignment-zero": {"ALIGN"}, "alignment-npot": {"ALIGN"},
    "alignment-type": {"ALIGN", "KV_TYPE"}, "duplicate-key": {"DUPLICATE"},
    "duplicate-tensor": {"DUPLICATE"}, "scores-type": {"ARRAY_TYPE"},
    "bad-byte-token": {"TOKEN"}, "too-many-blocks": {"LIMIT"}, "nested-array": {"KV_TYPE"},
}

PRESETS = {
    "tiny_10M": dict(dim=256, layers=4, heads=8, kv_heads=4, ffn=704, vocab=32000, ctx=512,
                     tied=True, targets=["x86_64", "aarch64", "riscv64"]),
    "small_50M": dict(dim=512, layers=10, heads=8, kv_heads=8, ffn=1536, vocab=32000,
                      ctx=1024, tied=True, targets=["x86_64", "aarch64"]),
    "medium_150M": dict(dim=768, layers=12, heads=12, kv_heads=12, ffn=2048, vocab=32000,
                        ctx=2048, tied=False, targets=["x86_64"]),
}


# ---- helpers ---------------------------------------------------------------------------

def forge_run(bin_path, *args, timeout=120, preexec_fn=None, env=None):
    return subprocess.run([bin_path("slm-forge")] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=preexec_fn, env=env)


def forge_ok(bin_path, *args, **kw):
    r = forge_run(bin_path, *args, **kw)
    assert r.returncode == 0, r.stderr
    return r


def param_count(m):
    """The preset formula: every tensor element."""
    d, f, v = m["embedding_length"], m["feed_forward_length"], m["vocab_size"]
    kv = m["head_count_kv"] * (d // m["head_count"])
    layer = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * f
    return v * d + d + (0 if m["tied_output"] else v * d) + m["block_count"] * layer


def load_json(path):
    with open(path) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def schema(root):
    s = load_json(os.path.join(root, "schemas", "manifest.schema.json"))
    jsonschema.Draft202012Validator.check_schema(s)
    return s


def validate(schema, manifest):
    jsonschema.Draft202012Validator(schema).validate(manifest)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Gguf:
    """A tiny GGUF v2/v3 reader, independent of the engine's parser."""
    SCALAR = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def __init__(self, path, header_only=False):
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        self.magic = self.buf[:4]
        self.version, self.n_tensors, self.n_kv = struct.unpack_from("<IQQ", self.buf, 4)
        self.pos = 24
        self.kv, self.tensors = {}, []
        if header_only:
            return
        for _ in range(self.n_kv):
            key = self.string()
            self.kv[key] = self.value(self.u32())
        for _ in range(self.n_tensors):
            name = self.string()
            n_dims = self.u32()
            ne = list(struct.unpack_from("<%dQ" % n_dims, self.buf, self.pos))
            self.pos += 8 * n_dims
            qtype = self.u32()
            offset = self.take("<Q")
            self.tensors.append(dict(name=name, ne=ne, type=qtype, offset=offset))
        self.info_end = self.pos
        self.alignment = self.kv.get("general.alignment", 32)
        self.data_offset = -(-self.pos // self.alignment) * self.alignment

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def u32(self):
        return self.take("<I")

    def string(self):
        n = self.take("<Q")
        s = self.buf[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.u32(), self.take("<Q")
            if et == 8:
                return [self.string() for _ in range(n)]
            fmt = "<%d%s" % (n, self.SCALAR[et])
            vals = list(struct.unpack_from(fmt, self.buf, self.pos))
            self.pos += struct.calcsize(fmt)
            return vals
        return self.take("<" + self.SCALAR[t])

    def tensor(self, name):
        return next(t for t in self.tensors if t["name"] == name)


def tensor_bytes(t):
    _, blck, size = QTYPES[t["type"]]
    rows = 1
    for d in t["ne"][1:]:
        rows *= d
    assert t["ne"][0] % blck == 0, t
    return t["ne"][0] // blck * size * rows


def check_layout(g):
    """Aligned, in-bounds, non-overlapping data that ends the file (padded)."""
    end = 0
    for t in sorted(g.tensors, key=lambda t: t["offset"]):
        assert t["offset"] % g.alignment == 0, t
        assert t["offset"] >= end, t
        end = t["offset"] + tensor_bytes(t)
    assert g.data_offset + -(-end // g.alignment) * g.alignment == len(g.buf)


# ---- valid models ---------------------------------------------------------------------

@pytest.mark.parametrize("qtype", TYPES)
def test_every_type_gives_a_model_its_manifest_describes(bin_path, schema, tmp_path, qtype):
    forge_ok(bin_path, "tiny_10M", "--type", qtype, "-o", tmp_path, "--quiet")
    model = tmp_path / "tiny_10M.gguf"
    m = load_json(tmp_path / "manifests" / "tiny_10M.json")
    validate(schema, m)
    p = PRESETS["tiny_10M"]
    assert m["bytes"] == os.path.getsize(model)
    assert m["sha256"] == sha256(model)
    assert m["parameters"] == param_count(m) == 11143424
    assert (m["embedding_length"], m["block_count"], m["head_count"], m["head_count_kv"],
            m["feed_forward_length"], m["vocab_size"], m["context_length"]) == \
        (p["dim"], p["layers"], p["heads"], p["kv_heads"], p["ffn"], p["vocab"], p["ctx"])
    assert m["quantization"] == qtype and m["file_type"] == FILE_TYPE[qtype]
    assert m["tied_output"] is True and m["target_architectures"] == p["targets"]
    assert m["pool_estimate_ctx"] == 512 and m["pool_estimate_bytes"] > 0
    assert m["seed"] == 42 and m["generator"] == "slm-forge 1" and m["tokenizer"] == "llama"
    assert "corrupt" not in m and "created" not in m

    g = Gguf(model)
    assert g.magic == b"GGUF" and g.version == 3 and m["gguf_version"] == 3
    assert g.n_tensors == len(g.tensors) == 2 + 9 * p["layers"]
    assert g.n_kv == len(g.kv)
    assert g.kv["general.architecture"] == "llama" and g.kv["general.name"] == "tiny_10M"
    assert g.kv["general.file_type"] == FILE_TYPE[qtype]
    assert g.kv["general.quantization_version"] == 2
    assert g.kv["llama.block_count"] == 4 and g.kv["llama.embedding_length"] == 256
    assert g.kv["llama.rope.dimension_count"] == 256 // 8
    assert g.kv["llama.attention.head_count_kv"] == 4 and g.kv["llama.vocab_size"] == 32000
    assert g.kv["llama.rope.freq_base"] == 10000.0
    assert abs(g.kv["llama.attention.layer_norm_rms_epsilon"] - 1e-5) < 1e-9
    assert g.kv["tokenizer.ggml.model"] == "llama"
    assert (g.kv["tokenizer.ggml.bos_token_id"], g.kv["tokenizer.ggml.eos_token_id"],
            g.kv["tokenizer.ggml.unknown_token_id"]) == (1, 2, 0)
    assert g.kv["tokenizer.ggml.add_bos_token"] is True
    assert g.kv["tokenizer.ggml.add_eos_token"] is False
    assert g.kv["tokenizer.ggml.add_space_prefix"] is True
    assert "output.weight" not in [t["name"] for t in g.tensors]
    check_layout(g)

    # types: norms F32, matrices the asked type unless the manifest lists an override
    overrides = m["tensor_type_overrides"]
    for t in g.tensors:
        name = QTYPES[t["type"]][0]
        if t["name"].endswith("norm.weight"):
            assert name == "F32" and len(t["ne"]) == 1
        else:
            assert name == overrides.get(t["name"], qtype), t["name"]
    k_quant = qtype in ("Q4_K", "Q6_K")  # ffn_down rows are 704 = 2.75 x 256
    assert sorted(overrides) == (["blk.%d.ffn_down.weight" % i for i in range(4)] if k_quant
                                 else [])
    assert all(v == "Q8_0" for v in overrides.values())
    assert g.tensor("blk.0.ffn_down.weight")["ne"] == [704, 256]
    assert g.tensor("blk.0.attn_k.weight")["ne"] == [256, 128]
    assert g.tensor("token_embd.weight")["ne"] == [256, 32000]


def test_same_seed_same_bytes_other_seed_other_weights(bin_path, tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    forge_ok(bin_path, "tiny_10M", "--type", "Q4_0", "-o", a, "-q")
    forge_ok(bin_path, "tiny_10M", "--type", "Q4_0", "-o", b, "-q")
    forge_ok(bin_path, "tiny_10M", "--type", "Q4_0", "--seed", "43", "-o", c, "-q")
    ga, gb, gc = (x / "tiny_10M.gguf" for x in (a, b, c))
    assert ga.read_bytes() == gb.read_bytes()
    assert (a / "manifests/tiny_10M.json").read_bytes() == \
        (b / "manifests/tiny_10M.json").read_bytes()
    assert ga.read_bytes() != gc.read_bytes()
    # the seed changes the weights only: same header, same vocabulary
    x, z = Gguf(ga), Gguf(gc)
    assert x.kv == z.kv and x.tensors == z.tensors
    assert load_json(c / "manifests/tiny_10M.json")["seed"] == 43


def test_source_date_epoch_adds_a_creation_time(bin_path, tmp_path):
    env = dict(os.environ, SOURCE_DATE_EPOCH="1700000000")
    forge_ok(bin_path, "tiny_10M", "-o", tmp_path, "-q", env=env)
    m = load_json(tmp_path / "manifests/tiny_10M.json")
    assert m["created"] == "2023-11-14T22:13:20Z"


def test_vocabulary_is_a_real_llama_vocabulary(bin_path, tmp_path):
    r = forge_ok(bin_path, "tiny_10M", "-o", tmp_path)
    g = Gguf(tmp_path / "tiny_10M.gguf")
    tokens = g.kv["tokenizer.ggml.tokens"]
    scores = g.kv["tokenizer.ggml.scores"]
    types = g.kv["tokenizer.ggml.token_type"]
    assert len(tokens) == len(scores) == len(types) == 32000
    assert tokens[:3] == ["<unk>", "<s>", "</s>"] and types[:3] == [2, 3, 3]
    assert tokens[3:259] == ["<0x%02X>" % i for i in range(256)]
    assert set(types[3:259]) == {6} and set(scores[:259]) == {0.0}
    assert set(types[259:]) == {1}
    assert len(set(tokens)) == len(tokens)
    assert all(scores[i] > scores[i + 1] for i in range(259, 31999))
    assert scores[259] == -1.0
    vocab = set(tokens)
    # every multi-character piece is the merge of two pieces (reachable)
    for piece in tokens[259:]:
        if len(piece) > 1:
            assert any(piece[:k] in vocab and piece[k:] in vocab
                       for k in range(1, len(piece))), piece
        else:
            assert piece in vocab
    assert "\u2581" in vocab and "\u2581Intel" in vocab and "\u2581device" in vocab
    learned = re.search(r"vocab 32000 = (\d+) merges .* in ([0-9.]+) s", r.stderr)
    assert learned, r.stderr
    assert int(learned.group(1)) > 20000  # pci.ids alone fills almost all of it
    assert float(learned.group(2)) < 5.0


def test_small_corpus_is_topped_up_by_the_supplement(bin_path, tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Intel Ethernet controller\nIntel Corporation\n")
    out = tmp_path / "out"
    r = forge_ok(bin_path, "tiny_10M", "--corpus", corpus, "--vocab", "3000", "-o", out)
    assert re.search(r"vocab 3000 = \d+ merges \+ [1-9]\d* supplement", r.stderr), r.stderr
    g = Gguf(out / "tiny_10M.gguf")
    tokens = g.kv["tokenizer.ggml.tokens"]
    assert len(tokens) == 3000 and len(set(tokens)) == 3000
    assert "\u2581Intel" in tokens


def test_missing_corpus_names_the_file_and_the_option(bin_path, tmp_path):
    r = forge_run(bin_path, "tiny_10M", "--corpus", tmp_path / "nope.txt", "-o", tmp_path / "o")
    assert r.returncode == 1
    assert "nope.txt" in r.stderr and "--corpus" in r.stderr
    assert not (tmp_path / "o" / "tiny_10M.gguf").exists()


def test_overrides_and_file_output(bin_path, schema, tmp_path):
    out = tmp_path / "x" / "custom.gguf"
    forge_ok(bin_path, "tiny_10M", "--dim", "128", "--layers", "2", "--heads", "4",
             "--kv-heads", "2", "--ffn", "320", "--vocab", "4000", "--ctx", "256", "--untied",
             "--rope-base", "500000", "--rms-eps", "1e-6", "--type", "Q4_0", "--name", "mini",
             "-o", out, "-q")
    m = load_json(tmp_path / "x" / "manifests" / "custom.json")
    validate(schema, m)
    assert m["name"] == "mini" and m["preset"] == "tiny_10M"
    assert (m["embedding_length"], m["block_count"], m["head_count"], m["head_count_kv"],
            m["feed_forward_length"], m["vocab_size"], m["context_length"]) == \
        (128, 2, 4, 2, 320, 4000, 256)
    # output.weight asked as Q6_K (the default for Q4_0) has rows of 128: it falls back
    assert m["tied_output"] is False and m["output_quantization"] == "Q8_0"
    assert m["parameters"] == param_count(m)
    g = Gguf(out)
    assert g.kv["general.name"] == "mini" and g.kv["llama.rope.freq_base"] == 500000.0
    assert g.n_tensors == 2 + 9 * 2 + 1
    assert QTYPES[g.tensor("output.weight")["type"]][0] == "Q8_0"
    assert m["tensor_type_overrides"] == {"output.weight": "Q8_0"}
    check_layout(g)


@pytest.mark.slow
def test_medium_preset_size_params_and_speed(bin_path, schema, tmp_path):
    t0 = time.monotonic()
    forge_ok(bin_path, "medium_150M", "-o", tmp_path, "-q", timeout=60)
    elapsed = time.monotonic() - t0
    m = load_json(tmp_path / "manifests" / "medium_150M.json")
    validate(schema, m)
    model = tmp_path / "medium_150M.gguf"
    assert 70e6 <= os.path.getsize(model) <= 95e6 and m["bytes"] == os.path.getsize(model)
    assert 130e6 <= m["parameters"] <= 160e6 and m["parameters"] == param_count(m)
    assert m["quantization"] == "Q4_0" and m["output_quantization"] == "Q6_K"
    assert m["tied_output"] is False and m["target_architectures"] == ["x86_64"]
    assert m["pool_estimate_ctx"] == 2048 and m["pool_estimate_bytes"] < 256 << 20
    g = Gguf(model)
    assert g.n_tensors == 2 + 9 * 12 + 1
    assert QTYPES[g.tensor("output.weight")["type"]][0] == "Q6_K"
    assert QTYPES[g.tensor("token_embd.weight")["type"]][0] == "Q4_0"
    check_layout(g)
    assert elapsed < 30, "medium_150M took %.1f s" % elapsed


# ---- corrupt files ----------------------------------------------------------------------

def list_corrupt(bin_path):
    r = forge_ok(bin_path, "--list-corrupt")
    return [line.split() for line in r.stdout.splitlines()]


def test_list_corrupt_is_the_documented_table(bin_path):
    rows = list_corrupt(bin_path)
    assert all(len(row) == 2 for row in rows), rows
    kinds = {kind: set(codes.split("|")) for kind, codes in rows}
    assert list(kinds) == list(CORRUPT)
    for kind, codes in kinds.items():
        assert codes <= CORRUPT[kind], (kind, codes)


def test_every_corrupt_kind_writes_a_full_model_with_one_defect(bin_path, schema, tmp_path):
    rows = list_corrupt(bin_path)
    jobs = []
    for kind, codes in rows:  # four at a time
        out = tmp_path / kind
        jobs.append((kind, codes, out, subprocess.Popen(
            [bin_path("slm-forge"), "tiny_10M", "--corrupt", kind, "-o", str(out), "-q"],
            stderr=subprocess.PIPE, text=True)))
        if len(jobs) % 4 == 0:
            for j in jobs[-4:]:
                j[3].wait(timeout=120)
    valid = tmp_path / "valid"
    forge_ok(bin_path, "tiny_10M", "-o", valid, "-q")
    good = (valid / "tiny_10M.gguf").read_bytes()
    for kind, codes, out, proc in jobs:
        assert proc.wait(timeout=120) == 0, (kind, proc.stderr.read())
        model = out / "tiny_10M.gguf"
        m = load_json(out / "manifests" / "tiny_10M.json")
        validate(schema, m)
        assert m["corrupt"] == kind and m["corrupt_expect"] == codes
        assert m["bytes"] == os.path.getsize(model) and m["sha256"] == sha256(model)
        assert "pool_estimate_bytes" not in m
        data = model.read_bytes()
        assert data != good, kind
        if kind != "truncated":  # a whole model, not a stub
            assert abs(len(data) - len(good)) < 1 << 20, kind
    head = {kind: Gguf(tmp_path / kind / "tiny_10M.gguf", header_only=True) for kind in
            ("bad-magic", "bad-version", "huge-kv-count", "huge-tensor-count")}
    assert head["bad-magic"].magic != b"GGUF"
    assert head["bad-version"].version not in (2, 3)
    assert head["huge-kv-count"].n_kv > 4096
    assert head["huge-tensor-count"].n_tensors > 8192
    assert os.path.getsize(tmp_path / "truncated" / "tiny_10M.gguf") < len(good) // 2


# ---- bad usage, unwritable outputs ---------------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["huge_1T", "-o", "{tmp}"], ["unknown preset", "huge_1T", "tiny_10M"]),
    (["tiny_10M", "--type", "Q3_K", "-o", "{tmp}"], ["unknown type", "Q3_K", "Q4_0"]),
    (["tiny_10M", "--output-type", "X", "-o", "{tmp}"], ["--output-type", "X"]),
    (["tiny_10M"], ["missing -o"]),
    ([], ["missing PRESET"]),
    (["tiny_10M", "small_50M", "-o", "{tmp}"], ["one PRESET"]),
    (["tiny_10M", "--corrupt", "nope", "-o", "{tmp}"], ["--corrupt", "nope"]),
    (["tiny_10M", "--seed", "abc", "-o", "{tmp}"], ["--seed", "abc"]),
    (["tiny_10M", "--seed", "-1", "-o", "{tmp}"], ["--seed"]),
    (["tiny_10M", "--heads", "3", "-o", "{tmp}"], ["--heads"]),
    (["tiny_10M", "--layers", "300", "-o", "{tmp}"], ["--layers"]),
    (["tiny_10M", "--vocab", "100", "-o", "{tmp}"], ["--vocab"]),
    (["tiny_10M", "--name", "../evil", "-o", "{tmp}"], ["--name"]),
    (["tiny_10M", "--bogus", "-o", "{tmp}"], ["--bogus"]),
])
def test_bad_arguments_exit_2_with_a_message(bin_path, tmp_path, args, words):
    out = tmp_path / "out"
    r = forge_run(bin_path, *[a.replace("{tmp}", str(out)) for a in args])
    assert r.returncode == 2, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    assert not out.exists()


def test_help_documents_every_option_and_kind(bin_path):
    r = forge_ok(bin_path, "--help")
    for opt in ["-o", "--type", "--output-type", "--seed", "--name", "--corpus", "--dim",
                "--layers", "--heads", "--kv-heads", "--ffn", "--vocab", "--ctx", "--tied",
                "--untied", "--rope-base", "--rms-eps", "--corrupt", "--list-corrupt",
                "--quiet", "SOURCE_DATE_EPOCH", "tiny_10M", "small_50M", "medium_150M",
                "--weights", "AUTW"]:
        assert opt in r.stdout, opt
    for kind in CORRUPT:
        assert kind in r.stdout, kind


def files_under(path):
    return sorted(os.path.relpath(os.path.join(d, f), path)
                  for d, _, fs in os.walk(path) for f in fs)


def test_output_under_a_regular_file_fails(bin_path, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = forge_run(bin_path, "tiny_10M", "-o", blocker / "sub")
    assert r.returncode == 1 and "file/sub" in r.stderr
    assert files_under(tmp_path) == ["file"]


def test_write_failing_half_way_leaves_no_partial_file(bin_path, tmp_path):
    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    r = forge_run(bin_path, "tiny_10M", "-o", tmp_path, preexec_fn=limit_file_size)
    assert r.returncode == 1
    assert "tiny_10M.gguf.tmp." in r.stderr and "too large" in r.stderr.lower()
    assert files_under(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_fails_cleanly(bin_path, tmp_path):
    ro = tmp_path / "ro"
    (ro / "manifests").mkdir(parents=True)
    os.chmod(ro / "manifests", 0o500)
    os.chmod(ro, 0o500)
    try:
        r = forge_run(bin_path, "tiny_10M", "-o", ro)
        assert r.returncode == 1 and str(ro) in r.stderr
        assert files_under(ro) == []
    finally:
        os.chmod(ro, 0o700)
        os.chmod(ro / "manifests", 0o700)


# ---- --weights: trained weights from an AUTW file ----------------------------------------

# A small model: tiny_10M's layout with these overrides (vocab >= 260, rows of 32).
SMALL = dict(dim=64, layers=2, heads=4, kv_heads=2, ffn=96, vocab=300, ctx=32)
SMALL_ARGS = ["--dim", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "96",
              "--vocab", "300", "--ctx", "32"]


def small_tensors(seed=1):
    """[(name, ne, values)] of SMALL in slm-forge's order, values seeded and finite."""
    import random
    d, f, v = SMALL["dim"], SMALL["ffn"], SMALL["vocab"]
    kv = SMALL["kv_heads"] * (d // SMALL["heads"])
    shapes = [("token_embd.weight", [d, v])]
    for i in range(SMALL["layers"]):
        shapes += [("blk.%d.attn_norm.weight" % i, [d]), ("blk.%d.attn_q.weight" % i, [d, d]),
                   ("blk.%d.attn_k.weight" % i, [d, kv]), ("blk.%d.attn_v.weight" % i, [d, kv]),
                   ("blk.%d.attn_output.weight" % i, [d, d]),
                   ("blk.%d.ffn_norm.weight" % i, [d]), ("blk.%d.ffn_gate.weight" % i, [d, f]),
                   ("blk.%d.ffn_up.weight" % i, [d, f]), ("blk.%d.ffn_down.weight" % i, [f, d])]
    shapes.append(("output_norm.weight", [d]))
    rng = random.Random(seed)
    out = []
    for name, ne in shapes:
        n = ne[0] * (ne[1] if len(ne) > 1 else 1)
        if len(ne) == 1:
            vals = [1.0 + rng.uniform(-0.1, 0.1) for _ in range(n)]
        else:
            vals = [rng.gauss(0.0, 0.05) for _ in range(n)]
        out.append((name, ne, vals))
    return out


def autw(tensors, magic=b"AUTW", version=1, count=None):
    """The AUTW bytes of [(name, ne, values)] (tools/train/llama_torch.py writes the same)."""
    parts = [magic, struct.pack("<II", version, len(tensors) if count is None else count)]
    for name, ne, vals in tensors:
        nb = name.encode()
        parts.append(struct.pack("<I", len(nb)) + nb + struct.pack("<I", len(ne)))
        parts.append(struct.pack("<%dQ" % len(ne), *ne))
        parts.append(struct.pack("<%df" % len(vals), *vals))
    return b"".join(parts)


@pytest.fixture
def small_corpus(tmp_path):
    p = tmp_path / "corpus.txt"
    p.write_text("PCI device 8086:10d3 is an Intel 82574L Gigabit Network Connection.\n"
                 "Install nginx on Debian: sudo apt-get install nginx\n")
    return p


def forge_weights(bin_path, corpus, weights, out, *extra):
    return forge_run(bin_path, "tiny_10M", *SMALL_ARGS, "--corpus", corpus, "--weights", weights,
                     "-o", out, "-q", *extra)


def test_weights_file_gives_exactly_those_weights(bin_path, schema, tmp_path, small_corpus):
    tensors = small_tensors()
    w = tmp_path / "w.autw"
    w.write_bytes(autw(list(reversed(tensors))))  # any order
    out = tmp_path / "f32"
    r = forge_weights(bin_path, small_corpus, w, out / "m.gguf", "--type", "F32")
    assert r.returncode == 0, r.stderr
    g = Gguf(out / "m.gguf")
    for name, ne, vals in tensors:
        t = g.tensor(name)
        assert t["ne"] == ne and t["type"] == 0, name
        start = g.data_offset + t["offset"]
        got = struct.unpack_from("<%df" % len(vals), g.buf, start)
        assert got == tuple(struct.unpack("<%df" % len(vals), struct.pack("<%df" % len(vals),
                                                                          *vals))), name
    m = load_json(out / "manifests" / "m.json")
    validate(schema, m)
    assert m["weights_sha256"] == sha256(w) and m["bytes"] == os.path.getsize(out / "m.gguf")
    # the engine accepts it; quantized exports are reproducible
    chk = subprocess.run([bin_path("slm-run"), out / "m.gguf", "--check"], capture_output=True,
                         text=True)
    assert chk.returncode == 0, chk.stderr
    q1, q2 = tmp_path / "q1", tmp_path / "q2"
    for q in (q1, q2):
        r = forge_weights(bin_path, small_corpus, w, q, "--type", "Q8_0")
        assert r.returncode == 0, r.stderr
    assert (q1 / "tiny_10M.gguf").read_bytes() == (q2 / "tiny_10M.gguf").read_bytes()
    # random weights: no weights_sha256
    forge_ok(bin_path, "tiny_10M", *SMALL_ARGS, "--corpus", small_corpus, "-o", tmp_path / "r",
             "-q")
    assert "weights_sha256" not in load_json(tmp_path / "r" / "manifests" / "tiny_10M.json")


def _bad_weights():
    t = small_tensors()
    good = autw(t)
    name, ne, vals = t[3]  # blk.0.attn_k.weight
    return {
        "missing": (autw(t[:3] + t[4:]), ["blk.0.attn_k.weight", "missing"]),
        "extra": (autw(t + [("blk.9.attn_q.weight", [64, 64], [0.0] * 4096)]),
                  ["blk.9.attn_q.weight", "not a tensor of this model"]),
        "twice": (autw(t + [t[3]]), ["blk.0.attn_k.weight", "twice"]),
        "shape": (autw(t[:3] + [(name, [ne[1], ne[0]], vals)] + t[4:]),
                  ["blk.0.attn_k.weight", "[32, 64]", "[64, 32]"]),
        "dims": (autw(t[:1] + [(t[1][0], [64, 1], t[1][2])] + t[2:]),
                 ["blk.0.attn_norm.weight", "[64, 1]", "[64]"]),
        "truncated-data": (good[:len(good) - 100], ["output_norm.weight", "truncated"]),
        "truncated-header": (good[:14], ["truncated"]),
        "trailing": (good + b"\0\0\0\0", ["4 bytes after the last"]),
        "count": (autw(t, count=len(t) + 1), ["truncated", "tensor %d of %d" % (len(t) + 1,
                                                                                len(t) + 1)]),
        "magic": (b"GGUF" + good[4:], ["not an AUTW"]),
        "version": (autw(t, version=2), ["version 2"]),
        "empty": (b"", ["not an AUTW"]),
        "nan": (autw(t[:3] + [(name, ne, vals[:5] + [float("nan")] + vals[6:])] + t[4:]),
                ["blk.0.attn_k.weight", "element 5", "not finite"]),
    }


@pytest.mark.parametrize("case", sorted(_bad_weights()))
def test_bad_weights_file_fails_naming_the_tensor_and_writes_nothing(bin_path, tmp_path,
                                                                     small_corpus, case):
    data, words = _bad_weights()[case]
    w = tmp_path / "w.autw"
    w.write_bytes(data)
    out = tmp_path / "out"
    r = forge_weights(bin_path, small_corpus, w, out, "--type", "Q8_0")
    assert r.returncode == 1, (case, r.stderr)
    assert str(w) in r.stderr, r.stderr
    for word in words:
        assert word in r.stderr, (case, word, r.stderr)
    assert files_under(tmp_path) == ["corpus.txt", "w.autw"]


def test_weights_file_missing_or_of_another_model(bin_path, tmp_path, small_corpus):
    r = forge_weights(bin_path, small_corpus, tmp_path / "nope.autw", tmp_path / "out")
    assert r.returncode == 1 and "nope.autw" in r.stderr and "No such file" in r.stderr
    w = tmp_path / "w.autw"
    w.write_bytes(autw(small_tensors()))
    # the same file for a model with a bigger vocabulary: token_embd's shape is named
    r = forge_run(bin_path, "tiny_10M", *SMALL_ARGS, "--vocab", "400", "--corpus", small_corpus,
                  "--weights", w, "-o", tmp_path / "out", "-q")
    assert r.returncode == 1 and "token_embd.weight" in r.stderr and "[64, 400]" in r.stderr
    assert files_under(tmp_path) == ["corpus.txt", "w.autw"]
