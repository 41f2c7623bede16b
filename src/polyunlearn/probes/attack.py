"""`polyunlearn attack RUN_DIR`: is it really gone, in every language? Adversarial probes of an
unlearning run, each re-evaluated in every language, as recovery matrices.

    polyunlearn attack polyunlearn_runs/demo/unlearn/npo__en                 # every probe
    polyunlearn attack RUN_DIR --probes quant,relearn --relearn-langs en,hi

Probes (one module each, registered in probes/catalog.py: quant.py, relearn.py, xprompt.py,
jailbreak.py; their shared steps in probe_steps.py and probe_runs.py): quant (int8, NF4, int4 group 128; LoRA: merged and adapter
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
from dataclasses import asdict, dataclass, field, make_dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from polyunlearn.core.atomic import read_json, write_json, write_table
from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import load_model
from polyunlearn.core.rundir import (
    RunFolder,
    fingerprint,
    model_fingerprint,
)
from polyunlearn.evaluation import recovery as rec
from polyunlearn.evaluation.confusion import identifier_accuracy
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.pipeline.step import evaluation_step
from polyunlearn.probes.catalog import load_probes, param_fields
from polyunlearn.probes.probe_runs import plain_evaluations, robustness
from polyunlearn.probes.recovery_matrix import summary_table, write_group
from polyunlearn.probes.target import (
    Target,
    check_recreation,
    resolve_target,
    unlearned_model_path,
)

PROBE_SPECS = load_probes()
PROBES = tuple(PROBE_SPECS)
LANGID_CANDIDATES = ("run", "all")

# The settings every probe shares; each probe's own (probes/<name>.py, its Params) sit between
# `probes` and these in AttackConfig, so `attack --help` lists them probe by probe.
_COMMON = [
    (
        "tolerance",
        float,
        setting(
            rec.TOLERANCE, "a language whose metric fell by less than this (absolute) forgot nothing: recovery n/a"
        ),
    ),
    (
        "langid_candidates",
        str,
        setting(
            "run",
            "language identification chooses among the run's languages (run) or all 97 py3langid knows (all)",
            choices=LANGID_CANDIDATES,
        ),
    ),
    ("max_new_tokens", int, setting(48, "greedy answer length in tokens of every generating probe")),
    ("seed", int, setting(0, "seed of the relearning runs")),
]
# Not part of the identity: `probes` can be added to a finished attack folder, `tolerance` only
# shapes the matrices (rewritten at every invocation); files count by content.
_FILES = tuple(f for p in PROBE_SPECS.values() for f in p.files)


def _post_init(self) -> None:
    for p in self.probes:
        check_choice("probe", p, PROBES)
    for probe in PROBE_SPECS.values():
        probe.check(self)
    check_choice("langid_candidates", self.langid_candidates, LANGID_CANDIDATES)
    check_number("tolerance", self.tolerance, minimum=0)


def _identity(self) -> dict[str, Any]:
    ident = {k: v for k, v in asdict(self).items() if k not in ("probes", "tolerance", *_FILES)}
    for key in _FILES:  # files by content, not by path
        path = getattr(self, key)
        ident[key] = fingerprint(Path(path).read_text(encoding="utf-8")) if path else None
    return ident


AttackConfig = make_dataclass(
    "AttackConfig",
    [("probes", tuple[str, ...], setting(PROBES, "probes to run", cli=False))]
    + param_fields(list(PROBE_SPECS.values()))
    + _COMMON,
    namespace={"__post_init__": _post_init, "identity": _identity, "__module__": __name__},
    frozen=True,
)
AttackConfig.__doc__ = """The settings of the adversarial probes: `probes`, every registered probe's
own parameters (probes/catalog.py), and the shared ones; every one part of RUN_DIR/attacks'
identity but `probes` and `tolerance`."""


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
        plain_evaluations(ctx)
        manifest = _manifest(ctx, how)
        groups: dict[str, dict] = {}
        for probe in _with_earlier(top.path, cfg.probes):
            t = time.time()
            groups |= PROBE_SPECS[probe].run(ctx, relearn_langs)
            manifest["probes"][probe] = {"seconds": round(time.time() - t, 1)}
        for name, group in groups.items():
            manifest["matrices"] += write_group(top.path / "matrices", name, group, ctx)
        robust = robustness(ctx, groups)
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
