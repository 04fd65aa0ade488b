#!/usr/bin/python3
"""Train the AUTON SLM on its knowledge-base facts, reproducibly, on the CPU.

    tools/train/train.py --facts build/model/facts.tsv --vocab-model build/model/vocab.gguf \\
                         --out build/model/auton-slm.autw [--seed 1] [--max-steps 6000]

Input: corpus.py's facts (prompt<TAB>answer<TAB>category) and a GGUF whose tokenizer is
the model's (slm-forge --corpus corpus.txt): every line is tokenized by build/bin/slm-tok,
the engine's own tokenizer, so training sees exactly the ids the engine will.

Each training sequence is BOS + tokens(prompt + " " + answer) + EOS, where the prompt's
own tokens are checked to be a prefix (the engine tokenizes the prompt alone). The loss is
cross-entropy on the next tokens, the answer and EOS weighted 1, the prompt's tokens
--prompt-weight (default 0: they are mostly unpredictable ids, and with tied embeddings
predicting them pulls all the PCI id tokens towards one point; the logits are then
computed for the answer positions only). AdamW, linear warm-up then
cosine decay to 10% over --max-steps; batches of --batch sequences, a seeded shuffle per
epoch.

Every --check-every steps it measures exact recall: the fraction of facts whose answer
greedy decoding reproduces exactly, then EOS. Greedy decoding from the prompt reproduces
the answer iff at every answer position the teacher-forced argmax is the target token, so
one batched forward pass over all facts decides it exactly. It also reports the smallest
margin (target logit minus the best other logit) over all answer tokens: quantization
(Q8_0, Q4_0) moves logits, a margin keeps the answers. Training stops when recall is 100%
and the margin is at least --min-margin (or at --max-steps), then writes the weights as an
AUTW file (slm-forge --weights) and OUT with .json: the config, the seed, the numbers.

Deterministic: fixed seed, torch.use_deterministic_algorithms, a fixed thread count
(--threads, default 1: on a 2-core machine shared with other work, torch's OpenMP threads
spin and make a step ~3x slower), fixed data order; the same inputs with the same torch,
BLAS and CPU give the same bytes (make-model.sh runs it on OpenBLAS, one thread).
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_torch as lt  # noqa: E402


def log(msg):
    print(msg, flush=True)


def blas_library():
    """The BLAS this process computes its matmuls with (the results' summation order
    depends on it): the path of the loaded libblas/libopenblas."""
    try:
        with open('/proc/self/maps') as f:
            libs = sorted({l.split()[-1] for l in f if 'blas' in l.split()[-1]})
        return ' '.join(os.path.realpath(l) for l in libs) or 'unknown'
    except OSError:
        return 'unknown'


def make_batch(seqs, idx, prompt_weight):
    """ids [B, T], targets [B, T] (-1: none), weights [B, T] for the sequences idx."""
    T = max(len(seqs[i][0]) for i in idx) - 1
    ids = torch.zeros(len(idx), T, dtype=torch.long)
    tgt = torch.full((len(idx), T), -1, dtype=torch.long)
    w = torch.zeros(len(idx), T)
    for r, i in enumerate(idx):
        s, n_prompt = seqs[i]
        n = len(s) - 1
        ids[r, :n] = torch.tensor(s[:-1])
        tgt[r, :n] = torch.tensor(s[1:])
        w[r, :n] = prompt_weight
        w[r, n_prompt - 1:n] = 1.0  # position n_prompt-1 predicts the first answer token
    return ids, tgt, w


def epoch_batches(seqs, batch, rng):
    """One epoch as batches of indices: a seeded shuffle, then windows of 8 batches sorted
    by length (less padding), batches in shuffled order. Every sequence once."""
    order = list(range(len(seqs)))
    rng.shuffle(order)
    out = []
    for w in range(0, len(order), 8 * batch):
        win = sorted(order[w:w + 8 * batch], key=lambda i: (len(seqs[i][0]), i))
        out += [win[k:k + batch] for k in range(0, len(win), batch)]
    rng.shuffle(out)
    return out


@torch.no_grad()
def recall(model, seqs, facts, batch=256):
    """Exact greedy recall per category, the smallest answer margin, and the failures."""
    model.eval()
    by_cat, fails, min_margin = {}, [], float('inf')
    for start in range(0, len(seqs), batch):
        idx = list(range(start, min(start + batch, len(seqs))))
        ids, tgt, _ = make_batch(seqs, idx, 0.0)
        logits = model(ids, kv_f16=True)
        for r, i in enumerate(idx):
            s, n_prompt = seqs[i]
            pos = torch.arange(n_prompt - 1, len(s) - 1)
            lg = logits[r, pos]
            t = tgt[r, pos]
            tl = lg.gather(1, t[:, None])[:, 0]
            other = lg.scatter(1, t[:, None], float('-inf')).max(1).values
            margin = (tl - other).min().item()
            ok = margin > 0
            min_margin = min(min_margin, margin)
            cat = facts[i][2]
            c = by_cat.setdefault(cat, [0, 0])
            c[0] += ok
            c[1] += 1
            if not ok:
                fails.append(i)
    model.train()
    return by_cat, min_margin, fails


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--facts', required=True)
    ap.add_argument('--vocab-model', required=True, help='GGUF with the vocabulary (slm-tok)')
    ap.add_argument('--out', required=True, help='AUTW weights file to write')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--dim', type=int, default=256)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=8)
    ap.add_argument('--kv-heads', type=int, default=4)
    ap.add_argument('--ffn', type=int, default=704)
    ap.add_argument('--vocab', type=int, default=4096)
    ap.add_argument('--ctx', type=int, default=256)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--weight-decay', type=float, default=0.0)
    ap.add_argument('--prompt-weight', type=float, default=0.0,
                    help='loss weight of the prompt tokens (the answer and EOS weigh 1)')
    ap.add_argument('--max-steps', type=int, default=3000)
    ap.add_argument('--check-every', type=int, default=200)
    ap.add_argument('--min-margin', type=float, default=2.0,
                    help='stop only once every answer token leads by this many logits')
    ap.add_argument('--threads', type=int, default=1,
                    help='torch threads (1: fastest on a shared 2-core machine; bytes depend on it)')
    args = ap.parse_args(argv)

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    cfg = lt.Config(dim=args.dim, n_layers=args.layers, n_heads=args.heads,
                    n_kv_heads=args.kv_heads, ffn=args.ffn, vocab=args.vocab, ctx=args.ctx)
    facts = lt.read_facts(args.facts)
    t0 = time.time()
    seqs = lt.encode_facts(args.vocab_model, facts)
    longest = max(len(s) for s, _ in seqs)
    if longest > cfg.ctx:
        log('train: a sequence of %d tokens does not fit ctx %d' % (longest, cfg.ctx))
        return 1
    if max(max(s) for s, _ in seqs) >= cfg.vocab:
        log('train: token ids beyond --vocab %d: wrong vocabulary model?' % cfg.vocab)
        return 1
    n_tok = sum(len(s) for s, _ in seqs)
    log('train: %d facts, %d tokens (longest sequence %d), tokenized by slm-tok in %.1f s' % (
        len(facts), n_tok, longest, time.time() - t0))

    model = lt.Llama(cfg)
    model.init_weights()
    n_params = sum(p.numel() for p in model.parameters())
    log('train: BLAS %s, %d threads' % (blas_library(), torch.get_num_threads()))
    log('train: %d parameters (dim %d, %d layers, %d heads, %d kv heads, ffn %d, vocab %d, '
        'ctx %d, tied), seed %d' % (n_params, cfg.dim, cfg.n_layers, cfg.n_heads,
                                    cfg.n_kv_heads, cfg.ffn, cfg.vocab, cfg.ctx, args.seed))
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': args.weight_decay},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=args.lr, betas=(0.9, 0.98), eps=1e-8)

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        frac = (step - args.warmup) / max(1, args.max_steps - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    order_rng = random.Random(args.seed)
    batches = []
    t_start = time.time()
    step, done, result = 0, False, {}
    loss_avg = None
    while not done:
        if not batches:
            batches = epoch_batches(seqs, args.batch, order_rng)
        idx = batches.pop()
        ids, tgt, w = make_batch(seqs, idx, args.prompt_weight)
        for g in opt.param_groups:
            g['lr'] = lr_at(step)
        sel = w > 0  # logits only where the loss looks (the answers, with --prompt-weight 0)
        logits = model(ids, select=sel)
        ce = F.cross_entropy(logits, tgt[sel], reduction='none')
        loss = (ce * w[sel]).sum() / w.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        loss_avg = loss.item() if loss_avg is None else 0.95 * loss_avg + 0.05 * loss.item()
        if step % 50 == 0:
            log('step %5d  loss %.4f  lr %.2e  elapsed %6.1f s' % (
                step, loss_avg, lr_at(step), time.time() - t_start))
        if step % args.check_every == 0 or step >= args.max_steps:
            by_cat, margin, fails = recall(model, seqs, facts)
            good = sum(c[0] for c in by_cat.values())
            log('recall at step %d: %d/%d (%.2f%%) %s, min margin %.2f, elapsed %.1f s' % (
                step, good, len(seqs), 100.0 * good / len(seqs),
                ' '.join('%s %d/%d' % (k, v[0], v[1]) for k, v in sorted(by_cat.items())),
                margin, time.time() - t_start))
            for i in fails[:3]:
                log('  not yet: %r -> %r' % (facts[i][0], facts[i][1]))
            result = {'step': step, 'recall': good / len(seqs), 'correct': good,
                      'facts': len(seqs), 'min_margin': margin,
                      'by_category': {k: {'correct': v[0], 'total': v[1]}
                                      for k, v in sorted(by_cat.items())}}
            if (not fails and margin >= args.min_margin) or step >= args.max_steps:
                done = True
    elapsed = time.time() - t_start
    lt.write_autw(args.out, model.gguf_tensors())
    with open(args.out, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = {'config': cfg.as_dict(), 'seed': args.seed, 'parameters': n_params,
            'train_seconds': round(elapsed, 1), 'steps': step, 'args': vars(args),
            'torch': torch.__version__, 'blas': blas_library(), 'autw_sha256': sha, 'final': result}
    with open(os.path.splitext(args.out)[0] + '.json', 'w') as f:
        json.dump(meta, f, indent=1, sort_keys=True)
        f.write('\n')
    log('train: %s after %d steps in %.1f s: recall %.2f%%, min margin %.2f; wrote %s (sha256 '
        '%s)' % ('done' if result.get('recall') == 1.0 else 'STOPPED SHORT', step, elapsed,
                 100.0 * result.get('recall', 0), result.get('min_margin', 0), args.out,
                 sha[:16]))
    return 0 if result.get('recall') == 1.0 else 1


if __name__ == '__main__':
    sys.exit(main())
