"""The concept-unlearning objective of arXiv 2601.05641 (Multilingual Amnesia) for the SeeGULL
multiple-choice task (data/seegull_mcq.py): push the model away from the stereotyped option and
towards the localized "Unknown" option, and keep it close to the frozen model elsewhere.

    L = gamma * (ascent_weight * away + unknown_weight * NLL(question -> Unknown)) + alpha * KL(p_ref || p_theta)

with `away` = -NLL(question -> stereotyped option text) (gradient ascent, forget_loss="ga") or the
NPO term with beta 1.0 in its place (forget_loss="npo"), and the KL term on the retain batch's
answer tokens (the frozen model is the reference). The authors' weights: ascent 0.25, Unknown 0.5,
KL 1.0 (alpha's default), with lr 1e-6 for 1 epoch at their scale. The forget items are
`mcq_to_items` items (answer = the stereotyped option); the "Unknown" answer each is trained
towards is `unknown_option(item.language)`, the exact text of the fifth option the metric scores.
"""

from __future__ import annotations

import torch.nn.functional as F

from polyunlearn.core.logprobs import mean_nll, sequence_logprob
from polyunlearn.data.seegull_mcq import unknown_option
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, combine, register, retain_term, sub_batch


def unknown_target(item) -> str:
    """The training target of a forget item: "Unknown" in the item's language."""
    return unknown_option(item.language)


@register(
    "concept_mcq",
    summary="ascent_weight * -NLL(q -> stereotyped option) [or NPO] + unknown_weight * NLL(q -> localized Unknown) + alpha KL(p_ref || p_theta) on retain tokens",
    citation="arXiv 2601.05641 (Multilingual Amnesia), concept unlearning objective; NPO: Zhang et al. 2024 eq. 3",
    retain="kl",
    reference=True,
    needs_idk=True,
    idk_target=unknown_target,
    params={
        "ascent_weight": Param(
            0.25, "weight of the term that pushes away from the stereotyped option (the authors' 0.25)", minimum=0
        ),
        "unknown_weight": Param(
            0.5, "weight of the NLL of the localized 'Unknown' answer (the authors' 0.5)", minimum=0
        ),
        "forget_loss": Param("ga", "away term: ga (gradient ascent, -NLL) or npo (NPO with beta)", str, ("ga", "npo")),
        "beta": Param(1.0, "NPO inverse temperature when forget_loss=npo (the authors' 1.0)", minimum=0, strict=True),
    },
)
def concept_mcq(ctx: Context, forget: Batch, retain: Batch | None):
    """Concept MCQ (arXiv 2601.05641): forget_term = ascent_weight * away + unknown_weight * NLL(q -> Unknown),
    away = -NLL(q -> stereotyped option) or the NPO term -(2/beta) logsigmoid(-beta (logp_theta - logp_ref));
    retain term KL(p_ref || p_theta) on retain answer tokens."""
    logits = forward_logits(ctx.model, forget)
    if ctx.params["forget_loss"] == "npo":
        assert ctx.reference is not None, "the NPO away term needs the reference model"
        logp, _ = sequence_logprob(logits, forget["labels"])
        beta = ctx.params["beta"]
        away = (-(2.0 / beta) * F.logsigmoid(-beta * (logp - ctx.reference.sequence_logprob(forget)))).mean()
    else:
        away = -mean_nll(logits, forget["labels"])
    unknown = sub_batch(forget, "idk")
    toward = mean_nll(forward_logits(ctx.model, unknown), unknown["labels"])
    forget_term = ctx.params["ascent_weight"] * away + ctx.params["unknown_weight"] * toward
    loss, logs = combine(ctx, forget_term, retain_term(ctx, retain, "kl"))
    return loss, {**logs, "away": float(away.detach()), "unknown_nll": float(toward.detach())}
