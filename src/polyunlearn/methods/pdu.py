"""PDU: unlearning as a constrained problem solved primal-dual. Minimise a forget loss subject to
the retain loss staying below a bound epsilon; the retain weight lambda is the Lagrange multiplier,
raised by dual ascent while the constraint is violated and lowered (to 0 at least) once it holds:

    L(theta, lambda) = gamma * F(theta) + lambda * (R(theta) - epsilon)
    lambda <- max(0, lambda + eta * (R - epsilon))          after every step, lambda_0 = alpha
    F = mean over forget answer positions t of (max_v z_t,v - mean_v z_t,v)^2     (logit-margin flattening)

lambda lives in Context.state for the run (logged as "state/lambda" each step, restored on resume).
"""

from __future__ import annotations

import torch

from polyunlearn.core.encoding import IGNORE
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import STATE_LOG, Context, Param, register, retain_kl, retain_nll


def flattening_term(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """mean over the positions that predict an answer token of (max_v z - mean_v z)^2; logits (B, T, V)."""
    z = logits[:, :-1].float()
    mask = (labels[:, 1:] != IGNORE).float()
    margin = z.max(-1).values - z.mean(-1)  # (B, T-1)
    return (margin.pow(2) * mask).sum() / mask.sum().clamp_min(1.0)


def mean_over_processes(value: torch.Tensor) -> float:
    """`value` averaged over the processes of a distributed run, so every process takes the same
    dual step (each sees a different retain batch); the value itself in a single process."""
    value = value.detach().float()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        value = value.clone()
        torch.distributed.all_reduce(value)
        value /= torch.distributed.get_world_size()
    return float(value)


def dual_update(lam: float, retain_loss: float, epsilon: float, eta: float) -> float:
    """One projected dual-ascent step: max(0, lambda + eta (R - epsilon))."""
    return max(0.0, lam + eta * (retain_loss - epsilon))


@register(
    "pdu",
    summary="gamma mean_t (max_v z - mean_v z)^2 on forget answer positions + lambda (R - epsilon); lambda <- max(0, lambda + eta (R - epsilon)), lambda_0 = alpha",
    citation="Entesari et al. 2025, Constrained Entropic Unlearning: A Primal-Dual Framework for LLMs, arXiv 2506.05314; open-unlearning PDU",
    retain="choice",
    params={
        "epsilon": Param(
            None,
            "PDU: bound on the retain loss (in the units of retain_loss; e.g. the retain NLL of the model before unlearning plus a margin); required",
        ),
        "eta": Param(1.0, "PDU: dual step size of the retain weight lambda", minimum=0),
    },
)
def pdu(ctx: Context, forget: Batch, retain: Batch | None):
    """PDU (Entesari et al. 2025, arXiv 2506.05314, the primal-dual formulation): forget_term F =
    mean over forget answer positions of (max logit - mean logit)^2, which flattens the model's
    prediction there towards uniform; retain term R = NLL or KL (retain_loss) on the retain batch;
    loss = gamma F + lambda (R - epsilon) with lambda starting at alpha and updated after every step
    by lambda <- max(0, lambda + eta (R - epsilon)).

    epsilon has no default: it is a bound in the units of the chosen retain loss and depends on the
    model and data (a sensible value is a little above the retain loss before unlearning). eta 1 is
    open-unlearning's dual_step_size default; its dual update runs per step (dual_update_upon
    "step", no warm-up), as here. Differs from open-unlearning's PDU in averaging the margin over
    the forget answer positions only (open-unlearning averages over every position of the forget
    batch, prompt and padding included). R is computed even when lambda is 0, so the multiplier can
    rise again."""
    if retain is None:
        raise ValueError(
            "pdu: no retain batch; the retain-loss constraint needs retain items (a retain split in the retain languages)"
        )
    forget_term = flattening_term(forward_logits(ctx.model, forget), forget["labels"])
    if ctx.params["retain_loss"] == "kl":
        retain_loss = retain_kl(ctx, retain)
    else:
        retain_loss = retain_nll(ctx, retain)
    lam = float(ctx.state.get("lambda", ctx.alpha))
    eps = ctx.params["epsilon"]
    loss = ctx.gamma * forget_term + lam * (retain_loss - eps)
    r = mean_over_processes(retain_loss)
    ctx.state["lambda"] = dual_update(lam, r, eps, ctx.params["eta"])
    return loss, {
        "forget_term": float(forget_term.detach()),
        "retain_term": r,
        "lambda": lam,
        STATE_LOG + "lambda": ctx.state["lambda"],
    }
