"""The method registry: every unlearning objective registers itself here by name, with its own
hyperparameters (default, help, valid range), a one-line formula, its citation and what it needs
(a reference model, a retain term, an "I don't know" encoding and, optionally, its own text, an
alternate-answer encoding, the items' languages). A hyperparameter without a usable default
(default None, not nullable: PDU's epsilon) is required: a config without it is refused. Also the
shared pieces of every objective: the Context it is called with (with `state` for methods that
carry values across steps) and the retain terms.

Every objective is L = gamma * forget_term + alpha * retain_term (spec.md). A method gets a
Context (the model, the reference, gamma, alpha and its resolved hyperparameters) and one forget
batch plus one retain batch, and returns the scalar loss and a dict of numbers to log. The
generic loop lives in core/trainloop.py.

    @register("npo", summary="...", citation="...", retain="choice", reference=True,
              params={"beta": Param(0.1, "inverse temperature", minimum=0, strict=True)})
    def npo(ctx, forget, retain): ...

    spec = get_method("npo")
    params = spec.resolve({"beta": 0.5})     # defaults filled in, every value checked
    loss, logs = spec(spec.context(model, reference, **params), forget_batch, retain_batch)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from polyunlearn.core.logprobs import kl_ref_theta, mean_nll
from polyunlearn.methods.reference import Batch, Reference, forward_logits

RETAIN_LOSSES = ("nll", "kl")
# What a method's retain term is: "none" (forget term only), "nll" / "kl" (fixed), "choice" (the
# retain_loss hyperparameter picks nll or kl) or "own" (the method defines its own, e.g. RMU).
RETAIN_KINDS = ("none", "nll", "kl", "choice", "own")


@dataclass(frozen=True)
class Param:
    """One hyperparameter a method declares: default, help text, and the check every value
    passes (type, choices, lower bound; None only where `nullable`, and then the help says
    what None means)."""

    default: Any
    help: str
    kind: type = float
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    strict: bool = False  # minimum excluded (> instead of >=)
    nullable: bool = False

    @property
    def required(self) -> bool:
        """No usable default: the user must give a value (e.g. PDU's epsilon)."""
        return self.default is None and not self.nullable

    def check(self, name: str, value: Any) -> Any:
        """`value` coerced to the declared kind, or a ValueError naming the parameter."""
        if value is None:
            if self.nullable:
                return None
            raise ValueError(f"{name}: a value is required")
        if self.kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        elif self.kind is int and isinstance(value, int) and not isinstance(value, bool):
            pass
        elif self.kind is str and isinstance(value, str):
            pass
        else:
            raise ValueError(f"{name} must be {self.kind.__name__}, got {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"{name} is {value!r}; choose from {', '.join(self.choices)}")
        if self.minimum is not None and (value <= self.minimum if self.strict else value < self.minimum):
            raise ValueError(f"{name} must be {'>' if self.strict else '>='} {self.minimum:g}, got {value}")
        return value


@dataclass
class Context:
    """What an objective is called with. `params` are the method's resolved hyperparameters
    (MethodSpec.resolve); build one with MethodSpec.context."""

    model: torch.nn.Module
    reference: Reference | None = None
    gamma: float = 1.0  # weight of the forget term
    alpha: float = 1.0  # weight of the retain term
    params: Mapping[str, Any] = field(default_factory=dict)
    # What a stateful method carries from one step to the next (PDU's dual weight, LingTea's
    # batch count). A Context lives for one unlearning run (pipeline.phases.unlearn), which seeds
    # "batches_per_epoch" and "batch" and, on resume, every value a method logged as "state/<key>".
    state: dict[str, Any] = field(default_factory=dict)


Method = Callable[[Context, Batch, Batch | None], tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class MethodSpec:
    """A registered objective and everything the rest of polyunlearn needs to know about it."""

    name: str
    loss: Method
    summary: str  # one-line formula, shown by `polyunlearn methods`
    citation: str
    params: Mapping[str, Param]
    retain: str  # one of RETAIN_KINDS
    reference: bool  # needs the model before unlearning whatever the retain term
    needs_idk: bool  # forget batch carries an "I don't know" encoding (idk_input_ids, ...)
    needs_alternate: bool = False  # forget batch carries an alternate-answer encoding (alt_input_ids, ...)
    needs_language: bool = False  # batches carry "language" (B,): core.languages.language_index of each item
    # The "I don't know" text of a forget item (QAItem -> str) when the method has its own;
    # None = pipeline.phases.idk_for (a refusal in the item's language).
    idk_target: Callable[[Any], str] | None = None
    # Takes a term on a general text set (UnlearnConfig.kl_text): each retain encoding carries a
    # text encoding as extra "kl" (collated to kl_input_ids, ...; pipeline.phases.encode_retain).
    needs_text: bool = False

    def __call__(self, ctx: Context, forget: Batch, retain: Batch | None) -> tuple[torch.Tensor, dict[str, float]]:
        return self.loss(ctx, forget, retain)

    @property
    def has_retain_term(self) -> bool:
        return self.retain != "none"

    def resolve(self, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every hyperparameter of this method: `given` values checked, the rest defaulted. A
        name the method does not declare is an error naming the ones it has."""
        given = dict(given or {})
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            have = ", ".join(self.params) or "none"
            raise ValueError(
                f"{', '.join(unknown)} does not apply to method {self.name!r} (its hyperparameters: {have})"
            )
        for k, p in self.params.items():
            if p.required and given.get(k) is None:
                raise ValueError(f"method {self.name!r} needs {k} (no default): {p.help}")
        return {k: p.check(k, given.get(k, p.default)) for k, p in self.params.items()}

    def needs_reference(self, params: Mapping[str, Any]) -> bool:
        return self.reference or self.retain == "kl" or (self.retain == "choice" and params.get("retain_loss") == "kl")

    def retain_loss(self, params: Mapping[str, Any]) -> str | None:
        """The retain term this method uses with `params`: "nll", "kl", "own" or None."""
        if self.retain == "choice":
            return params["retain_loss"]
        return None if self.retain == "none" else self.retain

    def describe(self) -> dict[str, str]:
        """One row of `polyunlearn methods`: formula, hyperparameter defaults, retain term, what
        else it needs (reference model, idk / alternate answers, per-item language)."""
        shown = {
            k: "required" if p.required else "none" if p.default is None else p.default for k, p in self.params.items()
        }
        defaults = ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"
        retain = {"none": "none", "nll": "NLL", "kl": "KL", "choice": "NLL or KL (retain_loss)", "own": "own"}[
            self.retain
        ]
        if self.reference or self.retain == "kl":
            ref = "yes"
        else:
            ref = "with retain_loss kl" if self.retain == "choice" else "no"
        needs = [
            what
            for flag, what in (
                (self.needs_idk, "idk answers"),
                (self.needs_alternate, "alternate answers"),
                (self.needs_language, "item language"),
            )
            if flag
        ]
        return {
            "method": self.name,
            "formula": self.summary,
            "defaults": defaults,
            "retain term": retain,
            "reference model": ref,
            "also needs": ", ".join(needs) or "-",
        }

    def context(
        self,
        model: torch.nn.Module,
        reference: Reference | None = None,
        gamma: float = 1.0,
        alpha: float = 1.0,
        **params: Any,
    ) -> Context:
        return Context(model=model, reference=reference, gamma=gamma, alpha=alpha, params=self.resolve(params))


METHODS: dict[str, MethodSpec] = {}

# A stateful method logs each value it keeps in Context.state as "state/<key>" (history.json shows
# it per step), and a run resumed from a checkpoint restores them from the last logged step.
STATE_LOG = "state/"


def logged_state(logs: Mapping[str, Any]) -> dict[str, Any]:
    """The Context.state values a method logged in one history row (see STATE_LOG)."""
    return {k[len(STATE_LOG) :]: v for k, v in logs.items() if k.startswith(STATE_LOG)}


def register(
    name: str,
    *,
    summary: str,
    citation: str,
    params: Mapping[str, Param] | None = None,
    retain: str = "nll",
    reference: bool = False,
    needs_idk: bool = False,
    needs_alternate: bool = False,
    needs_language: bool = False,
    idk_target: Callable[[Any], str] | None = None,
    needs_text: bool = False,
) -> Callable[[Method], Method]:
    """Register an objective under `name` (see the module docstring)."""
    if retain not in RETAIN_KINDS:
        raise ValueError(f"retain must be one of {RETAIN_KINDS}, got {retain!r}")
    params = dict(params or {})
    if retain == "choice":
        params.setdefault(
            "retain_loss",
            Param(
                "nll",
                "retain term: nll (NLL of the retain answers) or kl (KL to the reference on retain tokens)",
                str,
                RETAIN_LOSSES,
            ),
        )

    def deco(fn: Method) -> Method:
        if name in METHODS:
            raise ValueError(f"method {name!r} is registered twice")
        METHODS[name] = MethodSpec(
            name,
            fn,
            summary,
            citation,
            params,
            retain,
            reference,
            needs_idk,
            needs_alternate,
            needs_language,
            idk_target,
            needs_text,
        )
        return fn

    return deco


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown unlearning method {name!r}; choose from {', '.join(sorted(METHODS))}")
    return METHODS[name]


def method_params() -> dict[str, Param]:
    """Every hyperparameter name any method declares (first declaration wins for the help):
    the CLI's method options and the grid's sweepable method keys."""
    out: dict[str, Param] = {}
    for spec in METHODS.values():
        for k, p in spec.params.items():
            out.setdefault(k, p)
    return out


def retain_nll(ctx: Context, retain: Batch) -> torch.Tensor:
    return mean_nll(forward_logits(ctx.model, retain), retain["labels"])


def retain_kl(ctx: Context, retain: Batch) -> torch.Tensor:
    assert ctx.reference is not None, "KL retain term needs the reference model"
    ref = ctx.reference.logits(retain)
    return kl_ref_theta(forward_logits(ctx.model, retain), ref, retain["labels"])


def retain_term(ctx: Context, retain: Batch | None, kind: str) -> torch.Tensor:
    """The retain term of kind "nll" or "kl"; 0 without a retain batch or with alpha 0 (the
    unlearning step refuses a method with a retain term, alpha > 0 and no retain items, so an
    absent batch here only happens in library use that asked for it)."""
    if retain is None or ctx.alpha == 0:
        return torch.zeros((), device=next(ctx.model.parameters()).device)
    if kind == "nll":
        return retain_nll(ctx, retain)
    if kind == "kl":
        return retain_kl(ctx, retain)
    raise ValueError(f"unknown retain_loss {kind!r}; choose from {', '.join(RETAIN_LOSSES)}")


def combine(ctx: Context, forget_term: torch.Tensor, retain: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    loss = ctx.gamma * forget_term + ctx.alpha * retain
    return loss, {"forget_term": float(forget_term.detach()), "retain_term": float(retain.detach())}


def sub_batch(batch: Batch, prefix: str) -> Batch:
    """The second encoding a forget batch carries, e.g. prefix "idk": idk_input_ids -> input_ids."""
    keys = ("input_ids", "attention_mask", "labels")
    missing = [k for k in keys if f"{prefix}_{k}" not in batch]
    if missing:
        raise ValueError(
            f"the forget batch has no {prefix!r} encoding ({prefix}_{missing[0]} missing); build it with pipeline.phases.encode_forget"
        )
    return {k: batch[f"{prefix}_{k}"] for k in keys}
