"""The AUTON SLM in torch, matching the engine (kernel-tree/kernel/slm/neural/forward.c)
exactly, plus what the training tools share: the AUTW weights format slm-forge
--weights reads, tokenization through the engine (build/bin/slm-tok), the facts
file corpus.py writes.

The forward pass, as forward.c computes it for one token at position pos:
  x = token_embd[token]
  per layer:  h = rmsnorm(x) * attn_norm                  (x / sqrt(mean(x^2) + eps))
              q, k, v = Wq h, Wk h, Wv h                   (GQA: n_kv_heads for k, v)
              rope on ADJACENT pairs (q[2i], q[2i+1]) of every head, angle pos * theta_i,
                  theta_i = base^(-2i / head_dim)          (GGML's "normal" mode, not NeoX)
              k, v stored as f16 in the cache
              head h attends with kv head h / (n_heads / n_kv_heads), scale 1/sqrt(head_dim)
              x += Wo attn
              h = rmsnorm(x) * ffn_norm;  x += Wdown (silu(Wgate h) * Wup h)
  logits = token_embd . (rmsnorm(x) * output_norm)        (tied; output.weight when untied)
GGUF stores a torch Linear weight [out, in] as ne = [in, out]: the same bytes.
"""
import os
import struct
import subprocess
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
BIN = os.path.join(ROOT, 'build', 'bin')

BOS, EOS = 1, 2  # slm-forge's llama vocabulary: 0 <unk>, 1 <s>, 2 </s>


@dataclass
class Config:
    dim: int = 256
    n_layers: int = 4
    n_heads: int = 8
    n_kv_heads: int = 4
    ffn: int = 704
    vocab: int = 4096
    ctx: int = 256
    rope_base: float = 10000.0
    rms_eps: float = 1e-5
    tied: bool = True

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def forge_args(self):
        """slm-forge options giving a model of exactly this shape (preset tiny_10M)."""
        return ['tiny_10M', '--dim', str(self.dim), '--layers', str(self.n_layers),
                '--heads', str(self.n_heads), '--kv-heads', str(self.n_kv_heads),
                '--ffn', str(self.ffn), '--vocab', str(self.vocab), '--ctx', str(self.ctx),
                '--rope-base', repr(float(self.rope_base)), '--rms-eps', repr(float(self.rms_eps)),
                '--tied' if self.tied else '--untied']

    def as_dict(self):
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, n, device=None):
    """cos, sin [n, head_dim/2] as llama.c computes them (in double, then float)."""
    half = cfg.head_dim // 2
    i = torch.arange(half, dtype=torch.float64)
    theta = torch.pow(torch.tensor(cfg.rope_base, dtype=torch.float64), -2.0 * i / cfg.head_dim)
    ang = torch.arange(n, dtype=torch.float64)[:, None] * theta[None, :]
    return torch.cos(ang).float().to(device), torch.sin(ang).float().to(device)


