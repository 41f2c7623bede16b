"""The method registry: every unlearning objective registers itself here by name, with what it
needs (a reference model, an "I don't know" encoding). Also the shared pieces of every
objective: the Context it is called with and the retain terms.

Every objective is L = gamma * forget_term + alpha * retain_term (spec.md). A method gets the
model, the reference (for NPO and KL retain terms) and one forget batch plus one retain batch,
and returns the scalar loss and a dict of numbers to log. The generic loop lives in
core/trainloop.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from polyunlearn.core.logprobs import kl_ref_theta, mean_nll
from polyunlearn.methods.reference import Batch, Reference, forward_logits


@dataclass
class Context:
    model: torch.nn.Module
    reference: Reference | None = None
    gamma: float = 1.0  # weight of the forget term
    alpha: float = 1.0  # weight of the retain term
    beta: float | None = None  # NPO / SimNPO / DPO temperature; None = the method's DEFAULT_BETA
    retain_loss: str = "nll"  # "nll" or "kl" for methods whose retain term is configurable
    delta: float = 0.0  # SimNPO reward margin
    rmu_layer: int | None = None  # RMU: decoder layer steered; None = the middle one, (L - 1) // 2
    rmu_coeff: float = 6.5  # RMU steering coefficient c (WMDP's value for Zephyr-7B)
    rmu_seed: int = 0  # RMU: seed of the fixed random direction u
    extra: dict = field(default_factory=dict)


# Per-method temperature defaults (spec): used when Context.beta / UnlearnConfig.beta is None.
DEFAULT_BETA: dict[str, float] = {"npo": 0.1, "simnpo": 4.5, "idkdpo": 0.1}


def beta_of(ctx: Context, method: str) -> float:
    return ctx.beta if ctx.beta is not None else DEFAULT_BETA[method]


Method = Callable[[Context, Batch, Batch | None], tuple[torch.Tensor, dict[str, float]]]
METHODS: dict[str, Method] = {}
NEEDS_REFERENCE: set[str] = set()
# Methods whose forget batch also carries an "I don't know" encoding of the same questions
# (keys idk_input_ids / idk_attention_mask / idk_labels); pipeline.unlearn builds it.
NEEDS_IDK: set[str] = set()


def register(name: str, needs_reference: bool = False, needs_idk: bool = False) -> Callable[[Method], Method]:
    def deco(fn: Method) -> Method:
        METHODS[name] = fn
        if needs_reference:
            NEEDS_REFERENCE.add(name)
        if needs_idk:
            NEEDS_IDK.add(name)
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


def combine(ctx: Context, forget_term: torch.Tensor, retain: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    loss = ctx.gamma * forget_term + ctx.alpha * retain
    return loss, {"forget_term": float(forget_term.detach()), "retain_term": float(retain.detach())}



def sub_batch(batch: Batch, prefix: str) -> Batch:
    """The second encoding a forget batch carries, e.g. prefix "idk": idk_input_ids -> input_ids."""
    keys = ("input_ids", "attention_mask", "labels")
    missing = [k for k in keys if f"{prefix}_{k}" not in batch]
    if missing:
        raise ValueError(f"the forget batch has no {prefix!r} encoding ({prefix}_{missing[0]} missing); build it with pipeline.unlearn")
    return {k: batch[f"{prefix}_{k}"] for k in keys}

