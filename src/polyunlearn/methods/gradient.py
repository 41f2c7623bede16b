"""Gradient-based objectives of both papers: GradAscent, GradDiff, GradDiff-KL (KL on retain
tokens, as spec.md and TOFU define it) and grad_diff_kl_text, GradDiff-KL as the Multilingual
Amnesia authors run it: the KL term on a separate general text set (their TruthfulQA best
answers, UnlearnConfig.kl_text) beside the NLL retain term."""

from __future__ import annotations

from polyunlearn.core.logprobs import kl_ref_theta, mean_nll
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, combine, register, retain_term, sub_batch


@register(
    "grad_ascent",
    summary="-NLL(forget); no retain term",
    citation="Jang et al. 2023 (knowledge unlearning); TOFU's GradAscent",
    retain="none",
)
def grad_ascent(ctx: Context, forget: Batch, retain: Batch | None):
    """GradAscent: forget_term = -NLL(forget); no retain term."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}


@register(
    "grad_diff", summary="-NLL(forget) + alpha NLL(retain)", citation="Liu et al. 2022; TOFU's GradDiff", retain="nll"
)
def grad_diff(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff: forget_term = -NLL(forget), retain_term = NLL(retain)."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "nll"))


@register(
    "grad_diff_kl",
    summary="-NLL(forget) + alpha KL(p_ref || p_theta) on retain tokens",
    citation="TOFU's KL method; arXiv 2601.05641",
    retain="kl",
)
def grad_diff_kl(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff-KL: forget_term = -NLL(forget), retain_term = KL(p_ref || p_theta) on retain tokens."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return combine(ctx, forget_term, retain_term(ctx, retain, "kl"))


@register(
    "grad_diff_kl_text",
    summary="-NLL(forget) + alpha NLL(retain) + kl_weight KL(p_ref || p_theta) on a general text set (--kl-text)",
    citation="arXiv 2601.05641 (Multilingual Amnesia): GradDiff-KL with the KL on TruthfulQA best answers",
    retain="nll",
    reference=True,
    needs_text=True,
    params={
        "kl_weight": Param(
            1.0, "weight of the KL to the frozen model on the general text set (the authors' 1.0)", minimum=0
        )
    },
)
def grad_diff_kl_text(ctx: Context, forget: Batch, retain: Batch | None):
    """L = gamma * -NLL(forget) + alpha * NLL(retain) + kl_weight * KL(p_ref || p_theta), the KL
    averaged over the tokens of the general texts that ride with the retain batch ("kl")."""
    assert ctx.reference is not None, "grad_diff_kl_text needs the reference model"
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    loss, logs = combine(ctx, forget_term, retain_term(ctx, retain, "nll"))
    if retain is None:
        raise ValueError("grad_diff_kl_text: no retain batch, so no general text batch rides with it")
    text = sub_batch(retain, "kl")
    kl = kl_ref_theta(forward_logits(ctx.model, text), ctx.reference.logits(text), text["labels"])
    return loss + ctx.params["kl_weight"] * kl, {**logs, "text_kl": float(kl.detach())}
