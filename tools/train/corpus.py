#!/usr/bin/python3
"""Build the AUTON SLM's training corpus and evaluation list from kernel-tree/kb/.

    tools/train/corpus.py [--kb DIR] [--out-dir build/model] [--eval models/eval/eval.tsv]

Writes, deterministically (same knowledge base -> same bytes):

  OUT/corpus.txt   one training line per fact: the prompt, a space, the answer
                   ("PCI device 8086:10d3 is an Intel 82574L Gigabit Network
                   Connection."). It is also slm-forge's --corpus, so the
                   vocabulary is learned from exactly what the model is taught.
  OUT/facts.tsv    the same lines split: prompt<TAB>answer<TAB>category, in the
                   same order (what train.py and eval.py read).
  EVAL             prompt<TAB>answer: a fixed list drawn from the facts (committed,
                   models/eval/eval.tsv), for tools/train/eval.py.

The facts (kernel-tree/kb/README.md has the answer shapes):
  pci      "PCI device VVVV:DDDD is" -> "<article> <short vendor> <device name>."
           for every device of every vendors.tsv vendor whose pci.ids name matches
           the vendor's `train` regex ("*": all), in pci.ids + pci-extra.ids;
  package  every questions.tsv shape x packages.tsv package x distros.tsv distro:
           the canonical shape (the first of its column) for every combination,
           the other shapes for a seeded third of them; each prompt both with and
           without its trailing colon ("Install nginx on Debian:" and
           "Install nginx on Debian" -> "sudo apt-get install nginx");
  command  every commands.tsv row, with and without its colon.
live.tsv is not read: those questions are answered from the kernel's live state.
"List all PCI devices:" -> "lspci -nn" is a commands.tsv row (and required).

A prompt never ends in a space and its answer never starts with one: the model
sees "prompt" + " " + "answer", so the engine's tokens for the prompt alone are
a prefix of the tokens of the whole line (pieces never span a word boundary).
"""
import argparse
import hashlib
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
KB_DEFAULT = os.path.join(ROOT, 'kernel-tree', 'kb')

SEED = 7  # chooses the subset of non-canonical package shapes and the eval list

# Size of the evaluation list.
EVAL_PCI = 240
EVAL_PACKAGE = 60
EVAL_COMMAND = 30
# The three prompts, always in the eval list.
SPEC_PROMPTS = ['PCI device 8086:10d3 is', 'Install nginx on Debian', 'List all PCI devices:']
# Shapes other than the canonical one: this fraction of (shape, package, distro).
OTHER_SHAPE_FRACTION = 1 / 3


class KBError(Exception):
    pass


def rows(path, ncols):
    """Non-comment, non-blank lines of a TSV file split on tabs: (lineno, fields)."""
    out = []
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            fields = line.split('\t')
            if len(fields) != ncols:
                raise KBError('%s:%d: %d columns, expected %d' % (path, no, len(fields), ncols))
            out.append((no, fields))
    return out


def read_pci_ids(paths):
    """{vendor id: {device id: name}} from pci.ids-format files (later files add/override)."""
    vendors = {}
    for path in paths:
        cur = None
        with open(path, encoding='utf-8') as f:
            for no, line in enumerate(f, 1):
                line = line.rstrip('\n')
                if not line.strip() or line.startswith('#'):
                    continue
                m = re.match(r'^([0-9a-f]{4})  (.+)$', line)
                if m:
                    cur = vendors.setdefault(m.group(1), {})
                    continue
                m = re.match(r'^\t([0-9a-f]{4})  (.+)$', line)
                if m:
                    if cur is None:
                        raise KBError('%s:%d: device line before any vendor' % (path, no))
                    cur[m.group(1)] = m.group(2)
                    continue
                if line.startswith('\t\t'):
                    continue  # subsystems: not part of the knowledge base
                raise KBError('%s:%d: not pci.ids format: %r' % (path, no, line))
    return vendors


def pci_facts(kb):
    ids = read_pci_ids([os.path.join(kb, 'pci.ids'), os.path.join(kb, 'pci-extra.ids')])
    facts = []
    for no, (vid, short, article, train) in rows(os.path.join(kb, 'vendors.tsv'), 4):
        if vid not in ids:
            raise KBError('vendors.tsv:%d: vendor %s is not in pci.ids/pci-extra.ids' % (no, vid))
        if article not in ('a', 'an'):
            raise KBError('vendors.tsv:%d: article %r is not a/an' % (no, article))
        rx = None if train == '*' else re.compile(train, re.IGNORECASE)
        n = 0
        for did in sorted(ids[vid]):
            name = ids[vid][did]
            if rx is not None and not rx.search(name):
                continue
            # exactly the rule engine's answer (kernel/slm/rules.c: "%s %s %s.")
            facts.append(('PCI device %s:%s is' % (vid, did),
                          '%s %s %s.' % (article, short, name), 'pci'))
            n += 1
        if n == 0:
            raise KBError('vendors.tsv:%d: the train regex of %s selects no device' % (no, vid))
    return facts


def colon_variants(prompt):
    """The prompt with and without its trailing colon (canonical form first)."""
    base = prompt[:-1] if prompt.endswith(':') else prompt
    return [base + ':', base]


