"""Membership-inference attack scores of polyunlearn and MUSE's PrivLeak (spec.md, "Metrics":
"Membership attacks (forget vs holdout AUC): LOSS, zlib, Min-K% with k = 0.4 on answer tokens
without EOS, Min-K%++; PrivLeak exactly as MUSE defines it").

Pure functions on plain numbers. Convention used throughout: a *member* is a text the model
was trained on (the forget set); a non-member is held out. `auc` expects scores where HIGHER
means "more likely a member", so:

- `min_k_percent` and `min_k_plus_plus` already point that way (a higher mean log-prob, or
  z-score, = more familiar text);
- loss / NLL and `zlib_ratio` point the other way (low loss = member): pass their negatives.

open-unlearning scores the other way round (its scores are negated, higher = non-member) and
labels holdout as 1, which gives the same AUC: 1 when the forget set is plainly more likely.
After successful unlearning the forget set should look like holdout data: AUC near 0.5.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["auc", "min_k_percent", "min_k_plus_plus", "privleak", "zlib_ratio"]

# MUSE (privleak_auc_key "forget_holdout_Min-40%") and open-unlearning (mia_min_k: k 0.4).
MIN_K = 0.4


def _lowest_k_count(n: int, k: float) -> int:
    """How many of n tokens Min-K% averages: int(n * k) but at least one, exactly as MUSE and
    open-unlearning count them (int() truncates; for k = 0.4 or 0.2 this equals floor(n k)
    for every n below 100,000, checked)."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be a fraction in (0, 1], got {k}")
    return max(1, int(n * k))


def _finite_array(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray([float(v) for v in values], dtype=np.float64)
    if arr.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def min_k_percent(token_logprobs: Sequence[float], k: float = MIN_K) -> float:
    """Min-K% Prob (Shi et al. 2024, "Detecting Pretraining Data from LLMs"): the mean of the
    lowest k fraction of the text's token log-probabilities, over int(k * n) tokens but at
    least one. Higher (closer to 0) = more likely a member: even the model's least expected
    tokens of a trained-on text are not that unexpected. Pass the answer tokens WITHOUT the
    appended EOS (`Score.content`), as MUSE and open-unlearning do.
    """
    values = _finite_array(token_logprobs, "token_logprobs")
    return float(np.sort(values)[: _lowest_k_count(values.size, k)].mean())


def min_k_plus_plus(
    token_logprobs: Sequence[float], token_mu: Sequence[float], token_var: Sequence[float], k: float = MIN_K
) -> float:
    """Min-K%++ (Zhang et al. 2024, "Min-K%++: Improved Baseline for Detecting Pre-Training
    Data"): per token, z = (log p(x_t) - mu_t) / sigma_t, where mu_t and sigma_t^2 are the mean
    and variance of log p(v) over the vocabulary under the model's own next-token distribution
    p at that position; the score is the mean of the lowest k fraction of z (as Min-K%).
    sigma^2 is floored at 1e-6 as open-unlearning does (a one-hot distribution has variance 0).
    Higher = more likely a member (open-unlearning reports the negative).
    """
    lp = _finite_array(token_logprobs, "token_logprobs")
    mu = _finite_array(token_mu, "token_mu")
    var = _finite_array(token_var, "token_var")
    if not lp.size == mu.size == var.size:
        raise ValueError(f"{lp.size} token log-probs but {mu.size} means and {var.size} variances")
    z = (lp - mu) / np.sqrt(np.maximum(var, 1e-6))
    return float(np.sort(z)[: _lowest_k_count(z.size, k)].mean())


def zlib_ratio(mean_nll: float, text: str) -> float:
    """zlib attack score (Carlini et al. 2021, "Extracting Training Data from LLMs"): the
    model's MEAN per-token NLL of the text divided by its zlib entropy, the byte length of
    zlib.compress(text as UTF-8) at the default level (as MUSE and open-unlearning: the mean
    loss, not the total). Dividing by a model-free measure of how predictable the text is
    removes the "this text is just easy" part of a low loss.
    LOWER = more likely a member (pass -zlib_ratio to `auc`).
    """
    mean_nll = float(mean_nll)
    if math.isnan(mean_nll):
        raise ValueError("mean_nll is NaN")
    # Never zero: even b"" compresses to 8 bytes (2 header + 2 deflate + 4 adler32).
    return mean_nll / len(zlib.compress(text.encode("utf-8")))


def privleak(auc_model: float, auc_retain_model: float) -> float | None:
    """MUSE's PrivLeak (Shi et al. 2024, "MUSE"), as MUSE and open-unlearning compute it: with
    AUC_M = 1 - AUC (MUSE reports its Min-K% AUCs this way round),
    privleak = 100 (AUC_M - AUC_M,retain) / AUC_M,retain. Near 0 = as private as the retain
    model; a model that still leaks (AUC ~1 -> AUC_M ~0) scores about -100; an over-unlearned
    one is positive. None when AUC_M,retain is 0 (the ratio is undefined; open-unlearning adds
    1e-10 to the denominator and reports about -1e12 there)."""
    a, r = float(auc_model), float(auc_retain_model)
    if math.isnan(a) or math.isnan(r):
        raise ValueError(f"privleak needs two AUCs, got {a} and {r}")
    ref = 1.0 - r
    if ref == 0.0:
        return None
    return 100.0 * ((1.0 - a) - ref) / ref


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
