"""RMU (representation misdirection): steer one layer's activations on forget tokens."""

from __future__ import annotations

import torch

from polyunlearn.core.encoding import IGNORE
from polyunlearn.methods.reference import Batch, forward_hidden, num_layers
from polyunlearn.methods.registry import Context, Param, combine, register


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


@register(
    "rmu",
    summary="||h_theta - c u||^2 on forget answer positions at one layer + alpha ||h_theta - h_ref||^2 on retain tokens",
    citation="Li et al. 2024, WMDP, eq. 1-3",
    retain="own",
    reference=True,
    params={
        "rmu_layer": Param(
            None,
            "RMU: decoder layer to steer (0-based, negative from the end); none = the middle one",
            int,
            nullable=True,
        ),
        "rmu_coeff": Param(
            6.5,
            "RMU steering coefficient c (WMDP: 6.5 for Zephyr-7B; scale with the layer's activation norm)",
            minimum=0,
            strict=True,
        ),
        "rmu_seed": Param(None, "RMU: seed of the fixed random direction u; none = the run's seed", int, nullable=True),
    },
)
def rmu(ctx: Context, forget: Batch, retain: Batch | None):
    """RMU (Li et al. 2024, WMDP, eq. 1-3): forget_term = mean_t ||h_theta(t) - c*u||^2 over forget answer
    positions at one middle layer, u a fixed random unit vector; retain_term = mean_t ||h_theta(t) - h_ref(t)||^2
    over retain tokens at that layer (both / H, as in the WMDP code)."""
    layer = rmu_layer_index(ctx.model, ctx.params["rmu_layer"])
    h = forward_hidden(ctx.model, forget, layer)  # (B, T, H)
    target = rmu_direction(h.size(-1), ctx.params["rmu_coeff"], ctx.params["rmu_seed"] or 0).to(h.device)
    forget_term = masked_sq_dist(h, target, answer_positions(forget["labels"]))
    if retain is None or ctx.alpha == 0:
        return combine(ctx, forget_term, torch.zeros((), device=h.device))
    assert ctx.reference is not None, "RMU's retain term needs the reference model"
    h_r = forward_hidden(ctx.model, retain, layer)
    retain_dist = masked_sq_dist(h_r, ctx.reference.hidden(retain, layer), retain["attention_mask"])
    return combine(ctx, forget_term, retain_dist)
