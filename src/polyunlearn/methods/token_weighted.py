"""Token-weighted gradient ascent: WGA and SatImp. Both ascend the answer tokens' cross-entropy
like GradAscent, but weigh each token by a detached function of its own probability p_t, so the
tokens that carry the memorised fact (high p) are pushed hardest and the gradient fades as they
are forgotten (no collapse to ever larger NLL, the failure of plain gradient ascent).

    forget_term = mean over answer tokens t of  w(p_t) * log p_t     (= -mean w(p_t) * CE_t)
    WGA:    w = p^beta                  SatImp: w = p^beta1 * (1 - p)^beta2

Weights are detached: they scale each token's gradient and are not differentiated themselves.
"""

from __future__ import annotations

import torch

from polyunlearn.core.logprobs import token_logprobs
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, combine, register, retain_term


def weighted_ascent_term(logp: torch.Tensor, mask: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean over the answer tokens of weight_t * logp_t; logp, mask, weight (B, T-1). The weight
    is detached, so d term / d logp_t = weight_t / (number of answer tokens)."""
    return (weight.detach() * logp * mask).sum() / mask.sum().clamp_min(1.0)


def wga_forget_term(logits: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    """WGA: mean_t p_t^beta * log p_t over answer tokens (logits (B, T, V), labels (B, T))."""
    logp, mask = token_logprobs(logits, labels)
    return weighted_ascent_term(logp, mask, torch.exp(beta * logp))


def satimp_forget_term(logits: torch.Tensor, labels: torch.Tensor, beta1: float, beta2: float) -> torch.Tensor:
    """SatImp: mean_t p_t^beta1 (1 - p_t)^beta2 * log p_t over answer tokens."""
    logp, mask = token_logprobs(logits, labels)
    p = torch.exp(logp)
    return weighted_ascent_term(logp, mask, p.pow(beta1) * (1.0 - p).clamp_min(0.0).pow(beta2))


@register(
    "wga",
    summary="mean_t p_t^beta log p_t over forget answer tokens (p detached) + alpha retain term",
    citation="Wang et al. 2025, Rethinking LLM Unlearning Objectives (G-effect), weighted gradient ascent; open-unlearning WGA",
    retain="choice",
    params={
        "beta": Param(
            1.0, "inverse temperature of the weights (WGA 1, UNDIAL 10, NPO/IdkDPO/AltPO 0.1, SimNPO 4.5)", minimum=0
        )
    },
)
def wga(ctx: Context, forget: Batch, retain: Batch | None):
    """WGA, weighted gradient ascent (Wang et al. 2025, "Rethinking LLM Unlearning Objectives: A
    Gradient Perspective and Go Beyond", the WGA objective): forget_term = -mean_t p_t^beta CE_t
    over the forget answer tokens, with p_t = p_theta(y_t | y_<t, x) detached. Reference defaults
    (open-unlearning configs/trainer/WGA.yaml): beta 1, gamma 1, alpha 1, retain NLL, lr 1e-5."""
    forget_term = wga_forget_term(forward_logits(ctx.model, forget), forget["labels"], ctx.params["beta"])
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))


@register(
    "satimp",
    summary="mean_t p_t^beta1 (1-p_t)^beta2 log p_t over forget answer tokens (p detached) + alpha retain term",
    citation="Yang et al. 2025 (ICML), Exploring Criteria of Loss Reweighting to Enhance LLM Unlearning; open-unlearning SatImp",
    retain="choice",
    params={
        "beta1": Param(5.0, "SatImp: exponent of p (saturation: favours tokens still likely)", minimum=0),
        "beta2": Param(1.0, "SatImp: exponent of 1 - p (importance: fades tokens already certain)", minimum=0),
    },
)
def satimp(ctx: Context, forget: Batch, retain: Batch | None):
    """SatImp (Yang et al. 2025, saturation x importance reweighting): forget_term = -mean_t
    p_t^beta1 (1 - p_t)^beta2 CE_t over the forget answer tokens, p_t detached; beta1 5, beta2 1.

    gamma and alpha: open-unlearning disagrees with itself. configs/trainer/SatImp.yaml sets
    gamma 0.1 and alpha 1.0; the trainer's own defaults (src/trainer/unlearn/satimp.py) are
    gamma 1.0 and alpha 0.1. polyunlearn keeps its shared gamma 1 (the forget-term weight of every
    method) and the run's alpha: the weight p^5 (1 - p) is at most 0.067 (at p = 5/6), so the
    forget term is already >= 15x weaker than GradAscent's per token, and the config's extra
    gamma 0.1 would shrink it another 10x; the trainer defaults keep the forget term unscaled,
    as here. Give --gamma 0.1 to reproduce the config's weighting."""
    logits = forward_logits(ctx.model, forget)
    forget_term = satimp_forget_term(logits, forget["labels"], ctx.params["beta1"], ctx.params["beta2"])
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))
