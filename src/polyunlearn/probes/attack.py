"""`polyunlearn attack RUN_DIR`: is it really gone, in every language? Adversarial probes of an
unlearning run, each re-evaluated in every language, as recovery matrices.

    polyunlearn attack polyunlearn_runs/demo/unlearn/npo__en                 # every probe
    polyunlearn attack RUN_DIR --probes quant,relearn --relearn-langs en,hi

Probes (probes/probe_steps.py): quant (int8, NF4, int4 group 128; LoRA: merged and adapter
separately), relearn (fine-tune a copy on a few forget items in one language, or on retain
items, or on a text file, then the held-out forget items in every language), xprompt (question
in X, answer in Y's gold, with the instruction "answer in Y" in X's words and without it),
jailbreak (the affirmative prefix "Sure, here is the answer:" in each language forced before the
answer; the paraphrased question where the data has one). Every generated answer also gets its
language (language confusion) and chrF. Output, all written through core/rundir, under
RUN_DIR/attacks/ (itself a run folder: other settings are refused, --overwrite redoes):

    unlearned/              the re-created unlearned model, when the run saved none
    plain/<role>/           plain evaluation of the forget items: unlearned, before, retain_model
    quant/<format>/  relearn/<condition>/  relearn/retain_model/<condition>/  xprompt/<role>/  jailbreak/<role>/
    matrices/<probe>_<metric>_recovery.csv|_p.csv|_q.csv|.png, <probe>_<metric>_raw.*, <probe>_wrong_language.*
    robustness.csv          per language: R, Q, their harmonic mean, Forget Quality, Model Utility
    attack.json             what ran, how the unlearned model was obtained, notes, timings

Recovery (evaluation/recovery.py) = (m_attacked - m_unlearned) / (m_before - m_unlearned) per
evaluation language, with m the plain evaluation for before / unlearned; n/a where nothing was
forgotten. Stars: paired Wilcoxon per item (attacked vs unlearned), BH q < 0.05.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from polyunlearn.analysis.matrices import write_matrix
from polyunlearn.core.atomic import read_json, write_json, write_table
from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import load_model
from polyunlearn.core.rundir import (
    RunFolder,
    fingerprint,
    model_fingerprint,
)
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.evaluation import recovery as rec
from polyunlearn.evaluation.confusion import identifier_accuracy
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.evaluation.significance import transfer_pvalues
from polyunlearn.pipeline.step import evaluation_step
from polyunlearn.probes.target import (
    Target,
    check_recreation,
    resolve_target,
    unlearned_model_path,
)

PROBES = ("quant", "relearn", "xprompt", "jailbreak")
# (summary metric, per-item record field) of the recovery matrices; higher = more knowledge.
METRICS = (("forget_prob", "prob"), ("forget_rouge_l", "rouge_l"))


@dataclass(frozen=True)
class AttackConfig:
    """The settings of the adversarial probes (every one part of RUN_DIR/attacks' identity, but
    `probes`, which can be added to a finished attack folder, and `tolerance`, which only shapes
    the matrices, rewritten at every invocation)."""

    probes: tuple[str, ...] = setting(PROBES, "probes to run", cli=False)
    quant_formats: str = setting("int8,nf4,int4_g128", "quantization formats (comma list of int8, nf4, int4_g128)")
    quant_backend: str = setting(
        "torch",
        "who quantizes: torch (the documented formulas, CPU or GPU) or auto (bitsandbytes NF4 on a GPU where installed)",
        choices=("torch", "auto"),
    )
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
        None, "relearning lr; default twice the learning lr as OpenUnlearning (2e-5 full, 2e-4 LoRA, 6e-3 tiny)"
    )
    relearn_batch_size: int = setting(8, "relearning batch size")
    paraphrases: str | None = setting(
        None, "file with id, language, paraphrased_question for the paraphrase probe (TOFU's column)"
    )
    tolerance: float = setting(
        rec.TOLERANCE, "a language whose metric fell by less than this (absolute) forgot nothing: recovery n/a"
    )
    langid_candidates: str = setting(
        "run",
        "language identification chooses among the run's languages (run) or all 97 py3langid knows (all)",
        choices=("run", "all"),
    )
    max_new_tokens: int = setting(48, "greedy answer length")
    seed: int = setting(0, "seed of the relearning runs")

    def __post_init__(self) -> None:
        from polyunlearn.core.quantize import FORMATS

        for p in self.probes:
            check_choice("probe", p, PROBES)
        for f in _list(self.quant_formats):
            check_choice("quant_formats", f, FORMATS)
        for r in _list(self.relearn_on):
            check_choice("relearn_on", r, ("forget", "retain", "text"))
        if "text" in _list(self.relearn_on) and not self.relearn_text:
            raise ValueError("relearn_on has 'text' but no relearn_text file is given")
        for path in (self.relearn_text, self.paraphrases):
            if path and not Path(path).is_file():
                raise ValueError(f"file not found: {path}")
        check_choice("quant_backend", self.quant_backend, ("torch", "auto"))
        check_choice("langid_candidates", self.langid_candidates, ("run", "all"))
        check_number("relearn_fraction", self.relearn_fraction, minimum=0, strict=True)
        if self.relearn_fraction >= 1:
            raise ValueError(
                f"relearn_fraction must be < 1 (some forget items must stay held out), got {self.relearn_fraction:g}"
            )
        check_number("tolerance", self.tolerance, minimum=0)
        if self.relearn_lr is not None:
            check_number("relearn_lr", self.relearn_lr, minimum=0, strict=True)
        TrainConfig(epochs=self.relearn_epochs, batch_size=self.relearn_batch_size)  # their own checks

    def identity(self) -> dict[str, Any]:
        ident = {
            k: v for k, v in asdict(self).items() if k not in ("probes", "tolerance", "relearn_text", "paraphrases")
        }
        for key in ("relearn_text", "paraphrases"):  # files by content, not by path
            path = getattr(self, key)
            ident[key] = fingerprint(Path(path).read_text(encoding="utf-8")) if path else None
        return ident


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@dataclass
class Ctx:
    """What every probe reads: the target, the settings, the attack folder, the plain records."""

    target: Target
    cfg: AttackConfig
    top: Path
    unlearned: Path
    console: Console
    overwrite: bool
    plain: dict[str, list[dict]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ecfg(self) -> EvalConfig:
        # The probes ask in the prompt format the run was trained and evaluated in.
        return EvalConfig(max_new_tokens=self.cfg.max_new_tokens, prompt_format=self.target.cfg.train.prompt_format)

    @property
    def forget(self) -> list:
        return [it for it in self.target.items if it.split == "forget"]

    @property
    def candidates(self) -> list[str] | None:
        return list(self.target.languages) if self.cfg.langid_candidates == "run" else None

    def evaluate(self, folder: Path, load, model_path: Path | str, identity: dict, evaluation) -> list[dict]:
        ident = {"model": model_fingerprint(str(model_path))} | identity
        return evaluation_step(
            folder,
            load=load,
            identity=ident,
            tokenizer=self.target.tokenizer,
            evaluation=evaluation,
            what=f"attack {folder.relative_to(self.top)}",
            console=self.console,
            overwrite=self.overwrite,
        )[0]

    def load_unlearned(self):
        return load_model(str(self.unlearned), self.target.dtype)  # the dtype the run loaded its model in


def run_attacks(
    run_dir: str | Path,
    cfg: AttackConfig,
    console: Console | None = None,
    data: str | None = None,
    langs: str | None = None,
    retain: str | None = None,
    overwrite: bool = False,
    retain_eval: str | None = None,
) -> dict[str, Any]:
    """Run `cfg.probes` on the unlearning run in `run_dir`; returns the manifest (attack.json)."""
    from polyunlearn.probes import probe_runs as attack_runs

    console = console or Console()
    target = resolve_target(run_dir, data, langs, retain, retain_eval)
    relearn_langs = (
        default_relearn_langs(target)
        if cfg.relearn_langs == "default"
        else parse_langs(cfg.relearn_langs, target.languages)
    )
    top_identity = {"run": fingerprint(target.identity), "settings": cfg.identity()}
    with RunFolder(
        target.run_dir / "attacks", top_identity, kind="attack", info={"probes": list(cfg.probes)}, overwrite=overwrite
    ) as top:
        t0 = time.time()
        path, how = unlearned_model_path(target, top.path / "unlearned", console, overwrite)
        ctx = Ctx(target, cfg, top.path, path, console, overwrite)
        attack_runs.plain_evaluations(ctx)
        manifest = _manifest(ctx, how)
        groups: dict[str, dict] = {}
        for probe in _with_earlier(top.path, cfg.probes):
            t = time.time()
            groups |= attack_runs.PROBE_RUNNERS[probe](ctx, relearn_langs)
            manifest["probes"][probe] = {"seconds": round(time.time() - t, 1)}
        for name, group in groups.items():
            manifest["matrices"] += write_group(top.path / "matrices", name, group, ctx)
        robust = attack_runs.robustness(ctx, groups)
        if robust is not None:
            write_table(top.path / "robustness.csv", robust)
            manifest["robustness"] = robust.to_dict("records")
        manifest |= {"notes": ctx.notes, "seconds": round(time.time() - t0, 1)}
        write_json(top.path / "attack.json", manifest)
        top.finish({"probes": list(cfg.probes)})
    console.print(summary_table(manifest, groups, ctx))
    for note in ctx.notes:
        console.print(f"[yellow]note:[/yellow] {note}", markup=True)
    return manifest


def _manifest(ctx: Ctx, how: str) -> dict[str, Any]:
    """attack.json's head: the run, how the unlearned model was obtained (checked when
    re-created), the settings, and how well language identification does on the gold answers."""
    target = ctx.target
    manifest: dict[str, Any] = {
        "run": str(target.run_dir.resolve()),
        "method": target.cfg.method,
        "forget_langs": target.forget_langs,
        "languages": target.languages,
        "unlearned_model": {"path": str(ctx.unlearned), "obtained": how},
        "settings": asdict(ctx.cfg),
        "probes": {},
        "matrices": [],
        "tolerance": ctx.cfg.tolerance,
    }
    if how == "re-created":
        manifest["unlearned_model"]["max_forget_prob_difference"] = check_recreation(target, ctx.plain["unlearned"])
    gold = [(it.language, it.answer) for it in ctx.forget]
    manifest["langid_accuracy_on_gold_answers"] = identifier_accuracy(gold, ctx.candidates)
    return manifest


def _with_earlier(folder: Path, probes: Sequence[str]) -> list[str]:
    """`probes` plus those an earlier invocation ran in this attack folder (same settings, so
    their run folders are reused at no cost): the matrices, robustness.csv and attack.json then
    cover every probe done, not only the last ones asked for."""
    earlier = read_json(folder / "attack.json").get("probes", {}) if (folder / "attack.json").is_file() else {}
    return [p for p in PROBES if p in probes or p in earlier]


def default_relearn_langs(target: Target) -> list[str]:
    """Each forget language and each language left out: every language of the run, forget first."""
    return list(dict.fromkeys([*target.forget_langs, *target.languages]))


def write_group(folder: Path, name: str, group: dict, ctx: Ctx) -> list[str]:
    """The recovery and raw matrices of one probe group (rows = its conditions), per metric, and
    its wrong-language matrix; returns the file names written."""
    langs, keys, tol = ctx.target.languages, group.get("keys"), ctx.cfg.tolerance
    base_u = _keep(ctx.plain["unlearned"], keys)
    written: list[str] = []
    for metric, item in METRICS:
        if not all(any(r.get(item) is not None for r in recs) for recs in group["rows"].values()):
            continue
        u, b = rec.item_means(base_u, item), rec.item_means(_keep(ctx.plain["before"], keys), item)
        m = pd.DataFrame(
            {row: rec.recovery_row(rec.item_means(recs, item), u, b, langs, tol) for row, recs in group["rows"].items()}
        ).T
        m = m.rename_axis(index=group["ylabel"], columns="eval_lang")
        pq = transfer_pvalues(base_u, group["rows"], item, "forget", languages=langs)
        title = f"{ctx.target.cfg.method} ({','.join(ctx.target.forget_langs)}): {group['title']}, recovered share of the {metric} forgotten"
        written += [
            p.name
            for p in write_matrix(
                folder,
                f"{name}_{metric}_recovery",
                m,
                title,
                highlight=group.get("highlight"),
                ylabel=group["ylabel"],
                pq=pq,
            )
        ]
        raw = {"before (plain)": b, "unlearned (plain)": u} | {
            row: rec.item_means(recs, item) for row, recs in group["rows"].items()
        }
        raw |= {f"before | {row}": rec.item_means(recs, item) for row, recs in group.get("before_rows", {}).items()}
        raw_m = pd.DataFrame(raw).T.reindex(columns=langs).rename_axis(index=group["ylabel"], columns="eval_lang")
        written += [
            p.name
            for p in write_matrix(
                folder, f"{name}_{metric}_raw", raw_m, f"{group['title']}: {metric} (raw)", ylabel=group["ylabel"]
            )
        ]
    if all(any(r.get("wrong_language") is not None for r in recs) for recs in group["rows"].values()):
        wl = pd.DataFrame(
            {"unlearned (plain)": rec.item_means(base_u, "wrong_language")}
            | {row: rec.item_means(recs, "wrong_language") for row, recs in group["rows"].items()}
        ).T.reindex(columns=langs)
        pq = transfer_pvalues(base_u, group["rows"], "wrong_language", "forget", languages=langs)
        written += [
            p.name
            for p in write_matrix(
                folder,
                f"{name}_wrong_language",
                wl.rename_axis(index=group["ylabel"], columns="eval_lang"),
                f"{group['title']}: share of answers in a wrong language",
                ylabel=group["ylabel"],
                pq=(pq[0].reindex(wl.index), pq[1].reindex(wl.index)),
            )
        ]
    return written


def _keep(records: Sequence[dict], keys: set[tuple[str, str]] | None) -> list[dict]:
    return list(records) if keys is None else [r for r in records if (r["id"], r["language"]) in keys]


def summary_table(manifest: dict, groups: dict[str, dict], ctx: Ctx):
    """Console table: per probe condition, the mean recovered share of forget Prob over the
    unlearned languages and over the others."""
    from polyunlearn.analysis.matrices import console_table

    langs, forget = ctx.target.languages, set(ctx.target.forget_langs)
    u, b = rec.item_means(ctx.plain["unlearned"], "prob"), rec.item_means(ctx.plain["before"], "prob")
    rows = []
    for name, group in groups.items():
        for row, recs in group["rows"].items():
            keys = group.get("keys")
            r = rec.recovery_row(
                rec.item_means(recs, "prob"),
                rec.item_means(_keep(ctx.plain["unlearned"], keys), "prob") if keys else u,
                rec.item_means(_keep(ctx.plain["before"], keys), "prob") if keys else b,
                langs,
                ctx.cfg.tolerance,
            )
            mine, other = r[[x for x in langs if x in forget]], r[[x for x in langs if x not in forget]]
            rows.append(
                {"probe": name, "condition": row, "unlearned langs": _nanmean(mine), "other langs": _nanmean(other)}
            )
    title = f"{manifest['method']} ({','.join(manifest['forget_langs'])}): recovered share of the forget Prob forgotten (mean over languages; n/a = nothing forgotten)"
    return console_table(rows, title)


def _nanmean(s: pd.Series) -> float | None:
    s = s.dropna()
    return float(s.mean()) if len(s) else None
