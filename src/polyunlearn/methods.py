"""Unlearning objectives, one short function each, registered by name in METHODS.

Every objective is L = gamma * forget_term + alpha * retain_term (spec.md). A method gets the
model, the reference (for NPO and KL retain terms) and one forget batch plus one retain batch,
and returns the scalar loss and a dict of numbers to log. The generic loop lives in train.py.

Methods: grad_ascent, grad_diff, grad_diff_kl, npo (the papers); simnpo, idkdpo (whose forget
batch also carries an "I don't know" encoding, see NEEDS_IDK) and rmu (hidden-state steering).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F

from polyunlearn.batching import IGNORE
from polyunlearn.logprobs import kl_ref_theta, mean_nll, sequence_logprob
from polyunlearn.models import is_peft

Batch = dict[str, torch.Tensor]


def forward_logits(model: torch.nn.Module, batch: Batch) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def num_layers(model: torch.nn.Module) -> int:
    # DDP/FSDP keep the model in .module; peft wrappers forward .config to the base model.
    return int(getattr(model, "module", model).config.num_hidden_layers)


def forward_hidden(model: torch.nn.Module, batch: Batch, layer: int) -> torch.Tensor:
    """Output of decoder layer `layer` (0-based), (B, T, H).

    HF's hidden_states tuple is (embeddings, output of layer 0, ..., output of layer L-2, final
    normed output), so layer k < L-1 is entry k + 1; the last entry is after the final norm."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    return out.hidden_states[layer + 1]


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
        # The reference is frozen, so a sequence's reference log-prob never changes: memo maps a
        # sequence (its tokens and label mask) to it, computed once instead of once per epoch.
        # None turns the memo off (every call runs the reference).
        self.memo: dict[bytes, float] | None = {}

    def _copy_on(self, device: torch.device) -> torch.nn.Module:
        # The copy is made before Accelerate moves the trained model to the GPU; follow it there.
        assert self.copy is not None
        if next(self.copy.parameters()).device != device:
            self.copy.to(device)
        return self.copy

    @torch.no_grad()
    def logits(self, batch: Batch) -> torch.Tensor:
        if self.copy is not None:
            return forward_logits(self._copy_on(batch["input_ids"].device), batch)
        with self.model.disable_adapter():
            return forward_logits(self.model, batch)

    @torch.no_grad()
    def sequence_logprob(self, batch: Batch) -> torch.Tensor:
        """Summed answer-token log-probs (B,) under the reference, memoized per sequence: only
        sequences not seen before are run (as one sub-batch, trimmed to their length)."""
        if self.memo is None:
            return sequence_logprob(self.logits(batch), batch["labels"])[0]
        ids, att, labels = (batch[k].cpu() for k in ("input_ids", "attention_mask", "labels"))
        real = att.bool()
        keys = [ids[i][real[i]].numpy().tobytes() + b"|" + labels[i][real[i]].numpy().tobytes() for i in range(len(ids))]
        missing = [i for i, k in enumerate(keys) if k not in self.memo]
        if missing:
            T = int(att[missing].sum(-1).max())  # batches are right-padded (batching.collate)
            rows = torch.tensor(missing, device=batch["input_ids"].device)
            sub = {k: batch[k][rows, :T] for k in ("input_ids", "attention_mask", "labels")}
            for i, v in zip(missing, sequence_logprob(self.logits(sub), sub["labels"])[0].tolist()):
                self.memo[keys[i]] = v
        return torch.tensor([self.memo[k] for k in keys], dtype=torch.float32, device=batch["input_ids"].device)

    @torch.no_grad()
    def hidden(self, batch: Batch, layer: int) -> torch.Tensor:
        """Output of decoder layer `layer` (B, T, H) of the reference model."""
        if self.copy is not None:
            return forward_hidden(self._copy_on(batch["input_ids"].device), batch, layer)
        with self.model.disable_adapter():
            return forward_hidden(self.model, batch, layer)


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
    ref_logp = ctx.reference.sequence_logprob(forget)
    beta = beta_of(ctx, "npo")
    forget_term = (-(2.0 / beta) * F.logsigmoid(-beta * (logp - ref_logp))).mean()
    return _combine(ctx, forget_term, retain_term(ctx, retain))


# ---- Beyond the papers: SimNPO, IdkDPO, RMU (spec.md "peers have these") ----


def sub_batch(batch: Batch, prefix: str) -> Batch:
    """The second encoding a forget batch carries, e.g. prefix "idk": idk_input_ids -> input_ids."""
    keys = ("input_ids", "attention_mask", "labels")
    missing = [k for k in keys if f"{prefix}_{k}" not in batch]
    if missing:
        raise ValueError(f"the forget batch has no {prefix!r} encoding ({prefix}_{missing[0]} missing); build it with pipeline.unlearn")
    return {k: batch[f"{prefix}_{k}"] for k in keys}


