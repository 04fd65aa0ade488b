#!/usr/bin/python3
"""Writes the GGUF fuzzer's seed corpus into tests/fuzz/seeds/.

Small valid files (every value type, a tiny llama vocab and tensors, custom
alignment, v2) and near-misses of each rejection, all under 4 KB, so the
fuzzer starts next to every branch of the parser. Stdlib only:

    /usr/bin/python3 tests/fuzz/make_seeds.py
"""
import os
import struct

MAGIC = 0x46554747
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
F32_T, Q4_0_T, Q8_0_T = 0, 2, 8


def s(text):
    b = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(b)) + b


def header(n_tensors, n_kv, version=3):
    return struct.pack("<IIQQ", MAGIC, version, n_tensors, n_kv)


def kv(key, vtype, payload):
    return s(key) + struct.pack("<I", vtype) + payload


def arr(key, etype, items, fmt=None):
    body = b"".join(s(x) for x in items) if etype == STR else b"".join(
        struct.pack("<" + fmt, x) for x in items)
    return kv(key, ARR, struct.pack("<IQ", etype, len(items)) + body)


def tensor(name, ne, ttype, offset):
    return s(name) + struct.pack("<I", len(ne)) + b"".join(
        struct.pack("<Q", n) for n in ne) + struct.pack("<IQ", ttype, offset)


def pad(b, align=32):
    return b + b"\0" * (-len(b) % align)


def model(version=3, tokens=None, types=None, extra=b"", n_extra=0, align=None):
    tokens = tokens or ["<unk>", "<s>", "</s>", "<0x00>", "<0xFF>", "a", "b"]
    types = types or [2, 3, 3, 6, 6, 1, 1]
    kvs = [
        kv("general.architecture", STR, s("llama")),
        kv("llama.block_count", U32, struct.pack("<I", 1)),
        kv("llama.context_length", U32, struct.pack("<I", 128)),
        kv("llama.rope.freq_base", F32, struct.pack("<f", 10000.0)),
        kv("tokenizer.ggml.model", STR, s("llama")),
        arr("tokenizer.ggml.tokens", STR, tokens),
        arr("tokenizer.ggml.scores", F32, [-float(i) for i in range(len(tokens))], "f"),
        arr("tokenizer.ggml.token_type", I32, types, "i"),
        kv("tokenizer.ggml.bos_token_id", U32, struct.pack("<I", 1)),
    ]
    if align:
        kvs.append(kv("general.alignment", U32, struct.pack("<I", align)))
    tensors = [
        tensor("token_embd.weight", [32, 2], F32_T, 0),
        tensor("blk.0.attn_q.weight", [32, 2], Q4_0_T, 256),
        tensor("output_norm.weight", [32], F32_T, 320),
    ]
    out = header(3, len(kvs) + n_extra, version) + b"".join(kvs) + extra + b"".join(tensors)
    return pad(out, align or 32) + bytes(range(256)) + bytes(192)


def all_types():
    kvs = [
        kv("t.u8", U8, struct.pack("<B", 200)),
        kv("t.i8", I8, struct.pack("<b", -5)),
        kv("t.u16", U16, struct.pack("<H", 60000)),
        kv("t.i16", I16, struct.pack("<h", -300)),
        kv("t.u32", U32, struct.pack("<I", 4000000000)),
        kv("t.i32", I32, struct.pack("<i", -70000)),
        kv("t.f32", F32, struct.pack("<f", 1.5)),
        kv("t.bool", BOOL, b"\1"),
        kv("t.str", STR, s("hello")),
        arr("t.arr", I16, [1, -2, 3], "h"),
        kv("t.u64", U64, struct.pack("<Q", 1 << 40)),
        kv("t.i64", I64, struct.pack("<q", -(1 << 40))),
        kv("t.f64", F64, struct.pack("<d", 2.25)),
        arr("t.f64s", F64, [0.5, -4.0], "d"),
        arr("t.u8s", U8, [1, 2, 255], "B"),
        arr("t.strs", STR, ["x", "", "yz"]),
    ]
    return header(0, len(kvs)) + b"".join(kvs)


def seeds():
    good = model()
    yield "valid_llama_v3", good
    yield "valid_llama_v2", model(version=2)
    yield "valid_align64", model(align=64)
    yield "valid_all_types", all_types()
    yield "valid_empty", header(0, 0)
    yield "bad_magic", b"GGML" + good[4:]
    yield "bad_version1", struct.pack("<IIII", MAGIC, 1, 0, 0)
    yield "bad_truncated", good[: len(good) // 3]
    yield "bad_huge_counts", header(1 << 40, 1 << 40)
    yield "bad_byte_token", model(tokens=["<unk>", "<s>", "</s>", "<0x-1>", "<0x100>", "a", "b"])
    yield "bad_align3", model(align=3)
    yield "bad_nested_array", header(0, 1) + kv("x.n", ARR, struct.pack("<IQ", ARR, 1))
    yield "bad_overlap", pad(header(2, 0) + tensor("a", [16], F32_T, 0)
                             + tensor("b", [16], F32_T, 32)) + bytes(128)
    yield "bad_type31", pad(header(1, 0) + tensor("a", [256], 31, 0)) + bytes(64)
    yield "bad_block_count", header(0, 2) + kv("general.architecture", STR, s("llama")) + kv(
        "llama.block_count", U32, struct.pack("<I", 1000))


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        assert len(data) < 4096, name
        with open(os.path.join(out, name + ".gguf"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
