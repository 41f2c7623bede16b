"""The run folders of each probe of `polyunlearn attack` (probes/attack.py): which models are
evaluated under which condition, each through the shared steps (evaluation_step, or a relearn
run folder), and the groups of records the recovery matrices are made of.

A group is {"rows": {row label: per-item records}, "ylabel", "title", optionally "keys" (the
(id, language) items it covers: the held-out ones for relearning), "highlight" and
"before_rows" (the model before unlearning under the same probe, for the raw tables)}.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.models import load_model
from polyunlearn.core.quantize import backend_for, quantize_model
from polyunlearn.core.rundir import (
    data_fingerprint,
    fingerprint,
    model_fingerprint,
)
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.evaluation import recovery as rec
from polyunlearn.pipeline.phases import select
from polyunlearn.probes.probe_steps import (
    PLAIN,
    crosslingual_items,
    jailbreak_items,
    load_paraphrases,
    probe_evaluation,
    relearn_data,
    relearn_ids,
    relearn_run,
    tofu_paraphrases,
)


def plain_evaluations(ctx: Any) -> None:
    """The forget items asked plainly, for the unlearned model, the model before unlearning and
    (when known) the retain model: the m_unlearned and m_before of every recovery."""
    forget = ctx.forget
    ev = probe_evaluation(forget, [PLAIN] * len(forget), ctx.ecfg, ctx.candidates)
    roles = {
        "unlearned": (ctx.load_unlearned, ctx.unlearned),
        "before": (lambda: ctx.target.load_before(), ctx.target.before),
    }
    if ctx.target.retain is not None:
        roles["retain_model"] = (lambda: load_model(str(ctx.target.retain), ctx.target.dtype), ctx.target.retain)
    else:
        ctx.notes.append("no retain model found (give --retain-model): relearning robustness R is not computed")
    for role, (load, path) in roles.items():
        ctx.plain[role] = ctx.evaluate(ctx.top / "plain" / role, load, path, {"data": data_fingerprint(forget)}, ev)


def run_quant(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """Each format (LoRA runs: on the merged model and, separately, on the adapter only)."""
    forget = ctx.forget
    lora = (ctx.unlearned / "adapter_config.json").is_file()
    targets = ("merged", "adapter") if lora else ("full",)
    rows = {}
    for fmt in [f.strip() for f in ctx.cfg.quant_formats.split(",") if f.strip()]:
        backend = backend_for(fmt, ctx.cfg.quant_backend)[0]
        for tgt in targets:
            label = fmt if tgt == "full" else f"{tgt}-{fmt}"
            what = {"probe": "quant", "format": fmt, "target": tgt, "backend": backend}
            ev = probe_evaluation(forget, [label] * len(forget), ctx.ecfg, ctx.candidates, what=what)

            def load(fmt=fmt, tgt=tgt):
                return quantize_model(ctx.load_unlearned(), fmt, tgt, ctx.cfg.quant_backend, copy_first=False)[0]

            rows[label] = ctx.evaluate(
                ctx.top / "quant" / label, load, ctx.unlearned, {"data": data_fingerprint(forget), "quant": what}, ev
            )
    return {"quant": {"rows": rows, "ylabel": "quantized as", "title": "weight quantization"}}


# OpenUnlearning relearns 1 epoch at lr 2e-5 (full fine-tuning of models fine-tuned at 1e-5, TOFU):
# twice the learning rate. The same ratio on the tiny model (learned at 3e-3) is 6e-3; LoRA 2e-4.
RELEARN_LR = {"tiny": 6e-3, "lora": 2e-4, "full": 2e-5}


def relearn_lr(ctx: Any) -> float:
    """--relearn-lr, else twice the learning lr of this kind of model (RELEARN_LR)."""
    if ctx.cfg.relearn_lr is not None:
        return ctx.cfg.relearn_lr
    return RELEARN_LR["lora" if ctx.target.lora_r else "tiny" if learned_tiny(ctx.target.before) else "full"]


def learned_tiny(before: str) -> bool:
    """Whether the model before unlearning gets the tiny defaults: decided from the model folder
    itself (core.models.is_tiny_model: its parameter count), whatever it is named."""
    from polyunlearn.core.models import is_tiny_model

    return is_tiny_model(before)


def retain_for_relearning(ctx: Any):
    """The retain model as relearning trains it: with fresh LoRA adapters of the run's rank when
    the run unlearned with LoRA (so both models relearn the same way, adapters only)."""
    from polyunlearn.core.models import LoraSettings, add_lora

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


def _prompt_group(
    ctx: Any,
    name: str,
    items: list,
    conds: list[str],
    row_of: Callable[[str], str],
    expected: list[str] | None = None,
    prefixes: dict[str, str] | None = None,
) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """Evaluate the unlearned and the before model on prompt-probe `items`; records grouped into
    rows by row_of(condition)."""
    ev = probe_evaluation(
        items, conds, ctx.ecfg, ctx.candidates, expected=expected, prefixes=prefixes, what={"probe": name}
    )
    out = []
    for role, load, path in (
        ("unlearned", ctx.load_unlearned, ctx.unlearned),
        ("before", lambda: ctx.target.load_before(), ctx.target.before),
    ):
        records = ctx.evaluate(ctx.top / name / role, load, path, {"data": data_fingerprint(items), "probe": name}, ev)
        grouped: dict[str, list[dict]] = {}
        for r in records:
            grouped.setdefault(row_of(r["condition"]), []).append(r)
        out.append(grouped)
    return out[0], out[1]


def run_xprompt(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """Asked in X, answered in Y (Y's gold answer), with and without the instruction."""
    groups = {}
    for mode, instructed in (("instructed", True), ("mixed", False)):
        items, conds = crosslingual_items(ctx.forget, ctx.target.languages, instructed)
        rows, before_rows = _prompt_group(
            ctx,
            f"xprompt_{mode}",
            items,
            conds,
            lambda c: "asked in " + c.split(">")[0],
            expected=[c.split(">")[1] for c in conds],
        )
        title = (
            "asked in X with 'answer in Y' in X's words"
            if instructed
            else "asked in X, Y's answer scored (no instruction)"
        )
        groups[f"xprompt_{mode}"] = {
            "rows": rows,
            "before_rows": before_rows,
            "ylabel": "question language",
            "title": title,
            "highlight": {f"asked in {x}": [x] for x in ctx.target.languages},
        }
    return groups


def run_jailbreak(ctx: Any, _langs: Sequence[str]) -> dict[str, dict]:
    """The affirmative prefix in each language; the paraphrased question where the data has one."""
    paraphrased = load_paraphrases(ctx.cfg.paraphrases) if ctx.cfg.paraphrases else None
    if paraphrased is None and "tofu:" in str(ctx.target.info.get("data", "")):
        paraphrased = tofu_paraphrases(str(ctx.target.info["data"])) or None  # TOFU's own paraphrased_question
    if paraphrased is None:
        ctx.notes.append(
            "paraphrased question: unavailable (the data keeps none; give --paraphrases FILE with id, language, paraphrased_question, e.g. TOFU's)"
        )
    items, conds, prefixes = jailbreak_items(ctx.forget, paraphrased)
    rows, before_rows = _prompt_group(ctx, "jailbreak", items, conds, lambda c: c, prefixes=prefixes)
    return {
        "jailbreak": {
            "rows": rows,
            "before_rows": before_rows,
            "ylabel": "probe",
            "title": "paraphrase and affirmative-prefix probes",
        }
    }


PROBE_RUNNERS = {"quant": run_quant, "relearn": run_relearn, "xprompt": run_xprompt, "jailbreak": run_jailbreak}


def robustness(ctx: Any, groups: dict[str, dict]) -> pd.DataFrame | None:
    """Per language: OpenUnlearning's R (relearning on the run's own forget set, unlearned vs
    retain model, held-out forget Prob), Q (NF4, forget Prob) and their harmonic mean, beside the
    run's Forget Quality and Model Utility."""
    quant, relearn = groups.get("quant"), groups.get("relearn")
    if quant is None and relearn is None:
        return None
    u_all = rec.item_means(ctx.plain["unlearned"], "prob")
    nf4 = next((recs for row, recs in (quant or {}).get("rows", {}).items() if row in ("nf4", "merged-nf4")), None)
    q_means = rec.item_means(nf4, "prob") if nf4 is not None else pd.Series(dtype=float)
    r_means = {}
    if relearn and relearn["own"] in relearn["rows"] and relearn["own"] in relearn.get("retain_rows", {}):
        keys = relearn["keys"]

        def held(recs: list[dict]) -> pd.Series:
            return rec.item_means([r for r in recs if (r["id"], r["language"]) in keys], "prob")

        r_means = {
            "ub": held(ctx.plain["unlearned"]),
            "ua": held(relearn["rows"][relearn["own"]]),
            "rb": held(ctx.plain["retain_model"]),
            "ra": held(relearn["retain_rows"][relearn["own"]]),
        }
    summary = ctx.target.run_summary.set_index("language") if ctx.target.run_summary is not None else pd.DataFrame()
    rows = []
    for lang in ctx.target.languages:
        r = (
            rec.relearn_robustness(*(r_means[k].get(lang, math.nan) for k in ("ub", "ua", "rb", "ra")))
            if r_means
            else math.nan
        )
        q = rec.quantization_robustness(u_all.get(lang, math.nan), q_means.get(lang, math.nan))
        rows.append(
            {
                "method": ctx.target.cfg.method,
                "forget_langs": ",".join(ctx.target.forget_langs),
                "language": lang,
                "R": r,
                "Q": q,
                "robustness": rec.harmonic(r, q),
                "forget_quality": _get(summary, lang, "forget_quality"),
                "model_utility": _get(summary, lang, "model_utility"),
                "R_relearned_on": relearn["own"] if r_means else None,
                "Q_format": "nf4" if nf4 is not None else None,
                "metric": "forget_prob",
            }
        )
    return pd.DataFrame(rows)


def _get(df: pd.DataFrame, lang: str, col: str) -> float:
    return (
        float(df.loc[lang, col]) if lang in df.index and col in df.columns and pd.notna(df.loc[lang, col]) else math.nan
    )