def simnpo_forget_term(logp: torch.Tensor, n_tokens: torch.Tensor, beta: float, delta: float) -> torch.Tensor:
    """-(2/beta) * logsigmoid(-(beta/|y|) * logp - delta), averaged over the batch; logp, n_tokens (B,)."""
    return (-(2.0 / beta) * F.logsigmoid(-(beta / n_tokens.clamp_min(1.0)) * logp - delta)).mean()


@register("simnpo")
def simnpo(ctx: Context, forget: Batch, retain: Batch | None):
    """SimNPO (Fan et al. 2024, "Simplicity Prevails", SimNPO objective): forget_term = -(2/beta) * logsigmoid(-(beta/|y|) logp_theta(y|x) - delta),
    no reference model, |y| = answer tokens; beta 4.5, delta 0 by default; retain term NLL or KL."""
    logp, n = sequence_logprob(forward_logits(ctx.model, forget), forget["labels"])
    forget_term = simnpo_forget_term(logp, n, beta_of(ctx, "simnpo"), ctx.delta)
    return _combine(ctx, forget_term, retain_term(ctx, retain))


def dpo_forget_term(win_logratio: torch.Tensor, lose_logratio: torch.Tensor, beta: float) -> torch.Tensor:
    """-(2/beta) * logsigmoid(beta * (win_logratio - lose_logratio)), averaged over the batch.

    Rafailov et al. eq. 7 scaled by 2/beta (as NPO and open-unlearning do), so the gradient does
    not vanish as beta -> 0. At theta = ref both log-ratios are 0 and the term is (2/beta) ln 2."""
    return (-(2.0 / beta) * F.logsigmoid(beta * (win_logratio - lose_logratio))).mean()


@register("idkdpo", needs_reference=True, needs_idk=True)
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
    forget_term = dpo_forget_term(win - win_ref, lose - lose_ref, beta_of(ctx, "idkdpo"))
    return _combine(ctx, forget_term, retain_term(ctx, retain))


def rmu_layer_index(model: torch.nn.Module, layer: int | None) -> int:
    """The decoder layer RMU steers: `layer` (negative counts from the end) or the middle one."""
    n = num_layers(model)
    k = (n - 1) // 2 if layer is None else (layer + n if layer < 0 else layer)
    if not 0 <= k < n:
        raise ValueError(f"rmu_layer {layer} out of range for a model with {n} layers")
    return k


def rmu_direction(hidden_size: int, coeff: float, seed: int) -> torch.Tensor:
    """c * u (H,): u a fixed random unit vector, entries drawn from U[0, 1) then normalised (WMDP sec. 5)."""
    u = torch.rand(hidden_size, generator=torch.Generator().manual_seed(seed))
    return coeff * u / u.norm()


def masked_sq_dist(h: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over masked positions of ||h_t - target_t||^2 / H; h (B, T, H), target broadcastable, mask (B, T).

    The 1/H is the released WMDP code's F.mse_loss normalisation: it keeps the loss O(1) at H = 4096."""
    d = (h.float() - target.float()).pow(2).mean(-1)  # (B, T)
    mask = mask.float()
    return (d * mask).sum() / mask.sum().clamp_min(1.0)


def answer_positions(labels: torch.Tensor) -> torch.Tensor:
    """(B, T) mask of the positions whose next token is an answer token: the states that produce the
    answer (the last prompt token and the answer tokens before EOS), aligned with token_logprobs."""
    mask = torch.zeros_like(labels, dtype=torch.float)
    mask[:, :-1] = (labels[:, 1:] != IGNORE).float()
    return mask


@register("rmu", needs_reference=True)
def rmu(ctx: Context, forget: Batch, retain: Batch | None):
    """RMU (Li et al. 2024, WMDP, eq. 1-3): forget_term = mean_t ||h_theta(t) - c*u||^2 over forget answer
    positions at one middle layer, u a fixed random unit vector; retain_term = mean_t ||h_theta(t) - h_ref(t)||^2
    over retain tokens at that layer (both / H, as in the WMDP code)."""
    layer = rmu_layer_index(ctx.model, ctx.rmu_layer)
    h = forward_hidden(ctx.model, forget, layer)  # (B, T, H)
    target = rmu_direction(h.size(-1), ctx.rmu_coeff, ctx.rmu_seed).to(h.device)
    forget_term = masked_sq_dist(h, target, answer_positions(forget["labels"]))
    if retain is None or ctx.alpha == 0:
        return _combine(ctx, forget_term, torch.zeros((), device=h.device))
    assert ctx.reference is not None, "RMU's retain term needs the reference model"
    h_r = forward_hidden(ctx.model, retain, layer)
    retain_dist = masked_sq_dist(h_r, ctx.reference.hidden(retain, layer), retain["attention_mask"])
    return _combine(ctx, forget_term, retain_dist)
