"""Membership-inference attack scores of polyunlearn (spec.md, "Metrics": "Membership attacks
as a bonus (Min-K%, zlib, loss AUC forget vs holdout)").

Pure functions on plain numbers. Convention used throughout: a *member* is a text the model
was trained on (the forget set); a non-member is held out. `auc` expects scores where HIGHER
means "more likely a member", so:

- `min_k_percent` already points that way (a higher mean log-prob = more familiar text);
- loss / NLL and `zlib_ratio` point the other way (low loss = member): pass their negatives.

After successful unlearning the forget set should look like holdout data: AUC near 0.5.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["min_k_percent", "zlib_ratio", "auc"]


def min_k_percent(token_logprobs: Sequence[float], k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al. 2024, "Detecting Pretraining Data from LLMs"): the mean of the
    lowest k fraction of the text's token log-probabilities, over floor(k * n) tokens but at
    least one. Higher (closer to 0) = more likely a member: even the model's least expected
    tokens of a trained-on text are not that unexpected.
    """
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    values = np.asarray([float(v) for v in token_logprobs], dtype=np.float64)
    if values.size == 0:
        raise ValueError("token_logprobs is empty")
    if np.isnan(values).any():
        raise ValueError("token_logprobs contains NaN")
    # The epsilon keeps float products such as 100 * 0.29 = 28.999999999999996 from losing a token.
    count = max(1, int(math.floor(values.size * k + 1e-9)))
    return float(np.sort(values)[:count].mean())


def zlib_ratio(total_nll: float, text: str) -> float:
    """zlib attack score (Carlini et al. 2021, "Extracting Training Data from LLMs"): the
    model's NLL of the text divided by its zlib entropy, the byte length of
    zlib.compress(text as UTF-8) at the default level. Dividing by a model-free measure of how
    predictable the text is removes the "this text is just easy" part of a low loss.
    LOWER = more likely a member (pass -zlib_ratio to `auc`).
    """
    total_nll = float(total_nll)
    if math.isnan(total_nll):
        raise ValueError("total_nll is NaN")
    # Never zero: even b"" compresses to 8 bytes (2 header + 2 deflate + 4 adler32).
    return total_nll / len(zlib.compress(text.encode("utf-8")))


def auc(positive_scores: Sequence[float], negative_scores: Sequence[float]) -> float:
    """ROC AUC of an attack: positives = members (forget set), negatives = non-members
    (holdout); scores must be higher-is-member. Equals P(score_member > score_nonmember) with
    ties counted 0.5, computed through the Mann-Whitney U statistic on average ranks:
    AUC = (sum of member ranks - n_pos (n_pos + 1) / 2) / (n_pos n_neg). O(n log n).
    1.0 = perfect attack, 0.5 = chance, 0.0 = perfectly inverted.
    """
    pos = np.asarray([float(v) for v in positive_scores], dtype=np.float64)
    neg = np.asarray([float(v) for v in negative_scores], dtype=np.float64)
    if pos.size == 0:
        raise ValueError("positive_scores is empty")
    if neg.size == 0:
        raise ValueError("negative_scores is empty")
    if np.isnan(pos).any() or np.isnan(neg).any():
        raise ValueError("scores contain NaN")
    ranks = stats.rankdata(np.concatenate([pos, neg]))  # average ranks: a tie gives half a win
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))
