"""The fast evaluation path: each question's prompt is run ONCE, and its keys/values serve both the
scoring of its continuations (answer, paraphrase, perturbed answers) and its greedy answer.

Per batch of prompts (sorted by length, so the left padding is small; at most `max_batch` rows and
`batch_tokens` cached positions, generation budget included):
1. prefill: p[:-1] of every prompt, left-padded, into a preallocated BufferCache (G, heads, Lp-1, d);
2. scoring: the prompt's cache rows are copied to one row per continuation a (sorted by length,
   sub-batches within the same limits) and [p[-1]] + a runs on top, right-padded; the LM head runs
   only at the positions that predict an answer token, in slices (the float32 log-softmax of all
   positions at once would dominate peak memory with a 32k-256k vocabulary); the continuations
   marked `detail` also get each position's mean / variance of log p and argmax (token_stats.py),
   from the same slices of logits, on their tokens only;
3. generation, in the same buffer: p[-1] at its column, then one token per step for all rows that
   have not emitted EOS; finished rows are dropped (compacted out of the buffer) once they are at
   least 1/8 of the batch, so an answer that ends early stops costing compute.
Pad keys are masked; each real token sees exactly its own prefix at its own positions, so scores
equal the one-pair-per-forward baseline and answers equal HF `generate` (tests/evaluation/test_decoding.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from polyunlearn.evaluation.kvcache import BufferCache, FastModel, greedy_argmax
from polyunlearn.evaluation.token_stats import split_rows, token_stats

Tokens = tuple[int, ...]


@dataclass
class Job:
    """One prompt: the continuations to score after it, and whether to generate from it."""

    prompt: Tokens
    conts: list[Tokens] = field(default_factory=list)
    generate: bool = False
    detail: set[Tokens] = field(default_factory=set)  # continuations that also need mu / var / argmax


@dataclass
class TokenScores:
    """One scored continuation, per answer token: log p(target) and, for a `detail` continuation,
    mean and variance of log p over the vocabulary and target == argmax (empty lists otherwise)."""

    logp: list[float]
    mu: list[float] = field(default_factory=list)
    var: list[float] = field(default_factory=list)
    top1: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Limits:
    batch_tokens: int  # cached positions per batch: rows x (prefix + new tokens)
    max_batch: int  # rows per forward
    max_new_tokens: int = 0  # greedy budget of the generating jobs


def job_batches(jobs: Sequence[Job], lim: Limits) -> list[list[Job]]:
    """Jobs in batches of similar prompt length within the row and token limits."""
    order = sorted(jobs, key=lambda j: len(j.prompt))
    batches: list[list[Job]] = []
    cur: list[Job] = []
    gen = False  # does the current batch generate (its cache then has room for the budget)?
    for j in order:
        width = (
            len(j.prompt) - 1 + (lim.max_new_tokens if gen or j.generate else 0)
        )  # sorted: the newcomer is the longest
        if cur and (len(cur) + 1 > lim.max_batch or (len(cur) + 1) * max(1, width) > lim.batch_tokens):
            batches.append(cur)
            cur, gen = [], False
        cur.append(j)
        gen = gen or j.generate
    if cur:
        batches.append(cur)
    return batches


@torch.inference_mode()
def run_jobs(fm: FastModel, jobs: Sequence[Job], pad: int, eos: int | None, lim: Limits) -> tuple[dict, dict]:
    """({(prompt, cont): TokenScores}, {prompt: generated token ids (EOS included if emitted)})."""
    scores: dict[tuple[Tokens, Tokens], TokenScores] = {}
    answers: dict[Tokens, list[int]] = {}
    for batch in job_batches(jobs, lim):
        gen_rows = [g for g, j in enumerate(batch) if j.generate]
        pb = _prefill(fm, [j.prompt for j in batch], pad, lim.max_new_tokens if gen_rows else 0)
        conts = [(g, c) for g, j in enumerate(batch) for c in j.conts]
        for sub in _score_batches(conts, pb.width, lim):
            prompts = [batch[g].prompt for g, _ in sub]
            detail = [c in batch[g].detail for g, c in sub]
            for (g, c), ts in zip(sub, _score(fm, pb, prompts, sub, pad, detail)):
                scores[(batch[g].prompt, c)] = ts
        if gen_rows and lim.max_new_tokens > 0:
            for g, toks in zip(
                gen_rows, _generate(fm, pb, gen_rows, [batch[g].prompt[-1] for g in gen_rows], eos, lim.max_new_tokens)
            ):
                answers[batch[g].prompt] = toks
    return scores, answers


@dataclass
class _Prefilled:
    cache: BufferCache
    pads: torch.Tensor  # (G,) left padding of each prompt
    lengths: torch.Tensor  # (G,) prompt lengths
    width: int  # Lp - 1: prefix columns in the cache


def _prefill(fm: FastModel, prompts: Sequence[Tokens], pad: int, max_new: int) -> _Prefilled:
    """Run p[:-1] of every prompt into a cache left-padded to Lp - 1 columns, with room for
    generation. Rows of similar length are run together in their own columns (length_chunks), so
    a short prompt in a batch with long ones costs little padding."""
    lp = max(len(p) for p in prompts)
    dev = fm.device
    lengths = torch.tensor([len(p) for p in prompts], device=dev)
    w = lp - 1
    cache = BufferCache(fm.n_layers, w + max_new)
    cache.allocate(len(prompts), fm.probe)
    for r0, r1 in length_chunks([len(p) for p in prompts]):
        ws = max(len(p) for p in prompts[r0:r1]) - 1  # this chunk's prefix width
        if ws < w:
            cache.zero(r0, r1, 0, w - ws)  # pad columns never run: masked, but must not hold NaN bits
        if ws == 0:
            continue
        chunk = prompts[r0:r1]
        ids = torch.tensor([[pad] * (ws + 1 - len(p)) + list(p[:-1]) for p in chunk], device=dev)  # (g, ws)
        pads = ws + 1 - lengths[r0:r1]
        col = torch.arange(ws, device=dev)
        real = col[None] >= pads[:, None]  # (g, ws)
        # Causal among real tokens; each pad attends to itself only (a fully masked row would give NaN).
        mask = (col[None, :] <= col[:, None])[None] & real[:, None, :] | torch.eye(ws, dtype=torch.bool, device=dev)[
            None
        ]
        pos = (col[None] - pads[:, None]).clamp(min=0)
        window = cache.window(r0, r1, w - ws, w)
        fm.decoder(
            input_ids=ids, attention_mask=mask[:, None], position_ids=pos, past_key_values=window, use_cache=True
        )
        window.check_filled(ws)
    cache.set_filled(w)
    return _Prefilled(cache, lp - lengths, lengths, w)


def length_chunks(lengths: Sequence[int], slack: float = 0.15, min_tokens: int = 512) -> list[tuple[int, int]]:
    """Cut consecutive rows (sorted by length) into chunks whose padding stays within `slack` of
    their real tokens, except that a chunk under min_tokens grows anyway (tiny forwards are slow)."""
    out: list[tuple[int, int]] = []
    start, real = 0, 0
    for i, n in enumerate(lengths):
        rows = i - start
        if rows and real >= min_tokens and max(lengths[start : i + 1]) * (rows + 1) > (1 + slack) * (real + n):
            out.append((start, i))
            start, real = i, 0
        real += n
    if lengths:
        out.append((start, len(lengths)))
    return out


def _score_batches(conts: list[tuple[int, Tokens]], width: int, lim: Limits) -> list[list[tuple[int, Tokens]]]:
    """Continuation rows sorted by length, cut at max_batch rows or batch_tokens cached positions."""
    out: list[list[tuple[int, Tokens]]] = []
    cur: list[tuple[int, Tokens]] = []
    for row in sorted(conts, key=lambda r: len(r[1])):
        t = 1 + len(row[1])  # sorted: the newcomer is the longest
        if cur and (len(cur) + 1 > lim.max_batch or (len(cur) + 1) * (width + t) > lim.batch_tokens):
            out.append(cur)
            cur = []
        cur.append(row)
    if cur:
        out.append(cur)
    return out


def _score(
    fm: FastModel,
    pb: _Prefilled,
    prompts: Sequence[Tokens],
    rows: Sequence[tuple[int, Tokens]],
    pad: int,
    detail: Sequence[bool] | None = None,
) -> list[TokenScores]:
    """Per-token log p(a_t | p, a_<t) of each row (g, a): [p[-1]] + a on top of prompt g's cache;
    with the distribution statistics for the rows where detail is True."""
    dev = fm.device
    g_idx = torch.tensor([g for g, _ in rows], device=dev)
    T = 1 + max(len(a) for _, a in rows)
    w = pb.width
    cache = pb.cache.gather(g_idx, w + T)
    ids = torch.tensor(
        [[p[-1], *a] + [pad] * (T - 1 - len(a)) for p, (_, a) in zip(prompts, rows)], device=dev
    )  # (R, T)
    t = torch.arange(T, device=dev)
    pos = (pb.lengths[g_idx] - 1)[:, None] + t[None]
    real = torch.arange(w, device=dev)[None] >= pb.pads[g_idx][:, None]  # (R, w) prefix columns
    causal = (t[None, :] <= t[:, None])[None].expand(len(rows), T, T)
    mask = torch.cat([real[:, None, :].expand(len(rows), T, w), causal], dim=2)[:, None]  # (R, 1, T, w + T)
    keep = t[None] < torch.tensor([len(a) for _, a in rows], device=dev)[:, None]  # position t predicts a[t]
    h = fm.decoder(
        input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True
    ).last_hidden_state
    cache.check_filled(w + T)
    targets = torch.tensor([tok for _, a in rows for tok in a], device=dev)
    detail = list(detail) if detail is not None else [False] * len(rows)
    need = [d for (_, a), d in zip(rows, detail) for _ in a]
    logp, extra = answer_scores(fm, h[keep], targets, need)
    logps = split_rows(logp.cpu().tolist(), [len(a) for _, a in rows])
    stats = [split_rows(x.cpu().tolist(), [len(a) for (_, a), d in zip(rows, detail) if d]) for x in extra]
    out, k = [], 0
    for lp, d in zip(logps, detail):
        out.append(TokenScores(lp, stats[0][k], stats[1][k], stats[2][k]) if d else TokenScores(lp))
        k += d
    return out


def answer_scores(
    fm: FastModel,
    hidden: torch.Tensor,
    targets: torch.Tensor,
    need: Sequence[bool] | None = None,
    chunk_elems: int = 2**23,
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """(log p(target) for each row of hidden (N, H), (mu, var, top1) of the rows where need is
    True, in row order): the LM head runs once per row, over a few rows at a time so that at most
    chunk_elems logits exist at once, and the statistics come from the same logits, computed as
    token_stats.py computes them on the other paths (float32, only on the rows that need them)."""
    rows = max(1, chunk_elems // fm.vocab)
    parts: list[torch.Tensor] = []
    extra: list[tuple[torch.Tensor, ...]] = []
    for i in range(0, len(targets), rows):
        logits, t = fm.head(hidden[i : i + rows]), targets[i : i + rows]
        parts.append(-F.cross_entropy(logits.float(), t, reduction="none"))
        sel = [k for k, d in enumerate(need[i : i + rows]) if d] if need is not None else []
        if sel:
            idx = torch.tensor(sel, device=logits.device)
            extra.append(token_stats(logits[idx], t[idx])[1:])
    logp = torch.cat(parts) if parts else hidden.new_zeros(0, dtype=torch.float32)
    if not extra:
        empty = hidden.new_zeros(0, dtype=torch.float32)
        return logp, (empty, empty, torch.zeros(0, dtype=torch.bool, device=hidden.device))
    return logp, tuple(torch.cat(x) for x in zip(*extra))


def _generate(
    fm: FastModel, pb: _Prefilled, rows: list[int], last: list[int], eos: int | None, max_new: int
) -> list[list[int]]:
    """Greedy decoding of prompt rows `rows` from the prefilled cache; returns each row's tokens."""
    dev = fm.device
    cache = pb.cache
    sel = torch.tensor(rows, device=dev)
    if len(rows) < len(pb.lengths):
        cache.keep_rows(sel)  # prompts that were only scored leave the batch
    cap = pb.width + max_new
    valid = (torch.arange(cap, device=dev)[None] >= pb.pads[sel][:, None])[:, None, None, :]  # (B, 1, 1, cap)
    pos = (pb.lengths[sel] - 1)[:, None]  # (B, 1): position of p[-1]
    tok = torch.tensor(last, device=dev)[:, None]
    B = len(rows)
    out = torch.full((B, max_new), -1, dtype=torch.long, device=dev)
    live = torch.arange(B, device=dev)  # original row of each row still in the cache
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    for s in range(max_new):
        n = cache.filled
        h = fm.decoder(
            input_ids=tok, attention_mask=valid[..., : n + 1], position_ids=pos, past_key_values=cache, use_cache=True
        ).last_hidden_state
        nxt = greedy_argmax(fm.head(h[:, -1]))
        out[live, s] = nxt
        if s == max_new - 1:
            break
        if eos is not None:
            done |= nxt == eos
            n_done = int(done.sum())
            if n_done == len(live):
                break
            if n_done and 8 * n_done >= len(live):  # compact: drop the finished rows
                keep = (~done).nonzero()[:, 0]
                cache.keep_rows(keep)
                valid, pos, nxt, live, done = valid[keep], pos[keep], nxt[keep], live[keep], done[keep]
        tok = nxt[:, None]
        pos = pos + 1
    result = []
    for toks in out.tolist():
        if eos is not None and eos in toks:
            toks = toks[: toks.index(eos) + 1]
        result.append([t for t in toks if t >= 0])
    return result
