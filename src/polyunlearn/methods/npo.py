"""Preference-style objectives without a winner: NPO (the papers) and SimNPO (no reference)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.core.logprobs import sequence_logprob
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, combine, register, retain_term


@register(
    "npo",
    summary="-(2/beta) logsigmoid(-beta (log p_theta(y|x) - log p_ref(y|x))), log-probs summed over answer tokens",
    citation="Zhang et al. 2024, Negative Preference Optimization, eq. 3",
    retain="choice",
    reference=True,
    params={
        "beta": Param(
            0.1,
            "inverse temperature (per method: NPO, IdkDPO, AltPO 0.1; SimNPO 4.5; WGA 1; UNDIAL 10 = its logit shift)",
            minimum=0,
            strict=True,
        )
    },
)
def npo(ctx: Context, forget: Batch, retain: Batch | None):
    """NPO (Zhang et al. 2024, eq. 3): forget_term = -(2/beta) * logsigmoid(-beta * (logp_theta - logp_ref)),
    log-probs summed over answer tokens; retain term NLL or KL (retain_loss)."""
    assert ctx.reference is not None, "NPO needs the reference model"
    logp, _ = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])
    ref_logp = ctx.reference.sequence_logprob(forget)
    beta = ctx.params["beta"]
    forget_term = (-(2.0 / beta) * F.logsigmoid(-beta * (logp - ref_logp))).mean()
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))


def simnpo_forget_term(logp: torch.Tensor, n_tokens: torch.Tensor, beta: float, delta: float) -> torch.Tensor:
    """-(2/beta) * logsigmoid(-(beta/|y|) * logp - delta), averaged over the batch; logp, n_tokens (B,)."""
    return (-(2.0 / beta) * F.logsigmoid(-(beta / n_tokens.clamp_min(1.0)) * logp - delta)).mean()


@register(
    "simnpo",
    summary="-(2/beta) logsigmoid(-(beta/|y|) log p_theta(y|x) - delta); no reference model",
    citation='Fan et al. 2024, "Simplicity Prevails", SimNPO objective',
    retain="choice",
    params={
        "beta": Param(4.5, "inverse temperature of the length-normalized NPO term", minimum=0, strict=True),
        "delta": Param(0.0, "SimNPO reward margin", minimum=0),
    },
)
def simnpo(ctx: Context, forget: Batch, retain: Batch | None):
    """SimNPO (Fan et al. 2024, "Simplicity Prevails", SimNPO objective): forget_term = -(2/beta) * logsigmoid(-(beta/|y|) logp_theta(y|x) - delta),
    no reference model, |y| = answer tokens; beta 4.5, delta 0 by default; retain term NLL or KL."""
    logp, n = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])
    forget_term = simnpo_forget_term(logp, n, ctx.params["beta"], ctx.params["delta"])
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))
