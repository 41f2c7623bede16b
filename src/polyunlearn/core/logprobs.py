"""Shared loss math: per-token and per-sequence answer log-probabilities, NLL, and the
KL(p_ref || p_theta) used by the KL retain terms. Every unlearning method is built from these."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.core.encoding import IGNORE


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(label_t | prefix) for every position, and the mask of answer tokens.

    logits (B, T, V) predict the next token, so position t scores labels[:, t+1].
    Returns logp (B, T-1) with 0 where masked, and mask (B, T-1) as float.
    """
    logits = logits[:, :-1, :]
    target = labels[:, 1:]
    mask = target != IGNORE
    # cross_entropy avoids materialising a full (B, T, V) log-softmax copy in float32.
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), target.clamp_min(0).reshape(-1), reduction="none"
    ).view(target.shape)
    logp = -nll * mask
    return logp, mask.float()


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum of answer-token log-probs per sequence (B,) and the number of answer tokens (B,)."""
    logp, mask = token_logprobs(logits, labels)
    return logp.sum(-1), mask.sum(-1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Token-averaged NLL over all answer tokens of the batch (the usual LM loss)."""
    logp, mask = token_logprobs(logits, labels)
    return -logp.sum() / mask.sum().clamp_min(1.0)


def kl_ref_theta(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(p_ref || p_theta) per answer token, averaged over the answer tokens of the batch."""
    mask = (labels[:, 1:] != IGNORE).float()
    logq = F.log_softmax(logits[:, :-1].float(), dim=-1)
    logp_ref = F.log_softmax(ref_logits[:, :-1].float(), dim=-1)
    kl = (logp_ref.exp() * (logp_ref - logq)).sum(-1)  # (B, T-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1.0)
