"""Soft-label objectives: UNDIAL (self-distillation from the model before unlearning with the gold
token's logit lowered) and CE-U (cross-entropy to the model's own distribution with the gold token
removed). Both train towards a target distribution instead of ascending a loss, so the forget term
is bounded below (a cross-entropy) and cannot run away as gradient ascent does.

    UNDIAL: target_t = softmax(z_ref,t - beta * onehot(y_t)),         forget_term = mean_t CE(target_t, p_theta,t)
    CE-U:   target_t = softmax(stopgrad(z_theta,t) with z[y_t] = -inf), forget_term = mean_t CE(target_t, p_theta,t)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.core.encoding import IGNORE
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, register


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """mean over masked positions of -sum_v target_v log softmax(logits)_v; logits, target (B, T, V), mask (B, T)."""
    ce = -(target * F.log_softmax(logits.float(), dim=-1)).sum(-1)  # (B, T)
    mask = mask.float()
    return (ce * mask).sum() / mask.sum().clamp_min(1.0)


def shifted(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits predicting each next token (B, T-1, V), that token (B, T-1) with IGNORE as 0, answer mask (B, T-1))."""
    target = labels[:, 1:]
    return logits[:, :-1], target.clamp_min(0), target != IGNORE


def undial_forget_term(
    logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, beta: float
) -> torch.Tensor:
    """UNDIAL: CE of the student against softmax(ref logits - beta at the gold token), mean over answer tokens."""
    z, gold, mask = shifted(logits, labels)
    adjusted = (
        ref_logits[:, :-1]
        .float()
        .scatter_add(-1, gold.unsqueeze(-1), torch.full_like(gold.unsqueeze(-1), -beta, dtype=torch.float))
    )
    return soft_cross_entropy(z, F.softmax(adjusted, dim=-1), mask)


def first_answer_tokens(labels: torch.Tensor, n: int) -> torch.Tensor:
    """(B, T) mask of each row's first `n` answer tokens (labels != IGNORE)."""
    answer = labels != IGNORE
    return answer & (answer.long().cumsum(-1) <= n)


def ceu_forget_term(logits: torch.Tensor, labels: torch.Tensor, ignore_first: int) -> torch.Tensor:
    """CE-U: CE of the logits against softmax(detached logits, gold token -inf), mean over the
    answer tokens after each row's first `ignore_first`."""
    labels = labels.masked_fill(first_answer_tokens(labels, ignore_first), IGNORE)
    z, gold, mask = shifted(logits, labels)
    target_logits = z.detach().float().scatter(-1, gold.unsqueeze(-1), float("-inf"))
    return soft_cross_entropy(z, F.softmax(target_logits, dim=-1), mask)


@register(
    "undial",
    summary="mean_t CE(softmax(z_ref - beta onehot(y_t)), p_theta) on forget answer tokens; no retain term",
    citation="Dong et al. 2024 (NAACL 2025), UNDIAL: Self-Distillation with Adjusted Logits (adjusted-logit target + distillation loss), arXiv 2402.10052",
    retain="none",
    reference=True,
    params={
        "beta": Param(
            10.0,
            "UNDIAL: how far the gold token's teacher logit is lowered (paper 10; tried 3, 10, 30)",
            minimum=0,
            strict=True,
        )
    },
)
def undial(ctx: Context, forget: Batch, retain: Batch | None):
    """UNDIAL (Dong et al. 2024, its adjusted-logit self-distillation loss): the teacher is the model
    before unlearning; its logits at each forget answer position, with beta subtracted at the gold
    token, are softmaxed into soft labels, and forget_term = mean_t CE(soft labels_t, p_theta,t) over the answer tokens.

    Reference defaults (paper and open-unlearning configs/trainer/UNDIAL.yaml): beta 10, lr 1e-4
    (LoRA on Llama-2-7B), 10 epochs, effective batch 16, no retain term (alpha 0: the paper keeps
    knowledge everywhere, not only on a retain set). polyunlearn's run lr rules still apply (say
    --lr 1e-4 to match). Differs from open-unlearning's compute_undial_loss in averaging over the
    answer tokens only (that one averages over every position, prompt and padding included)."""
    assert ctx.reference is not None, "UNDIAL needs the reference model (its teacher)"
    forget_term = undial_forget_term(
        forward_logits(ctx.model, forget), ctx.reference.logits(forget), forget["labels"], ctx.params["beta"]
    )
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}


@register(
    "ceu",
    summary="mean_t CE(softmax(stopgrad z_theta with z[y_t] = -inf), p_theta) on forget answer tokens after the first; no retain term",
    citation="CE-U: Cross Entropy Unlearning, arXiv 2503.01224 (2025); open-unlearning CEU",
    retain="none",
    params={
        "ignore_first": Param(
            1, "CE-U: answer tokens at the start of each answer left out of the loss (paper 1)", int, minimum=0
        )
    },
)
def ceu(ctx: Context, forget: Batch, retain: Batch | None):
    """CE-U (Cross Entropy Unlearning, arXiv 2503.01224): forget_term = mean_t CE(target_t, p_theta,t),
    target_t = softmax of the model's own detached logits with the gold token's set to -inf, so the
    gold token's probability is pushed to 0 and the rest keep their relative odds (the gradient on
    the logits is p_theta - target: +p_gold at the gold token, -p_v p_gold / (1 - p_gold) elsewhere,
    vanishing as p_gold -> 0). Forget-only (no retain term), as the paper. The first answer token
    is left out (the paper's footnote in Training Settings; open-unlearning's
    ignore_first_n_answer_tokens = 1): it is mostly formatting ("The", a space) shared by many answers."""
    forget_term = ceu_forget_term(forward_logits(ctx.model, forget), forget["labels"], ctx.params["ignore_first"])
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}
