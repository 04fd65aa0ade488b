"""make bench: host engine throughput against the memory-bandwidth roofline.

Forges the benchmark models once into build/bench/ (reused while the forge
arguments are unchanged), measures in ONE run on this machine:
  - the machine's read bandwidth (slm-qbench --bandwidth, STREAM-style sum)
  - prompt (pp) and generation (tg) tokens/s, 1 thread, pp 64 / tg 64
  - parse + validate time of the medium file (slm-run --check)
  - the kernel (kernel_bench.py): boot to Shell> with the medium model, and
    in-kernel generation next to the host engine on the same file
  - autond (daemon_bench.py): wrk on GET /v1/health and /v1/integrations,
    idle and during an integration, and the daemon's memory
and prints a table. Efficiency = weight bytes x tg tok/s / bandwidth.
With LLAMA_BENCH=/path/to/llama-bench (llama.cpp, built by whoever runs
this: it is not a dependency and nothing here fetches or builds it), each
row also shows llama.cpp's pp64/tg64 on the same file, runs alternating.
Reference (issue 2): llama.cpp, 1 thread, on this machine kind: ~297 tok/s
for the 134M medium in Q4_0 (Q6_K output), 209 in Q8_0, ~2190 for the 20M.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")
OUT = os.path.join(ROOT, "build", "bench")
ROUNDS = 3

# (label, preset, type, extra forge args, llama.cpp reference tok/s)
MODELS = [
    ("tiny_10M", "tiny_10M", "Q8_0", [], None),
    ("tiny_10M", "tiny_10M", "Q4_0", [], None),
    ("20M (256x4, ffn 704)", "tiny_10M", "Q4_0", ["--untied", "--heads", "8", "--kv-heads", "8"], 2190),
    ("small_50M", "small_50M", "Q8_0", [], None),
    ("small_50M", "small_50M", "Q4_0", [], None),
    ("medium_150M", "medium_150M", "Q8_0", [], 209),
    ("medium_150M", "medium_150M", "Q4_0", [], 297),
]


def forge(preset, qtype, extra):
    name = "%s_%s%s" % (preset, qtype, "_" + "_".join(a.strip("-") for a in extra) if extra else "")
    path = os.path.join(OUT, name + ".gguf")
    stamp = path + ".args"
    args = [os.path.join(BIN, "slm-forge"), preset, "--type", qtype, "--name", name, "-o", OUT,
            "--quiet"] + extra
    if not (os.path.exists(path) and os.path.exists(stamp) and open(stamp).read() == repr(args)):
        subprocess.run(args, check=True)
        with open(stamp, "w") as f:
            f.write(repr(args))
    return path


def run_json(args):
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def llama_rates(llama, path):
    """pp64 and tg64 tok/s of llama.cpp's llama-bench on the same file, 1 thread."""
    out = subprocess.run([llama, "-m", path, "-t", "1", "-p", "64", "-n", "64", "-r", "1",
                          "-o", "json"], check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    pp = [r["avg_ts"] for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0]
    tg = [r["avg_ts"] for r in rows if r["n_gen"] > 0 and r["n_prompt"] == 0]
    return (pp[0] if pp else 0.0), (tg[0] if tg else 0.0)


def bandwidth_gbs():
    out = subprocess.run([os.path.join(BIN, "slm-qbench"), "--bandwidth"], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("bandwidth_gbs="):
            return float(line.split("=", 1)[1])
    raise RuntimeError("slm-qbench --bandwidth printed no bandwidth_gbs= line:\n" + out)


def main():
    os.makedirs(OUT, exist_ok=True)
    paths = [(label, q, forge(p, q, extra), ref) for label, p, q, extra, ref in MODELS]
    bw = bandwidth_gbs()
    print("\nread bandwidth (STREAM-style sum, 1 thread): %.1f GB/s\n" % bw)
    llama = os.environ.get("LLAMA_BENCH")
    if llama and not os.access(llama, os.X_OK):
        raise SystemExit("LLAMA_BENCH=%s is not an executable llama-bench" % llama)
    hdr = "%-22s %-5s %8s %8s %9s %9s %8s %8s %10s" % (
        "model", "type", "params", "MB", "pp tok/s", "tg tok/s", "GB/s", "roofln%", "llama.cpp")
    if llama:
        hdr += " %9s %9s %7s" % ("llama pp", "llama tg", "tg x")
    print(hdr)
    print("-" * len(hdr))
    for label, q, path, ref in paths:
        # best of ROUNDS, alternating with llama-bench when it runs: the
        # machine is shared and one run can be 30% off either way
        best, lpp, ltg = None, 0.0, 0.0
        for _ in range(ROUNDS):
            r = run_json([os.path.join(BIN, "slm-run"), path, "--bench", "64,64"])
            if best is None or r["tg_tok_s"] > best["tg_tok_s"]:
                best = dict(r, pp_tok_s=max(r["pp_tok_s"], best["pp_tok_s"] if best else 0))
            if llama:
                pp, tg = llama_rates(llama, path)
                lpp, ltg = max(lpp, pp), max(ltg, tg)
        r = best
        gbs = r["weight_bytes"] * r["tg_tok_s"] / 1e9
        line = "%-22s %-5s %7.1fM %8.1f %9.1f %9.1f %8.1f %7.0f%% %10s" % (
            label, q, r["params"] / 1e6, r["weight_bytes"] / 1e6, r["pp_tok_s"], r["tg_tok_s"],
            gbs, 100.0 * gbs / bw, "%d tok/s" % ref if ref else "-")
        if llama:
            line += " %9.1f %9.1f %6.2fx" % (lpp, ltg, r["tg_tok_s"] / ltg if ltg else 0)
        print(line)
    print("(best of %d runs each; \"llama.cpp\": the issue's reference, measured elsewhere%s)"
          % (ROUNDS, "; llama pp/tg: %s side by side, tg x = ours / its" % llama if llama
             else "; set LLAMA_BENCH=/path/to/llama-bench to measure it side by side"))
    medium = [p for label, q, p, ref in paths if label == "medium_150M" and q == "Q4_0"][0]
    times = sorted(run_json([os.path.join(BIN, "slm-run"), medium, "--check", "--json"])["check_ms"]
                   for _ in range(5))
    print("\nparse + validate + tokenizer index, medium_150M Q4_0 (%.1f MB): median %.2f ms of 5"
          % (os.path.getsize(medium) / 1e6, times[2]))
    import kernel_bench
    tiny = [p for label, q, p, ref in paths if label == "tiny_10M" and q == "Q8_0"][0]
    kernel_bench.main([("tiny_10M Q8_0", tiny), ("medium_150M Q4_0", medium)])
    import daemon_bench
    daemon_bench.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
