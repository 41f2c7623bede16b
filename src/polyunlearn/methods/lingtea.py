"""LingTea-style adaptive multilingual unlearning (Choi, Min and Choo, "Cross-Lingual Unlearning of
Selective Knowledge in Multilingual Language Models", Findings of EMNLP 2024, arXiv 2406.12354).

Epochs cycle: `ga_epochs` epochs of gradient ascent on the forget set, then one epoch of knowledge
distillation from the model before unlearning (the teacher) on the retain set, where each
language's distillation is weighted by the teacher's confidence in that language:

    GA epoch:  loss = gamma * (-NLL(forget))
    KD epoch:  loss = alpha * sum_l (n_l / n) [ c_l * KL_l(p_ref^T || p_theta^T) T^2 + (1 - c_l) * CE_l(theta) ]
               c_l = mean over language l's retain answer tokens of p_ref(y_t)   (teacher confidence)

Where the teacher is confident (typically high-resource languages) the student copies its whole
distribution; where it is not (low-resource languages, whose knowledge the teacher holds weakly),
the student leans on the gold answers instead of copying an unreliable teacher, so repairing the
damage of the ascent neither over- nor under-shoots per language.

What is implemented, and where it differs from the paper's released code (brightjade/LingTea,
model.py and datamodules/flores.py, read for this; the paper text itself was not available here):
- Same: alternation by epoch (their forget_multiplier = our ga_epochs, default 1: GA, KD, GA, KD,
  ...); plain gradient ascent in GA epochs; in KD epochs KL(teacher || student) at temperature T
  (x T^2, default T = 1) weighted by the teacher's probability of the gold token plus the student's
  cross-entropy weighted by 1 minus it; the teacher is a frozen copy of the model before unlearning.
- Differs: (1) the weight is per language, c_l = the teacher's mean gold-token probability over
  that language's answer tokens in the batch, where the released code weighs each token by its own
  probability; per language is how the paper describes its scheme ("language-dependent weights")
  and is less noisy on short answers. (2) Each KD term is a token mean within its language, then
  the languages are averaged by token count; the released code sums the KD term over tokens per
  sequence and divides the CE term by all attended tokens (prompt included). (3) A KD epoch runs
  as many steps as a GA epoch (one epoch = one pass over the forget set in polyunlearn's loop),
  on the retain batches paired with those steps; the released code's KD epoch is a full pass over
  a retain set 1-4x the forget set. (4) Forget and retain items are whole QA pairs with the loss on
  answer tokens; the released code trains on FLORES sentences / BMLAMA prompts in a random one of
  the languages per item and step. (5) Model selection (their early stopping on validation forget
  accuracy) is not part of the objective and is not done.

gamma and alpha weigh the GA and KD steps, but each step has one term only, so with gradient
clipping (TrainConfig.max_grad_norm) and AdamW they mostly cancel out (measured on the tiny model:
alpha 1 and 5 gave the same result). The learning rate and ga_epochs are the knobs that matter.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from polyunlearn.core.encoding import IGNORE
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.methods.reference import Batch, forward_logits
from polyunlearn.methods.registry import Context, Param, register


def lingtea_kd_term(
    logits: torch.Tensor,
    ref_logits: torch.Tensor,
    labels: torch.Tensor,
    language: torch.Tensor,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, dict[int, float]]:
    """sum_l (n_l / n) [c_l KL_l T^2 + (1 - c_l) CE_l] over the answer tokens of a batch, and the
    per-language confidences {language index: c_l}. logits, ref_logits (B, T, V); labels (B, T);
    language (B,) language indices. KL_l, CE_l and c_l are means over language l's answer tokens."""
    z, z_ref = logits[:, :-1].float(), ref_logits[:, :-1].float()
    target = labels[:, 1:]
    mask = target != IGNORE  # (B, T-1)
    gold = target.clamp_min(0).unsqueeze(-1)
    with torch.no_grad():
        conf = F.softmax(z_ref, dim=-1).gather(-1, gold).squeeze(-1)  # teacher's p(y_t) at T = 1
    log_q = F.log_softmax(z / temperature, dim=-1)
    log_p = F.log_softmax(z_ref / temperature, dim=-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1) * temperature**2  # (B, T-1)
    ce = -F.log_softmax(z, dim=-1).gather(-1, gold).squeeze(-1)  # (B, T-1)
    tok_lang = language.view(-1, 1).expand_as(mask)
    n = mask.sum().clamp_min(1)
    total = z.new_zeros(())
    confidences: dict[int, float] = {}
    for lang in torch.unique(tok_lang[mask]).tolist():
        m = (mask & (tok_lang == lang)).float()
        n_l = m.sum()
        c = (conf * m).sum() / n_l
        confidences[int(lang)] = float(c)
        total = total + (n_l / n) * (c * (kl * m).sum() / n_l + (1 - c) * (ce * m).sum() / n_l)
    return total, confidences


