"""Per-epoch evaluation during unlearning (`--eval-every N`) and checkpoint selection
(`--select last|first-below-retain|best-fq-mu`), inside one unlearning run folder (pipeline/step.py).

    curves = CurveEvaluation(items, EvalConfig(), retain_records)
    unlearn_step(out, ..., cfg=UnlearnConfig(eval_every=1, select="first-below-retain"), curves=curves)

What it adds to the run folder (core/rundir.py names the folders):

    curves/epoch_<k>/    items.jsonl + summary.csv of the evaluation after epoch k (0 = before
                         unlearning); summary.csv written last. A resumed run reuses them.
    curves.csv           tidy: epoch, language, split, metric, value (analysis/epoch_curves.py)
    curves.png           one panel per metric, a line per language, the selected epoch marked
    selected/            while training: the best candidate so far (model/ saved by
                         core.models.save_model, selected.json its epoch); removed when done

Each per-epoch evaluation is records.score_items + summarize, as the final one, on a cheaper
set: the forget split of every language, the retain split (or its first `curve_retain_items`
items per language), and the general-knowledge splits only when it generates greedy answers
(Model Utility needs them; `curve_generate`, default only for best-fq-mu). Without generation
the curves hold Prob, Truth Ratio, Forget Quality, Exact Memorization and Extraction Strength.

Disk cost: the candidate is saved each time the selection moves to a new epoch, as one model
copy in selected/ (the full weights, or the adapter of a LoRA run; two copies for a moment
while the new one is renamed into place), so that an interrupted run resumes with the same
candidate. `last` keeps none. The run's result (model/, eval/) is the selected epoch's model,
and done.json says which epoch was selected and why.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from polyunlearn.analysis.epoch_curves import (
    NEEDS_RETAIN,
    SELECT_RULES,
    Selection,
    curve_table,
    final_selection,
    forget_means,
    select_epoch,
    write_curves,
)
from polyunlearn.core.atomic import read_json, write_json
from polyunlearn.core.models import load_weights, save_model
from polyunlearn.core.rundir import (
    CURVES_DIR,
    SELECTED_DIR,
    SUMMARY_FILE,
    RunFolderError,
    canonical,
    eval_done,
    fingerprint,
    load_eval,
    write_eval,
)
from polyunlearn.data.schema import GENERAL_SPLITS, QAItem, evaluated
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize, truth_ratio_missing


@dataclass(frozen=True)
class CurveEvaluation:
    """What the per-epoch evaluations of a run score: `items` (all languages of the run's data),
    with `ecfg` (its `generate` is set per run by UnlearnConfig.curve_generate), and the retain
    model's per-item records (Forget Quality at each epoch; the target of first-below-retain)."""

    items: Sequence[QAItem]
    ecfg: EvalConfig = field(default_factory=EvalConfig)
    retain_records: Sequence[dict] | None = None

    def identity(self) -> dict[str, Any]:
        return {
            "eval": canonical(self.ecfg),
            "retain_model_records": fingerprint(list(self.retain_records)) if self.retain_records else None,
        }


def rebuild_curves(
    identity: dict[str, Any], cfg: Any, items: Sequence[QAItem], retain_evals: Sequence[Path]
) -> CurveEvaluation | None:
    """The per-epoch evaluation a finished run was given, rebuilt from its run.json identity, so
    that the run can be repeated exactly (an attack re-creating an unsaved model): the
    evaluation settings as recorded, and the retain model's records found among `retain_evals`
    (evaluation folders) by their content hash. None when the run had no per-epoch evaluation;
    one line naming what is missing otherwise."""
    if not cfg.eval_every:
        return None
    spec = identity.get("curves")
    if not isinstance(spec, dict) or "eval" not in spec:
        raise RunFolderError("run.json: eval_every is set but the identity records no per-epoch evaluation (curves)")
    ecfg = EvalConfig(**spec["eval"])
    if canonical(ecfg) != spec["eval"]:
        raise RunFolderError(
            "run.json: its per-epoch EvalConfig does not rebuild identically with this polyunlearn version"
        )
    want = spec.get("retain_model_records")
    if not want:
        return CurveEvaluation(items, ecfg, None)
    for folder in retain_evals:
        if eval_done(folder):
            records = load_eval(folder)[0]
            if fingerprint(list(records)) == want:
                return CurveEvaluation(items, ecfg, records)
    tried = ", ".join(str(f) for f in retain_evals) or "nothing"
    raise RunFolderError(
        "the run's per-epoch evaluation used the retain model's evaluation, and none with the same content was found "
        f"(tried: {tried}); give --retain-eval DIR (the eval/ folder it was made with)"
    )


def check_curves(
    cfg: Any, curves: CurveEvaluation | None, forget_langs: Sequence[str], retain_option: str = "--retain-eval DIR"
) -> None:
    """Refuse, in one line and before any model loads, what per-epoch evaluation cannot do: a
    rule that needs the retain model's evaluation without one (or without forget items in a
    forget language), and multi-process launches (the evaluation runs in the main process while
    the others would wait in the gradient all-reduce; a sharded model cannot be evaluated by one
    process)."""
    if not cfg.eval_every:
        return
    if curves is None:
        raise ValueError(
            "eval_every is set but the run was given no per-epoch evaluation (pipeline.epoch_eval.CurveEvaluation)"
        )
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError(
            "--eval-every runs in one process only; launch without accelerate/torchrun, or use --eval-every 0"
        )
    if cfg.select in NEEDS_RETAIN:
        if not curves.retain_records:
            raise ValueError(
                f"--select {cfg.select} needs the retain model's evaluation: give {retain_option} "
                "(the eval/ folder of a `learn --retain-only` run)"
            )
        if cfg.select == "best-fq-mu":  # Forget Quality and Model Utility are made of truth ratios
            lacking = sorted(
                {
                    f"{it.split} {it.language}: {why}"
                    for it in curves.items
                    if it.language in forget_langs
                    and it.split in ("forget", "retain")
                    and (why := truth_ratio_missing(it))
                }
            )
            if lacking:
                raise ValueError(
                    "--select best-fq-mu needs truth ratios (Forget Quality, Model Utility); "
                    f"items lack them ({'; '.join(lacking[:3])})"
                )
        have = {r["language"] for r in curves.retain_records if r.get("split") == "forget"}
        missing = [lang for lang in forget_langs if lang not in have]
        if missing:
            raise ValueError(
                f"--select {cfg.select}: the retain model's evaluation has no forget items "
                f"in language(s) {', '.join(missing)}"
            )


def curve_items(items: Sequence[QAItem], retain_items: int, generate: bool) -> list[QAItem]:
    """What each per-epoch evaluation scores: every forget item, the retain items (the first
    `retain_items` per language in data order when > 0), the general-knowledge items when
    generating (for Model Utility)."""
    keep = ("forget", "retain", *GENERAL_SPLITS) if generate else ("forget", "retain")
    seen: dict[str, int] = {}
    out = []
    for it in evaluated(items):
        if it.split not in keep:
            continue
        if it.split == "retain" and retain_items:
            seen[it.language] = seen.get(it.language, 0) + 1
            if seen[it.language] > retain_items:
                continue
        out.append(it)
    return out


def retain_forget_prob(retain_records: Sequence[dict] | None, forget_langs: Sequence[str]) -> float | None:
    """The retain model's forget Prob, mean over the forget languages (first-below-retain's target)."""
    if not retain_records:
        return None
    s = summarize(retain_records).set_index("language")
    if "forget_prob" not in s or not set(forget_langs) <= set(s.index):
        return None  # check_curves refuses a rule that needs it
    return float(s.loc[list(forget_langs), "forget_prob"].mean())


class CurveTracker:
    """The per-epoch evaluations and the selection of one run folder. `begin(model)` evaluates
    the model before unlearning (epoch 0), `on_epoch_end` is train()'s hook, `finish(model)`
    writes curves.csv|png and returns the selected epoch's model with the record for done.json.
    Every step reuses what an interrupted run saved, so a resumed run gives the same curves and
    the same selection as an uninterrupted one."""

    def __init__(
        self, folder: Path, cfg: Any, curves: CurveEvaluation, tokenizer: Any, forget_langs: Sequence[str], title: str
    ):
        self.folder, self.cfg, self.tokenizer, self.title = Path(folder), cfg, tokenizer, title
        self.forget_langs = list(forget_langs)
        self.ecfg = EvalConfig(**(canonical(curves.ecfg) | {"generate": bool(cfg.curve_generate)}))
        self.items = curve_items(curves.items, cfg.curve_retain_items, bool(cfg.curve_generate))
        self.retain_records = list(curves.retain_records) if curves.retain_records else None
        self.target = retain_forget_prob(self.retain_records, self.forget_langs)
        self.summaries: dict[int, pd.DataFrame] = {}

    @property
    def selected_dir(self) -> Path:
        return self.folder / SELECTED_DIR

    def due(self, epoch: int) -> bool:
        return epoch % self.cfg.eval_every == 0 or epoch == self.cfg.train.epochs

    def begin(self, model: torch.nn.Module) -> None:
        """Read back every epoch an interrupted run evaluated (each one after its checkpoint, so
        none is past the epoch training resumes from), then evaluate epoch 0 if it is not there."""
        saved = sorted(int(p.name.split("_")[1]) for p in (self.folder / CURVES_DIR).glob("epoch_*") if eval_done(p))
        for epoch in saved:
            self.summaries[epoch] = pd.read_csv(self.folder / CURVES_DIR / f"epoch_{epoch}" / "summary.csv")
        self._evaluate(0, model)

    def on_epoch_end(self, epoch: int, model: torch.nn.Module) -> None:
        if not self.due(epoch):
            return
        self._evaluate(epoch, model)
        chosen = self.selection().epoch
        # Invariant after each evaluated epoch: selected/ holds the candidate chosen so far.
        if self.cfg.select != "last" and chosen == epoch and self._stored_epoch() != epoch:
            save_model(model, self.tokenizer, self.selected_dir / "model")
            write_json(self.selected_dir / "selected.json", {"epoch": epoch})

    def selection(self) -> Selection:
        return select_epoch(self.cfg.select, self._means(), self.target)

    def finish(self, model: torch.nn.Module) -> tuple[torch.nn.Module, dict[str, Any]]:
        last = self.cfg.train.epochs
        self._evaluate(last, model)  # already there unless the hook never ran (reused)
        sel = final_selection(self.cfg.select, self._means(), self.target, last)
        if sel.epoch != last:
            if self._stored_epoch() != sel.epoch:
                raise RunFolderError(
                    f"{self.selected_dir}: the weights of the selected epoch {sel.epoch} are missing; "
                    "rerun with --overwrite"
                )
            load_weights(model, self.selected_dir / "model")
        table = curve_table(self.summaries)
        write_curves(self.folder, table, self.forget_langs, self.title, self.target, sel.epoch)
        return model, {
            "select": sel.rule,
            "selected_epoch": sel.epoch,
            "selection_reason": sel.reason,
            "curves": self._record(sel),
        }

    def cleanup(self) -> None:
        """After done.json: the candidate copy is not needed any more (model/ holds the result)."""
        shutil.rmtree(self.selected_dir, ignore_errors=True)

    def _record(self, sel: Selection) -> dict[str, Any]:
        """What done.json keeps about the curves: the epochs, the target, and which epoch each
        rule that the curves allow would have picked (the report shows them)."""
        means = self._means()
        would = {}
        for rule in SELECT_RULES:
            try:
                other = final_selection(rule, means, self.target, self.cfg.train.epochs)
            except ValueError:  # the curves lack what the rule needs (no retain model, no Model Utility)
                continue
            would[rule] = {"epoch": other.epoch, "reason": other.reason}
        return {
            "evaluated_epochs": sorted(self.summaries),
            "forget_langs": self.forget_langs,
            "retain_model_forget_prob": self.target,
            "score": sel.score,
            "would_select": would,
            "items_per_evaluation": len(self.items),
            "generate": self.ecfg.generate,
        }

    def _means(self) -> pd.DataFrame:
        return forget_means(curve_table(self.summaries), self.forget_langs)

    def _stored_epoch(self) -> int | None:
        path = self.selected_dir / "selected.json"
        return int(read_json(path)["epoch"]) if path.is_file() and (self.selected_dir / "model").is_dir() else None

    def _evaluate(self, epoch: int, model: torch.nn.Module) -> None:
        """Epoch `epoch`'s evaluation, read back when saved (a resumed run), else scored and
        saved (summary.csv last)."""
        if epoch in self.summaries:
            return
        where = self.folder / CURVES_DIR / f"epoch_{epoch}"
        if eval_done(where):
            self.summaries[epoch] = pd.read_csv(where / "summary.csv")
            return
        was_training = model.training
        model.eval()
        records = score_items(model, self.tokenizer, self.items, self.ecfg)
        model.train(was_training)
        summary = summarize(records, self.retain_records)
        write_eval(where, records, summary)
        # Read back, so an uninterrupted run selects from exactly the numbers a resumed one reads.
        self.summaries[epoch] = pd.read_csv(where / SUMMARY_FILE)
