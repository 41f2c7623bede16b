"""DPO-style objectives with a winning answer: IdkDPO ("I don't know" in the item's language) and
AltPO (an alternate answer per item, in the item's language, from an --alternate file)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.core.logprobs import sequence_logprob
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, combine, register, retain_term, sub_batch


def dpo_forget_term(win_logratio: torch.Tensor, lose_logratio: torch.Tensor, beta: float) -> torch.Tensor:
    """-(2/beta) * logsigmoid(beta * (win_logratio - lose_logratio)), averaged over the batch.

    Rafailov et al. eq. 7 scaled by 2/beta (as NPO and open-unlearning do), so the gradient does
    not vanish as beta -> 0. At theta = ref both log-ratios are 0 and the term is (2/beta) ln 2."""
    return (-(2.0 / beta) * F.logsigmoid(beta * (win_logratio - lose_logratio))).mean()


@register(
    "idkdpo",
    summary="DPO with an \"I don't know\" answer in the item's language as winner and the forget answer as loser",
    citation="Rafailov et al. 2023 eq. 7 (DPO); TOFU's IdkDPO; Maini et al. 2024",
    retain="choice",
    reference=True,
    needs_idk=True,
    params={"beta": Param(0.1, "inverse temperature of the DPO term", minimum=0, strict=True)},
)
def idkdpo(ctx: Context, forget: Batch, retain: Batch | None):
    """IdkDPO: DPO (Rafailov et al. 2023, eq. 7) with an "I don't know" answer in the item's own language
    as winner y_w and the forget answer as loser y_l: forget_term = -(2/beta) * logsigmoid(beta * ((logp_theta -
    logp_ref)(y_w) - (logp_theta - logp_ref)(y_l))), sums over answer tokens; retain term NLL or KL."""
    assert ctx.reference is not None, "IdkDPO needs the reference model"
    return _dpo_with_winner(ctx, sub_batch(forget, "idk"), forget, retain)


def _dpo_with_winner(ctx: Context, win_batch: Batch, forget: Batch, retain: Batch | None):
    """DPO with `win_batch` (the same questions with the winning answers) over the forget answers."""
    win = sequence_logprob(forward_logits(ctx.model, win_batch), win_batch["labels"])[0]
    win_ref = sequence_logprob(ctx.reference.logits(win_batch), win_batch["labels"])[0]
    lose = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])[0]
    lose_ref = sequence_logprob(ctx.reference.logits(forget), forget["labels"])[0]
    forget_term = dpo_forget_term(win - win_ref, lose - lose_ref, ctx.params["beta"])
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))


@register(
    "altpo",
    summary="DPO with an alternate answer per item (its language, from --alternate) as winner and the forget answer as loser",
    citation="Mekala et al. 2024, Alternate Preference Optimization for Unlearning Factual Knowledge, arXiv 2409.13474; Rafailov et al. 2023 eq. 7",
    retain="choice",
    reference=True,
    needs_alternate=True,
    params={"beta": Param(0.1, "inverse temperature of the DPO term", minimum=0, strict=True)},
)
def altpo(ctx: Context, forget: Batch, retain: Batch | None):
    """AltPO (Mekala et al. 2024), IdkDPO generalised: DPO (Rafailov et al. 2023, eq. 7, scaled by
    2/beta) with the item's alternate answer y_alt as winner and the forget answer as loser:
    forget_term = -(2/beta) logsigmoid(beta ((logp_theta - logp_ref)(y_alt) - (logp_theta - logp_ref)(y_f))),
    log-probs summed over answer tokens; retain term NLL (default) or KL. The alternates come per
    item and language from an --alternate file (JSONL/CSV: id, language, alternate; data.alternates);
    a forget item without one is an error. beta 0.1 as the paper's code (its DPO default) and the
    middle of open-unlearning's AltPO search space (0.05, 0.1, 0.5; alpha 1, 2, 5; lr 1e-5 to 5e-5).
    The paper generates its alternates with the model itself; polyunlearn takes them as data."""
    assert ctx.reference is not None, "AltPO needs the reference model"
    return _dpo_with_winner(ctx, sub_batch(forget, "alt"), forget, retain)
