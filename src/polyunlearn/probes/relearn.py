"""Probe `relearn`: a copy of the unlearned model fine-tuned on a few forget items in one language
(or on retain items, or on a text file), then the held-out forget items asked in every language;
the retain model relearned the same way on the run's own forget set gives OpenUnlearning's
relearning robustness R (probe_runs.robustness).

    polyunlearn attack RUN_DIR --probes relearn --relearn-langs en,hi --relearn-on forget,retain
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.models import LoraSettings, add_lora, is_tiny_model, load_model
from polyunlearn.core.rundir import data_fingerprint, fingerprint, model_fingerprint
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.pipeline.phases import FULL_LR, LORA_LR, TINY_LR, select, short_float
from polyunlearn.probes.catalog import Probe, register
from polyunlearn.probes.probe_steps import probe_evaluation, relearn_data, relearn_ids, relearn_run

RELEARN_ON = ("forget", "retain", "text")


# OpenUnlearning relearns 1 epoch at lr 2e-5 (full fine-tuning of models fine-tuned at 1e-5, TOFU):
# twice the learning rate; the same ratio on each kind of model's learning lr (pipeline/phases.py).
RELEARN_LR = {"tiny": 2 * TINY_LR["learn"], "lora": 2 * LORA_LR, "full": 2 * FULL_LR}


@dataclass(frozen=True)
class Params:
    relearn_langs: str = setting(
        "default", "relearn languages: 'default' (each forget language and each language left out), or a comma list"
    )
    relearn_on: str = setting(
        "forget,retain",
        "what relearning trains on (comma list): forget (a fraction of the forget set in each relearn language), "
        "retain (as many retain items of the forget languages), text (the lines of --relearn-text)",
    )
    relearn_text: str | None = setting(None, "UTF-8 text file, one document per line, for relearn-on text")
    relearn_fraction: float = setting(
        0.3,
        "share of the forget facts relearned (the rest are held out and evaluated); 0.3 of 10 leaves 7, enough for p < 0.05",
    )
    relearn_epochs: int = setting(1, "relearning epochs (OpenUnlearning: 1)")
    relearn_lr: float | None = setting(
        None,
        "relearning lr; default twice the learning lr as OpenUnlearning ("
        + ", ".join(f"{short_float(lr)} {kind.replace('lora', 'LoRA')}" for kind, lr in RELEARN_LR.items())
        + ")",
    )
    relearn_batch_size: int = setting(8, "relearning batch size")

    def __post_init__(self) -> None:
        on = [r.strip() for r in self.relearn_on.split(",") if r.strip()]
        for r in on:
            check_choice("relearn_on", r, RELEARN_ON)
        if "text" in on and not self.relearn_text:
            raise ValueError("relearn_on has 'text' but no relearn_text file is given")
        if self.relearn_text and not Path(self.relearn_text).is_file():
            raise ValueError(f"file not found: {self.relearn_text}")
        check_number("relearn_fraction", self.relearn_fraction, minimum=0, strict=True)
        if self.relearn_fraction >= 1:
            raise ValueError(
                f"relearn_fraction must be < 1 (some forget items must stay held out), got {self.relearn_fraction:g}"
            )
        if self.relearn_lr is not None:
            check_number("relearn_lr", self.relearn_lr, minimum=0, strict=True)
        TrainConfig(epochs=self.relearn_epochs, batch_size=self.relearn_batch_size)  # their own checks


def relearn_lr(ctx: Any) -> float:
    """--relearn-lr, else twice the learning lr of this kind of model (RELEARN_LR)."""
    if ctx.cfg.relearn_lr is not None:
        return ctx.cfg.relearn_lr
    return RELEARN_LR["lora" if ctx.target.lora_r else "tiny" if learned_tiny(ctx.target.before) else "full"]


def learned_tiny(before: str) -> bool:
    """Whether the model before unlearning gets the tiny defaults: decided from the model folder
    itself (core.models.is_tiny_model: its parameter count), whatever it is named."""
    return is_tiny_model(before)


def retain_for_relearning(ctx: Any):
    """The retain model as relearning trains it: with fresh LoRA adapters of the run's rank when
    the run unlearned with LoRA (so both models relearn the same way, adapters only)."""
    model = load_model(str(ctx.target.retain), ctx.target.dtype)
    return add_lora(model, LoraSettings(r=ctx.target.lora_r)) if ctx.target.lora_r else model


def relearn_conditions(ctx: Any, langs: Sequence[str], ids: list[str]) -> dict[str, dict]:
    """condition -> {"items" or "texts"}: forget-<A> for each relearn language A (the relearned
    ids in A), forget-<all forget langs> when the run unlearned several (the OpenUnlearning
    protocol on the run's own forget set, used for R), retain (as many retain items of the forget
    languages), text (the file's lines)."""
    forget, on = ctx.forget, [x.strip() for x in ctx.cfg.relearn_on.split(",") if x.strip()]
    chosen = set(ids)
    conds: dict[str, dict] = {}
    if "forget" in on:
        for lang in langs:
            conds[f"forget-{lang}"] = {"items": [it for it in forget if it.language == lang and it.id in chosen]}
        if len(ctx.target.forget_langs) > 1:
            conds["forget-" + "+".join(ctx.target.forget_langs)] = {
                "items": [it for it in forget if it.language in ctx.target.forget_langs and it.id in chosen]
            }
    if "retain" in on:
        retain = select(ctx.target.items, ["retain"], ctx.target.forget_langs)
        per_lang = len(ids)
        conds["retain"] = {
            "items": [
                it for lang in ctx.target.forget_langs for it in [r for r in retain if r.language == lang][:per_lang]
            ]
        }
    if "text" in on:
        lines = [ln.strip() for ln in Path(ctx.cfg.relearn_text).read_text(encoding="utf-8").splitlines() if ln.strip()]
        conds["text"] = {"texts": lines}
    return conds


def run_relearn(ctx: Any, langs: Sequence[str]) -> dict[str, dict]:
    """Relearn a copy per condition; evaluate the held-out forget items in every language. The
    retain model is relearned on the run's own forget set too (for R)."""
    forget = ctx.forget
    ids = relearn_ids(forget, ctx.cfg.relearn_fraction)
    held = [it for it in forget if it.id not in set(ids)]
    keys = {(it.id, it.language) for it in held}
    cfg = TrainConfig(
        lr=relearn_lr(ctx),
        epochs=ctx.cfg.relearn_epochs,
        batch_size=ctx.cfg.relearn_batch_size,
        seed=ctx.cfg.seed,
        prompt_format=ctx.target.cfg.train.prompt_format,
    )
    own = "forget-" + "+".join(ctx.target.forget_langs)  # the run's own forget set (OpenUnlearning's protocol)
    rows, retain_rows = {}, {}
    for cond, spec in relearn_conditions(ctx, langs, ids).items():
        rows[cond], retained = _relearn_condition(ctx, cond, spec, held, cfg, with_retain=cond == own)
        if retained is not None:
            retain_rows[cond] = retained
    highlight = {c: c.removeprefix("forget-").split("+") for c in rows if c.startswith("forget-")}
    n_held = len({it.id for it in held})
    ctx.notes.append(
        f"relearning: {len(ids)} of {len(ids) + n_held} forget facts relearned ({', '.join(ids)}), the other {n_held} "
        f"evaluated; {cfg.epochs} epoch(s) at lr {cfg.lr:g}, batch {cfg.batch_size}"
    )
    group = {"rows": rows, "keys": keys, "highlight": highlight, "ylabel": "relearned on"}
    return {"relearn": group | {"title": "relearning (held-out facts)", "retain_rows": retain_rows, "own": own}}


def _relearn_condition(
    ctx: Any, cond: str, spec: dict, held: list, cfg: TrainConfig, with_retain: bool
) -> tuple[list[dict], list[dict] | None]:
    """One relearn condition: the unlearned model relearned and evaluated on the held-out items
    (and, `with_retain`, the retain model the same way); their per-item records."""
    ev = probe_evaluation(
        held, [cond] * len(held), ctx.ecfg, ctx.candidates, what={"probe": "relearn", "condition": cond}
    )
    data = relearn_data(
        ctx.target.tokenizer, spec.get("items"), spec.get("texts"), ctx.ecfg.max_length, ctx.ecfg.prompt_format
    )
    ident = {
        "data": data_fingerprint(ctx.target.items),
        "relearned_on": fingerprint([(e.prompt, e.answer) for e in data]),
        "held_out": sorted((it.id, it.language) for it in held),
    }
    roles = [(ctx.load_unlearned, ctx.unlearned, ctx.top / "relearn" / cond)]
    if with_retain and ctx.target.retain is not None:
        roles.append(
            (lambda: retain_for_relearning(ctx), ctx.target.retain, ctx.top / "relearn" / "retain_model" / cond)
        )
    out = []
    for load, path, folder in roles:
        ident_m = {"model": model_fingerprint(str(path))} | ident
        kwargs = {
            "tokenizer": ctx.target.tokenizer,
            "data": data,
            "cfg": cfg,
            "evaluation": ev,
            "overwrite": ctx.overwrite,
        }
        out.append(relearn_run(folder, load=load, identity=ident_m, console=ctx.console, **kwargs)[0])
    return out[0], (out[1] if len(out) > 1 else None)


register(
    Probe(
        "relearn",
        run_relearn,
        "cross-lingual relearning (held-out facts)",
        params=Params,
        files=("relearn_text",),
        rank=20,
    )
)