def package_facts(kb):
    distros = rows(os.path.join(kb, 'distros.tsv'), 7)
    cols = ['install', 'remove', 'update', 'upgrade', 'search']
    dist = [(f[0], dict(zip(cols, f[2:]))) for _, f in distros]
    pkgs = [(f[0], [f[0] if x == '=' else x for x in f[1:]])
            for _, f in rows(os.path.join(kb, 'packages.tsv'), 1 + len(dist))]
    shapes = [f for _, f in rows(os.path.join(kb, 'questions.tsv'), 2)]
    canonical = {}
    for shape, col in shapes:
        if col not in cols:
            raise KBError('questions.tsv: unknown column %r' % col)
        canonical.setdefault(col, shape)
    rng = random.Random(SEED)
    facts = []
    for shape, col in shapes:
        is_canon = canonical[col] == shape
        combos = []
        for name, per_distro in (pkgs if '{name}' in shape else [(None, None)]):
            for di, (dname, cmds) in enumerate(dist):
                tmpl = cmds[col]
                if tmpl == '-':
                    continue
                prompt = shape.replace('{distro}', dname)
                answer = tmpl
                if name is not None:
                    prompt = prompt.replace('{name}', name)
                    answer = answer.replace('{pkg}', per_distro[di])
                combos.append((prompt, answer))
        if not is_canon:
            k = int(round(len(combos) * OTHER_SHAPE_FRACTION))
            chosen = set(rng.sample(range(len(combos)), k))
            combos = [c for i, c in enumerate(combos) if i in chosen]
        for prompt, answer in combos:
            for p in colon_variants(prompt):
                facts.append((p, answer, 'package'))
    return facts


def command_facts(kb):
    facts = []
    for _, (question, answer) in rows(os.path.join(kb, 'commands.tsv'), 2):
        for p in colon_variants(question):
            facts.append((p, answer, 'command'))
    return facts


def build_facts(kb):
    facts = pci_facts(kb) + package_facts(kb) + command_facts(kb)
    if not any(p == 'List all PCI devices:' and a == 'lspci -nn' for p, a, _ in facts):
        facts.append(('List all PCI devices:', 'lspci -nn', 'command'))
    seen = {}
    for p, a, c in facts:
        if p != p.strip() or a != a.strip() or not p or not a or '\t' in p + a or '\n' in p + a:
            raise KBError('fact %r -> %r: prompt and answer must be trimmed, one line, no tab'
                          % (p, a))
        if p in seen and seen[p] != a:
            raise KBError('prompt %r has two answers: %r and %r' % (p, seen[p], a))
        seen[p] = a
    # one line per distinct prompt, in a stable order (category, then prompt)
    order = {'pci': 0, 'package': 1, 'command': 2}
    uniq = {}
    for p, a, c in facts:
        uniq.setdefault(p, (p, a, c))
    return sorted(uniq.values(), key=lambda f: (order[f[2]], f[0]))


def eval_list(facts):
    """A fixed list drawn from the facts: the spec's prompts, then seeded samples."""
    rng = random.Random(SEED + 1)
    by_prompt = {f[0]: f for f in facts}
    chosen = []
    for p in SPEC_PROMPTS:
        if p not in by_prompt:
            raise KBError('the spec prompt %r is not a training fact' % p)
        chosen.append(by_prompt[p])
    for cat, k in (('pci', EVAL_PCI), ('package', EVAL_PACKAGE), ('command', EVAL_COMMAND)):
        pool = [f for f in facts if f[2] == cat and f not in chosen]
        chosen += sorted(rng.sample(pool, min(k, len(pool))))
    return chosen


def write(path, text):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'w', encoding='utf-8', newline='\n') as f:
        f.write(text)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--kb', default=KB_DEFAULT, help='knowledge base directory')
    ap.add_argument('--out-dir', default=os.path.join(ROOT, 'build', 'model'),
                    help='where corpus.txt and facts.tsv go (default build/model)')
    ap.add_argument('--eval', default=os.path.join(ROOT, 'models', 'eval', 'eval.tsv'),
                    help='evaluation list to write (default models/eval/eval.tsv; "" = none)')
    ap.add_argument('-q', '--quiet', action='store_true')
    args = ap.parse_args(argv)
    try:
        facts = build_facts(args.kb)
        ev = eval_list(facts)
    except (KBError, OSError, re.error) as e:
        print('corpus.py: %s' % e, file=sys.stderr)
        return 1
    corpus = ''.join('%s %s\n' % (p, a) for p, a, _ in facts)
    write(os.path.join(args.out_dir, 'corpus.txt'), corpus)
    write(os.path.join(args.out_dir, 'facts.tsv'), ''.join('%s\t%s\t%s\n' % f for f in facts))
    if args.eval:
        write(args.eval, ''.join('%s\t%s\n' % (p, a) for p, a, _ in ev))
    if not args.quiet:
        counts = {}
        for _, _, c in facts:
            counts[c] = counts.get(c, 0) + 1
        print('corpus.py: %d facts (%s), corpus sha256 %s; eval list %d prompts%s' % (
            len(facts), ', '.join('%s %d' % kv for kv in sorted(counts.items())),
            hashlib.sha256(corpus.encode()).hexdigest()[:16], len(ev),
            ' -> ' + args.eval if args.eval else ''), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
