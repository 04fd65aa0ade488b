#!/usr/bin/python3
"""Evaluate an exported AUTON SLM with the engine itself (build/bin/slm-run).

    tools/train/eval.py MODEL.gguf [MODEL.gguf ...] [--tsv models/eval/eval.tsv]
                        [--json OUT.json] [--min 0.95] [--jobs 2]

For every `prompt<TAB>expected answer` line of the TSV it runs greedy generation
(`slm-run MODEL -p PROMPT --temp 0 -n N --stop-newline --json`, which also stops at
EOS), trims the output and compares it with the expected answer exactly. Prints the
accuracy per category (pci: "PCI device ..."; package: "... on <distro>"; command:
the rest) and in total, lists the misses, and writes a JSON result (--json; with
several models, one object per model under "models"). Exit status 1 when any model
scores below --min (default 0.95), 2 on bad usage or a failing slm-run.

Needs no torch: it runs in `make eval-model` and in the tests. A facts.tsv from
corpus.py (prompt, answer, category) is accepted as --tsv too: then every training
fact is evaluated.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
DISTROS = os.path.join(ROOT, 'kernel-tree', 'kb', 'distros.tsv')


def distro_names():
    names = []
    try:
        with open(DISTROS, encoding='utf-8') as f:
            for line in f:
                if line.strip() and not line.startswith('#'):
                    names.append(line.split('\t')[0])
    except OSError:
        pass
    return names or ['Debian', 'Ubuntu', 'Fedora', 'Arch', 'Alpine']


def category(prompt, distros):
    if prompt.startswith('PCI device '):
        return 'pci'
    if re.search(r' on (%s):?$' % '|'.join(map(re.escape, distros)), prompt):
        return 'package'
    return 'command'


def read_tsv(path):
    items = []
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            parts = line.split('\t')
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise ValueError('%s:%d: expected prompt<TAB>answer' % (path, no))
            items.append((parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    return items


def generate(slm_run, model, prompt, n_tokens):
    """The engine's greedy completion of prompt, trimmed, and why it stopped."""
    r = subprocess.run([slm_run, model, '-p', prompt, '--temp', '0', '-n', str(n_tokens),
                        '--stop-newline', '--json'], capture_output=True, text=True,
                       check=False, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('slm-run %s -p %r failed (%d): %s' % (
            model, prompt, r.returncode, (r.stderr or r.stdout).strip()))
    out = json.loads(r.stdout)
    return out['output'].strip(), out.get('stop', '?')


def evaluate(slm_run, model, items, n_tokens, jobs):
    distros = distro_names()
    t0 = time.time()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        outs = list(ex.map(lambda it: generate(slm_run, model, it[0], n_tokens), items))
    seconds = time.time() - t0
    cats, misses = {}, []
    for (prompt, want, cat), (got, stop) in zip(items, outs):
        cat = cat or category(prompt, distros)
        c = cats.setdefault(cat, {'correct': 0, 'total': 0})
        c['total'] += 1
        if got == want:
            c['correct'] += 1
        else:
            misses.append({'prompt': prompt, 'expected': want, 'got': got, 'stop': stop,
                           'category': cat})
    for c in cats.values():
        c['accuracy'] = c['correct'] / c['total']
    correct = sum(c['correct'] for c in cats.values())
    return {'model': model, 'bytes': os.path.getsize(model), 'total': len(items),
            'correct': correct, 'accuracy': correct / len(items) if items else 0.0,
            'categories': dict(sorted(cats.items())), 'misses': misses,
            'seconds': round(seconds, 2)}


def report(res):
    print('%s (%d bytes): %d/%d = %.2f%% in %.1f s' % (
        res['model'], res['bytes'], res['correct'], res['total'], 100 * res['accuracy'],
        res['seconds']))
    for cat, c in res['categories'].items():
        print('  %-8s %4d/%-4d %6.2f%%' % (cat, c['correct'], c['total'], 100 * c['accuracy']))
    for m in res['misses'][:20]:
        print('  MISS %r: expected %r, got %r (stop: %s)' % (m['prompt'], m['expected'],
                                                           m['got'], m['stop']))
    if len(res['misses']) > 20:
        print('  ... and %d more misses' % (len(res['misses']) - 20))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('models', nargs='+', metavar='MODEL.gguf')
    ap.add_argument('--tsv', default=os.path.join(ROOT, 'models', 'eval', 'eval.tsv'))
    ap.add_argument('--json', help='write the results here')
    ap.add_argument('--min', type=float, default=0.95, help='accuracy below which exit 1')
    ap.add_argument('-n', '--tokens', type=int, default=64, help='tokens to generate at most')
    ap.add_argument('--jobs', type=int, default=2, help='slm-run processes at once')
    ap.add_argument('--slm-run', default=os.path.join(ROOT, 'build', 'bin', 'slm-run'))
    args = ap.parse_args(argv)
    try:
        items = read_tsv(args.tsv)
    except (OSError, ValueError) as e:
        print('eval.py: %s' % e, file=sys.stderr)
        return 2
    if not items:
        print('eval.py: %s holds no prompts' % args.tsv, file=sys.stderr)
        return 2
    results = []
    for model in args.models:
        if not os.path.exists(model):
            print('eval.py: %s: no such model' % model, file=sys.stderr)
            return 2
        try:
            res = evaluate(args.slm_run, model, items, args.tokens, args.jobs)
        except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
            print('eval.py: %s' % e, file=sys.stderr)
            return 2
        res['tsv'] = os.path.relpath(args.tsv, ROOT) if args.tsv.startswith(ROOT) else args.tsv
        res['passed'] = res['accuracy'] >= args.min
        results.append(res)
        report(res)
    if args.json:
        doc = results[0] if len(results) == 1 else {'models': results}
        d = os.path.dirname(os.path.abspath(args.json))
        os.makedirs(d, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(doc, f, indent=1)
            f.write('\n')
    failed = [r['model'] for r in results if not r['passed']]
    if failed:
        print('eval.py: below %.2f: %s' % (args.min, ', '.join(failed)))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
