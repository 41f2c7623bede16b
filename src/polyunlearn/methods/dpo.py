"""DPO-style objectives with a winning answer: IdkDPO ("I don't know" in the item's language)."""
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
    summary='DPO with an "I don\'t know" answer in the item\'s language as winner and the forget answer as loser',
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
    idk = sub_batch(forget, "idk")
    win = sequence_logprob(forward_logits(ctx.model, idk), idk["labels"])[0]
    win_ref = sequence_logprob(ctx.reference.logits(idk), idk["labels"])[0]
    lose = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])[0]
    lose_ref = sequence_logprob(ctx.reference.logits(forget), forget["labels"])[0]
    forget_term = dpo_forget_term(win - win_ref, lose - lose_ref, ctx.params["beta"])
    return combine(ctx, forget_term, retain_term(ctx, retain, ctx.params["retain_loss"]))