def lingtea_phase(state: dict, ga_epochs: int) -> str:
    """ "ga" or "kd" for the batch about to run, counting batches in `state` (Context.state): epoch =
    batch // batches_per_epoch, and every (ga_epochs + 1)-th epoch is a distillation epoch.
    pipeline.phases.unlearn seeds both keys (batch = finished epochs x batches_per_epoch on resume)."""
    if "batches_per_epoch" not in state:
        raise ValueError(
            "lingtea needs Context.state['batches_per_epoch'] (forget batches per epoch); pipeline.phases.unlearn sets it"
        )
    k = int(state.get("batch", 0))
    state["batch"] = k + 1
    epoch = k // int(state["batches_per_epoch"])
    return "kd" if epoch % (ga_epochs + 1) == ga_epochs else "ga"


@register(
    "lingtea",
    summary="epochs alternate: -NLL(forget) x ga_epochs, then alpha sum_l (n_l/n)[c_l KL_l(ref||theta) + (1-c_l) CE_l] on retain, c_l = teacher confidence in language l",
    citation="Choi, Min and Choo 2024, Cross-Lingual Unlearning of Selective Knowledge in Multilingual Language Models, Findings of EMNLP, arXiv 2406.12354",
    retain="own",
    reference=True,
    needs_language=True,
    params={
        "ga_epochs": Param(
            1,
            "LingTea: gradient-ascent epochs before each distillation epoch (the paper code's forget_multiplier)",
            int,
            minimum=1,
        ),
        "kd_temperature": Param(
            1.0, "LingTea: distillation temperature T (the KL term is scaled by T^2)", minimum=0, strict=True
        ),
    },
)
def lingtea(ctx: Context, forget: Batch, retain: Batch | None):
    """LingTea-style adaptive unlearning (see the module docstring for exactly what is implemented
    and how it differs from the paper's code): gradient-ascent epochs on the forget set alternating
    with epochs of distillation from the model before unlearning on the retain set, each language
    weighted by the teacher's confidence c_l: loss = alpha sum_l (n_l/n) [c_l KL_l + (1 - c_l) CE_l]."""
    if lingtea_phase(ctx.state, ctx.params["ga_epochs"]) == "ga":
        forget_term = -mean_nll(forward_logits(ctx.model, forget), forget["labels"])
        return ctx.gamma * forget_term, {"phase_kd": 0.0, "forget_term": float(forget_term.detach())}
    if retain is None:
        raise ValueError(
            "lingtea: no retain batch for a distillation epoch; it needs retain items (a retain split in the retain languages)"
        )
    if "language" not in retain:
        raise ValueError(
            "lingtea: the retain batch has no 'language' (build the encodings with pipeline.phases.unlearn, which sets Encoded.language)"
        )
    assert ctx.reference is not None, "LingTea needs the reference model (its teacher)"
    kd, conf = lingtea_kd_term(
        forward_logits(ctx.model, retain),
        ctx.reference.logits(retain),
        retain["labels"],
        retain["language"],
        ctx.params["kd_temperature"],
    )
    mean_conf = sum(conf.values()) / max(1, len(conf))
    return ctx.alpha * kd, {"phase_kd": 1.0, "retain_term": float(kd.detach()), "teacher_confidence": mean_conf}
