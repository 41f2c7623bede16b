"""Gradient-based objectives of both papers: GradAscent, GradDiff, GradDiff-KL."""
from __future__ import annotations

from polyunlearn.core.logprobs import mean_nll
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, combine, register, retain_term


@register("grad_ascent", summary="-NLL(forget); no retain term", citation="Jang et al. 2023 (knowledge unlearning); TOFU's GradAscent", retain="none")
def grad_ascent(ctx: Context, forget: Batch, retain: Batch | None):
    """GradAscent: forget_term = -NLL(forget); no retain term."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}


@register("grad_diff", summary="-NLL(forget) + alpha NLL(retain)", citation="Liu et al. 2022; TOFU's GradDiff", retain="nll")
def grad_diff(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff: forget_term = -NLL(forget), retain_term = NLL(retain)."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "nll"))


@register("grad_diff_kl", summary="-NLL(forget) + alpha KL(p_ref || p_theta) on retain tokens", citation="TOFU's KL method; arXiv 2601.05641", retain="kl")
def grad_diff_kl(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff-KL: forget_term = -NLL(forget), retain_term = KL(p_ref || p_theta) on retain tokens."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "kl"))
