"""Gradient-based objectives of both papers: GradAscent, GradDiff, GradDiff-KL."""
from __future__ import annotations

from polyunlearn.core.logprobs import mean_nll
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, combine, register, retain_term


@register("grad_ascent")
def grad_ascent(ctx: Context, forget: Batch, retain: Batch | None):
    """GradAscent: forget_term = -NLL(forget); no retain term."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}


@register("grad_diff")
def grad_diff(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff: forget_term = -NLL(forget), retain_term = NLL(retain)."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "nll"))


@register("grad_diff_kl", needs_reference=True)
def grad_diff_kl(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff-KL: forget_term = -NLL(forget), retain_term = KL(p_ref || p_theta) on retain tokens."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "kl"))