def apply_rope(x, cos, sin):
    """x [B, T, H, hd]: rotate the adjacent pairs (x[2i], x[2i+1]) by pos * theta_i."""
    B, T, H, hd = x.shape
    xp = x.reshape(B, T, H, hd // 2, 2)
    a, b = xp[..., 0], xp[..., 1]
    c, s = cos[:T][None, :, None, :], sin[:T][None, :, None, :]
    return torch.stack((a * c - b * s, a * s + b * c), dim=-1).reshape(B, T, H, hd)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        kv = cfg.n_kv_heads * cfg.head_dim
        self.attn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, kv, bias=False)
        self.wv = nn.Linear(cfg.dim, kv, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.w_gate = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.w_up = nn.Linear(cfg.dim, cfg.ffn, bias=False)
        self.w_down = nn.Linear(cfg.ffn, cfg.dim, bias=False)

    def forward(self, x, cos, sin, mask, kv_f16):
        cfg = self.cfg
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = apply_rope(self.wq(h).view(B, T, cfg.n_heads, cfg.head_dim), cos, sin)
        k = apply_rope(self.wk(h).view(B, T, cfg.n_kv_heads, cfg.head_dim), cos, sin)
        v = self.wv(h).view(B, T, cfg.n_kv_heads, cfg.head_dim)
        if kv_f16:  # the engine's KV cache holds f16
            k, v = k.half().float(), v.half().float()
        group = cfg.n_heads // cfg.n_kv_heads
        k = k.repeat_interleave(group, dim=2)  # head h reads kv head h // group
        v = v.repeat_interleave(group, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, T, hd]
        att = (q @ k.transpose(-1, -2)) * (1.0 / cfg.head_dim ** 0.5)
        att = att.masked_fill(mask[:T, :T], float('-inf')).softmax(-1)
        out = (att @ v).transpose(1, 2).reshape(B, T, cfg.n_heads * cfg.head_dim)
        x = x + self.wo(out)
        h = self.ffn_norm(x)
        return x + self.w_down(F.silu(self.w_gate(h)) * self.w_up(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok_embd = nn.Embedding(cfg.vocab, cfg.dim)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.out_norm = RMSNorm(cfg.dim, cfg.rms_eps)
        self.output = None if cfg.tied else nn.Linear(cfg.dim, cfg.vocab, bias=False)
        cos, sin = rope_tables(cfg, cfg.ctx)
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        self.register_buffer('mask', torch.ones(cfg.ctx, cfg.ctx, dtype=torch.bool).triu(1),
                             persistent=False)

    def init_weights(self, std=0.02):
        """slm-forge's scheme: N(0, std), residual projections / sqrt(2 layers), norms 1."""
        out_std = std / (2 * self.cfg.n_layers) ** 0.5
        for name, p in self.named_parameters():
            if name.endswith('norm.weight'):
                nn.init.ones_(p)
            elif name.endswith('wo.weight') or name.endswith('w_down.weight'):
                nn.init.normal_(p, 0.0, out_std)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(self, ids, kv_f16=False, select=None):
        """ids [B, T] (T <= ctx) -> logits [B, T, vocab]; with select (a bool [B, T]),
        only the logits of the selected positions, [n_selected, vocab]."""
        x = self.tok_embd(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin, self.mask, kv_f16)
        if select is not None:
            x = x[select]
        x = self.out_norm(x)
        w = self.tok_embd.weight if self.output is None else self.output.weight
        return x @ w.t()

    def gguf_tensors(self):
        """(GGUF name, f32 tensor) in slm-forge's order; a tensor's torch layout
        [rows, row length] is GGUF's ne reversed."""
        out = [('token_embd.weight', self.tok_embd.weight)]
        for i, b in enumerate(self.blocks):
            out += [('blk.%d.attn_norm.weight' % i, b.attn_norm.weight),
                    ('blk.%d.attn_q.weight' % i, b.wq.weight),
                    ('blk.%d.attn_k.weight' % i, b.wk.weight),
                    ('blk.%d.attn_v.weight' % i, b.wv.weight),
                    ('blk.%d.attn_output.weight' % i, b.wo.weight),
                    ('blk.%d.ffn_norm.weight' % i, b.ffn_norm.weight),
                    ('blk.%d.ffn_gate.weight' % i, b.w_gate.weight),
                    ('blk.%d.ffn_up.weight' % i, b.w_up.weight),
                    ('blk.%d.ffn_down.weight' % i, b.w_down.weight)]
        out.append(('output_norm.weight', self.out_norm.weight))
        if self.output is not None:
            out.append(('output.weight', self.output.weight))
        return [(n, t.detach().float().contiguous()) for n, t in out]


# ---- the AUTW weights file (slm-forge --weights) ----------------------------------------

AUTW_MAGIC = b'AUTW'
AUTW_VERSION = 1


def autw_bytes(tensors):
    """AUTW file contents for [(name, tensor)]: "AUTW", u32 version 1, u32 count, then per
    tensor u32 name length, name, u32 n_dims, u64 ne[n_dims] (ne[0] = row length), f32 data,
    all little-endian."""
    parts = [AUTW_MAGIC, struct.pack('<II', AUTW_VERSION, len(tensors))]
    for name, t in tensors:
        nb = name.encode()
        ne = list(reversed(t.shape))
        parts.append(struct.pack('<I', len(nb)) + nb + struct.pack('<I', len(ne)))
        parts.append(struct.pack('<%dQ' % len(ne), *ne))
        parts.append(t.detach().cpu().float().contiguous().numpy().astype('<f4').tobytes())
    return b''.join(parts)


def write_autw(path, tensors):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = '%s.tmp.%d' % (path, os.getpid())
    with open(tmp, 'wb') as f:
        f.write(autw_bytes(tensors))
    os.replace(tmp, path)


def read_autw(path):
    """[(name, tensor)] from an AUTW file (for loading a trained model back)."""
    import numpy as np
    with open(path, 'rb') as f:
        data = f.read()
    if data[:4] != AUTW_MAGIC:
        raise ValueError('%s: not an AUTW file' % path)
    version, count = struct.unpack_from('<II', data, 4)
    if version != AUTW_VERSION:
        raise ValueError('%s: version %d' % (path, version))
    off, out = 12, []
    for _ in range(count):
        (nlen,) = struct.unpack_from('<I', data, off)
        name = data[off + 4:off + 4 + nlen].decode()
        off += 4 + nlen
        (nd,) = struct.unpack_from('<I', data, off)
        ne = struct.unpack_from('<%dQ' % nd, data, off + 4)
        off += 4 + 8 * nd
        n = 1
        for d in ne:
            n *= d
        arr = np.frombuffer(data, dtype='<f4', count=n, offset=off).astype('float32')
        out.append((name, torch.from_numpy(arr.copy()).reshape(tuple(reversed(ne)))))
        off += 4 * n
    if off != len(data):
        raise ValueError('%s: %d trailing bytes' % (path, len(data) - off))
    return out


def load_autw_into(model, path):
    tensors = dict(read_autw(path))
    with torch.no_grad():
        own = dict(_param_map(model))
        if set(own) != set(tensors):
            raise ValueError('%s: tensors differ from the model: %s' % (
                path, sorted(set(own) ^ set(tensors))[:5]))
        for n, p in own.items():
            p.copy_(tensors[n].reshape(p.shape))


def _param_map(model):
    names = [n for n, _ in model.gguf_tensors()]
    params = [model.tok_embd.weight]
    for b in model.blocks:
        params += [b.attn_norm.weight, b.wq.weight, b.wk.weight, b.wv.weight, b.wo.weight,
                   b.ffn_norm.weight, b.w_gate.weight, b.w_up.weight, b.w_down.weight]
    params.append(model.out_norm.weight)
    if model.output is not None:
        params.append(model.output.weight)
    return list(zip(names, params))


# ---- the engine's tokenizer and the facts ------------------------------------------------

def slm_tok(model_gguf, lines, exe=None):
    """Token ids of each line, from build/bin/slm-tok (the engine's tokenizer, no bos/eos)."""
    exe = exe or os.path.join(BIN, 'slm-tok')
    for s in lines:
        if '\n' in s or '\r' in s:
            raise ValueError('a line to tokenize holds a newline: %r' % s)
    r = subprocess.run([exe, model_gguf], input=''.join(s + '\n' for s in lines).encode(),
                       capture_output=True, check=False)
    if r.returncode != 0:
        raise RuntimeError('slm-tok failed: %s' % r.stderr.decode(errors='replace').strip())
    out = r.stdout.decode().split('\n')
    if out and out[-1] == '':
        out.pop()
    if len(out) != len(lines):
        raise RuntimeError('slm-tok printed %d lines for %d' % (len(out), len(lines)))
    return [[int(x) for x in l.split()] for l in out]


def read_facts(path):
    """[(prompt, answer, category)] from corpus.py's facts.tsv."""
    facts = []
    with open(path, encoding='utf-8') as f:
        for no, line in enumerate(f, 1):
            parts = line.rstrip('\n').split('\t')
            if len(parts) != 3:
                raise ValueError('%s:%d: expected prompt<TAB>answer<TAB>category' % (path, no))
            facts.append(tuple(parts))
    return facts


def encode_facts(model_gguf, facts):
    """Per fact: (ids, n_prompt) where ids = [BOS] + tokens(prompt + ' ' + answer) + [EOS]
    and ids[:n_prompt] is exactly what the engine feeds for the prompt (BOS + its tokens).
    Fails if the prompt's tokens are not a prefix of the whole line's."""
    prompts = slm_tok(model_gguf, [p for p, _, _ in facts])
    lines = slm_tok(model_gguf, ['%s %s' % (p, a) for p, a, _ in facts])
    out = []
    for (p, a, _), pi, li in zip(facts, prompts, lines):
        if li[:len(pi)] != pi or len(li) == len(pi):
            raise ValueError('tokens of prompt %r are not a proper prefix of those of its line'
                             ' (%s vs %s)' % (p, pi, li))
        out.append(([BOS] + li + [EOS], 1 + len(pi)))
    return out
