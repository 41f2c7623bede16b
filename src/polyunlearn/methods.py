"""Unlearning objectives, one short function each, registered by name in METHODS.

Every objective is L = gamma * forget_term + alpha * retain_term (spec.md). A method gets the
model, the reference (for NPO and KL retain terms) and one forget batch plus one retain batch,
and returns the scalar loss and a dict of numbers to log. The generic loop lives in train.py.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from polyunlearn.logprobs import kl_ref_theta, mean_nll, sequence_logprob
from polyunlearn.models import is_peft

Batch = dict[str, torch.Tensor]


def forward_logits(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


class Reference:
    """The frozen model before unlearning. With LoRA it is the same weights with the adapters
    disabled (no second copy in memory); otherwise a frozen deep copy made once."""

    def __init__(self, model: torch.nn.Module):
        self.model = model
        self.copy: torch.nn.Module | None = None
        if not is_peft(model):
            self.copy = copy.deepcopy(model).eval()
            for p in self.copy.parameters():
                p.requires_grad_(False)

    @torch.no_grad()
    def logits(self, batch: Batch) -> torch.Tensor:
        if self.copy is not None:
            return forward_logits(self.copy, batch)
        with self.model.disable_adapter():
            return forward_logits(self.model, batch)


@dataclass
class Context:
    model: torch.nn.Module
    reference: Reference | None = None
    gamma: float = 1.0  # weight of the forget term
    alpha: float = 1.0  # weight of the retain term
    beta: float = 0.1  # NPO / SimNPO / DPO temperature
    retain_loss: str = "nll"  # "nll" or "kl" for methods whose retain term is configurable
    extra: dict = field(default_factory=dict)


Method = Callable[[Context, Batch, Batch | None], tuple[torch.Tensor, dict[str, float]]]
METHODS: dict[str, Method] = {}
NEEDS_REFERENCE: set[str] = set()


def register(name: str, needs_reference: bool = False) -> Callable[[Method], Method]:
    def deco(fn: Method) -> Method:
        METHODS[name] = fn
        if needs_reference:
            NEEDS_REFERENCE.add(name)
        return fn

    return deco


def needs_reference(name: str, retain_loss: str = "nll") -> bool:
    return name in NEEDS_REFERENCE or (retain_loss == "kl" and name in {"npo", "simnpo", "idkdpo"})


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown unlearning method {name!r}; choose from {', '.join(sorted(METHODS))}")
    return METHODS[name]


def retain_nll(ctx: Context, retain: Batch) -> torch.Tensor:
    return mean_nll(forward_logits(ctx.model, retain), retain["labels"])


def retain_kl(ctx: Context, retain: Batch) -> torch.Tensor:
    assert ctx.reference is not None, "KL retain term needs the reference model"
    ref = ctx.reference.logits(retain)
    return kl_ref_theta(forward_logits(ctx.model, retain), ref, retain["labels"])


def retain_term(ctx: Context, retain: Batch | None, kind: str | None = None) -> torch.Tensor:
    if retain is None or ctx.alpha == 0:
        return torch.zeros((), device=next(ctx.model.parameters()).device)
    kind = kind or ctx.retain_loss
    if kind == "nll":
        return retain_nll(ctx, retain)
    if kind == "kl":
        return retain_kl(ctx, retain)
    raise ValueError(f"unknown retain_loss {kind!r}; choose 'nll' or 'kl'")


def _combine(ctx: Context, forget_term: torch.Tensor, retain: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    loss = ctx.gamma * forget_term + ctx.alpha * retain
    return loss, {"forget_term": float(forget_term.detach()), "retain_term": float(retain.detach())}


@register("grad_ascent")
def grad_ascent(ctx: Context, forget: Batch, retain: Batch | None):
    """GradAscent: forget_term = -NLL(forget); no retain term."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return ctx.gamma * forget_term, {"forget_term": float(forget_term.detach())}


@register("grad_diff")
def grad_diff(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff: forget_term = -NLL(forget), retain_term = NLL(retain)."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return _combine(ctx, forget_term, retain_term(ctx, retain, "nll"))


@register("grad_diff_kl", needs_reference=True)
def grad_diff_kl(ctx: Context, forget: Batch, retain: Batch | None):
    """GradDiff-KL: forget_term = -NLL(forget), retain_term = KL(p_ref || p_theta) on retain tokens."""
    forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
    return _combine(ctx, forget_term, retain_term(ctx, retain, "kl"))


@register("npo", needs_reference=True)
def npo(ctx: Context, forget: Batch, retain: Batch | None):
    """NPO (Zhang et al. 2024, eq. 3): forget_term = -(2/beta) * logsigmoid(-beta * (logp_theta - logp_ref)),
    log-probs summed over answer tokens; retain term NLL or KL (ctx.retain_loss)."""
    assert ctx.reference is not None, "NPO needs the reference model"
    logp, _ = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])
    ref_logp, _ = sequence_logprob(ctx.reference.logits(forget), forget["labels"])
    forget_term = (-(2.0 / ctx.beta) * F.logsigmoid(-ctx.beta * (logp - ref_logp))).mean()
    return _combine(ctx, forget_term, retain_term(ctx, retain))
