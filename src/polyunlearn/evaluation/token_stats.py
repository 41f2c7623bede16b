"""Per-token numbers of the model's next-token distributions at answer positions, shared by every
scoring path (scoring.py's batched and prefix-sharing paths, decoding.py's fast path), so all three
give the same values: log p of the target token (what Prob and the truth ratio need, for every
scored pair) and, for the pairs that need them (an item's answer: Min-K%++, Exact Memorization,
Extraction Strength), the mean and variance of log p over the vocabulary and whether the target is
the argmax. All in float32, a few rows at a time: a float32 log-softmax of all rows at once would
multiply peak memory (N x V is large with a 256k vocabulary)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.evaluation.kvcache import greedy_argmax


def target_logp(logits: torch.Tensor, targets: torch.Tensor, chunk_elems: int = 2**24) -> torch.Tensor:
    """log p(target) per row of logits (N, V), in float32, a few rows at a time (what a pair that
    needs no distribution statistics costs: one cross-entropy)."""
    rows = max(1, chunk_elems // logits.size(-1))
    parts = [
        -F.cross_entropy(logits[i : i + rows].float(), targets[i : i + rows], reduction="none")
        for i in range(0, len(targets), rows)
    ]
    return torch.cat(parts) if parts else logits.new_zeros(0, dtype=torch.float32)


def token_stats(logits: torch.Tensor, targets: torch.Tensor, chunk_elems: int = 2**23) -> tuple[torch.Tensor, ...]:
    """For each row of logits (N, V) and its target (N,): log p(target), E_v[log p(v)],
    Var_v[log p(v)] (both under p itself) and target == argmax (first index on ties, as
    torch.argmax), in float32, a few rows at a time. log p(target) is the number cross-entropy
    gives."""
    rows = max(1, chunk_elems // logits.size(-1))
    logp, mu, var, top1 = [], [], [], []
    for i in range(0, len(targets), rows):
        lsm = F.log_softmax(logits[i : i + rows].float(), dim=-1)  # (n, V)
        t = targets[i : i + rows]
        # p log p and p (log p)^2 are 0 where p is 0 (log p = -inf for a -inf logit: 0 * -inf = nan -> 0).
        plogp = (lsm.exp() * lsm).nan_to_num_(0.0)
        m = plogp.sum(-1)
        second = plogp.mul_(lsm).nan_to_num_(0.0).sum(-1)
        logp.append(lsm.gather(1, t[:, None]).squeeze(1))
        mu.append(m)
        var.append((second - m * m).clamp_min(0.0))
        # greedy_argmax = torch.argmax (ties, NaN) at a fraction of its CPU cost over a 32k+ vocabulary.
        top1.append(greedy_argmax(lsm) == t)
    if not logp:
        empty = logits.new_zeros(0, dtype=torch.float32)
        return empty, empty, empty, torch.zeros(0, dtype=torch.bool, device=logits.device)
    return torch.cat(logp), torch.cat(mu), torch.cat(var), torch.cat(top1)


def split_rows(values: list, lengths: list[int]) -> list[list]:
    """values (row-major, one per token) cut into consecutive rows of the given lengths."""
    out, start = [], 0
    for n in lengths:
        out.append(values[start : start + n])
        start += n
    return out
