#!/usr/bin/python3
"""Prove that the torch model (llama_torch.py) computes what the engine computes.

    tools/train/check_parity.py --corpus build/model/corpus.txt [--weights FILE.autw]

Exports a model as F32 through `slm-forge --weights` (random weights by default:
seeded, with norms drawn around 1 and a larger init so the logits spread over
several units; or a trained AUTW file with --weights), then for each prompt runs
`slm-run --dump-logits N` and compares the engine's top-N logits with the torch
logits of the same tokens (BOS + the engine's tokens for the prompt, from slm-tok).

Two comparisons per prompt:
  f16-cache  torch rounds K and V through f16 as the engine's cache does: the two
             must agree to float rounding (--tol-exact, relative to the largest |logit|;
             measured: ~6e-5 on the random model, whose large activations let 1-ulp f32
             differences flip f16 roundings, ~5e-6 on the trained one; a wrong rope,
             head grouping or tensor mapping gives differences of order 1)
  plain      torch in f32 throughout: the f16 cache's own effect (--tol, absolute)
and the engine's top-N ids must be torch's top-N (up to exact ties). Exit 1 on failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_torch as lt  # noqa: E402

PROMPTS = ['PCI device 8086:10d3 is', 'Install nginx on Debian:', 'List all PCI devices:',
           'PCI device 1af4:1000 is a Red Hat', 'Show disk usage',
           'Search for qemu on Alpine: apk search qemu-system-x86_64 and then some more words '
           'to make a longer prompt that exercises the rope at later positions 0123 4567 89ab']


def engine_topn(slm_run, model, prompt, n):
    r = subprocess.run([slm_run, model, '-p', prompt, '--dump-logits', str(n)],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError('slm-run failed on %r: %s' % (prompt, r.stderr.strip()))
    out = []
    for line in r.stdout.split('\n'):
        if line.strip():
            i, v = line.split()
            out.append((int(i), float(v)))
    return out


def random_model(cfg, seed):
    torch.manual_seed(seed)
    m = lt.Llama(cfg)
    m.init_weights(std=0.08)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if name.endswith('norm.weight'):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--corpus', required=True, help="the vocabulary's corpus (slm-forge --corpus)")
    ap.add_argument('--weights', help='AUTW file to compare (default: a seeded random model)')
    ap.add_argument('--config', help='JSON config beside --weights (default: the training one)')
    ap.add_argument('--seed', type=int, default=1234)
    d = lt.Config()
    for opt, field in (('--dim', 'dim'), ('--layers', 'n_layers'), ('--heads', 'n_heads'),
                       ('--kv-heads', 'n_kv_heads'), ('--ffn', 'ffn'), ('--vocab', 'vocab'),
                       ('--ctx', 'ctx')):
        ap.add_argument(opt, dest=field, type=int, default=getattr(d, field),
                        help='random model shape (default %d)' % getattr(d, field))
    ap.add_argument('--top', type=int, default=20, help='logits compared per prompt')
    ap.add_argument('--tol', type=float, default=2e-2,
                    help='max |engine - torch(f32 KV)| (absolute; the f16 cache effect)')
    ap.add_argument('--tol-exact', type=float, default=2e-4,
                    help='max |engine - torch(f16 KV)| / max |logit| (not 0: a 1-ulp f32 '
                    'difference can flip an f16 rounding in the cache)')
    ap.add_argument('--bin', default=lt.BIN)
    ap.add_argument('--json', help='write the measured numbers here')
    args = ap.parse_args(argv)
    torch.set_num_threads(2)

    if args.weights:
        cfg_path = args.config or os.path.splitext(args.weights)[0] + '.json'
        with open(cfg_path) as f:
            cfg = lt.Config(**json.load(f)['config'])
        model = lt.Llama(cfg)
        lt.load_autw_into(model, args.weights)
        what = args.weights
    else:
        cfg = lt.Config(dim=args.dim, n_layers=args.n_layers, n_heads=args.n_heads,
                        n_kv_heads=args.n_kv_heads, ffn=args.ffn, vocab=args.vocab, ctx=args.ctx)
        model = random_model(cfg, args.seed)
        what = 'random model (seed %d)' % args.seed
    model.eval()
    slm_forge, slm_run = os.path.join(args.bin, 'slm-forge'), os.path.join(args.bin, 'slm-run')

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix='parity.') as tmp:
        autw = os.path.join(tmp, 'w.autw')
        lt.write_autw(autw, model.gguf_tensors())
        gguf = os.path.join(tmp, 'parity.gguf')
        r = subprocess.run([slm_forge] + cfg.forge_args() +
                           ['--type', 'F32', '--corpus', args.corpus, '--weights', autw,
                            '--name', 'parity', '-o', gguf, '--quiet'],
                           capture_output=True, text=True, check=False)
        if r.returncode != 0:
            print('check_parity: slm-forge failed: %s' % r.stderr.strip(), file=sys.stderr)
            return 1
        toks = lt.slm_tok(gguf, PROMPTS, exe=os.path.join(args.bin, 'slm-tok'))
        worst_exact = worst_plain = 0.0
        ok = True
        for prompt, ids in zip(PROMPTS, toks):
            eng = engine_topn(slm_run, gguf, prompt, args.top)
            x = torch.tensor([[lt.BOS] + ids])
            with torch.no_grad():
                ref16 = model(x, kv_f16=True)[0, -1].double()
                ref32 = model(x, kv_f16=False)[0, -1].double()
            scale = ref16.abs().max().item()
            d16 = max(abs(v - ref16[i].item()) for i, v in eng)
            d32 = max(abs(v - ref32[i].item()) for i, v in eng)
            # the engine's top ids must be torch's (allowing swaps within rounding of a tie)
            kth = ref16.topk(len(eng)).values[-1].item()
            ids_ok = all(ref16[i].item() >= kth - 2 * args.tol_exact * scale for i, _ in eng)
            top1_ok = eng[0][0] == int(ref16.argmax()) or \
                abs(ref16[eng[0][0]].item() - ref16.max().item()) <= 2 * args.tol_exact * scale
            good = d16 / scale <= args.tol_exact and d32 <= args.tol and ids_ok and top1_ok
            ok &= good
            worst_exact = max(worst_exact, d16 / scale)
            worst_plain = max(worst_plain, d32)
            print('check_parity: %-4s %2d tokens, max|logit| %.3f, top-%d diff: f16-cache %.2e '
                  '(rel %.2e), f32 %.2e%s' % ('ok' if good else 'FAIL', len(ids) + 1, scale,
                                              len(eng), d16, d16 / scale, d32,
                                              '' if ids_ok and top1_ok else ', TOP IDS DIFFER'),
                  file=sys.stderr)
    print('check_parity: %s: %s over %d prompts (worst relative diff with the f16 cache '
          'emulated %.2e <= %.0e, worst absolute diff without %.2e <= %.0e) in %.1f s' % (
              what, 'PASS' if ok else 'FAIL', len(PROMPTS), worst_exact, args.tol_exact,
              worst_plain, args.tol, time.time() - t0), file=sys.stderr)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'ok': ok, 'model': what, 'prompts': len(PROMPTS),
                       'max_rel_diff_f16_cache': worst_exact, 'max_abs_diff_f32': worst_plain},
                      f, indent=1)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
