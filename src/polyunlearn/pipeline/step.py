"""The steps every command and study is made of, each in its own run folder (core/rundir.py):
learn a model, evaluate a model, unlearn one model. `polyunlearn learn / unlearn / eval`, the
demo, study A, the concept study and the grid all call these, so the rerun, resume, lock,
divergence and checkpoint rules are the same everywhere.

    tok = ...; items = resolve_data("bundled", "en,fr")
    learned = learn_step(out / "learned", build=lambda: build_tiny_model(tok), train_fn=standard_learning(tok, items, TrainConfig()),
                         identity={"model": {"builder": "tiny"}, "data": data_fingerprint(items)}, tokenizer=tok, what="learn")
    result = unlearn_step(out / "npo-en", load=lambda: load_model(str(out / "learned" / "model")),
                          identity={"model": model_fingerprint(str(out / "learned" / "model")), "data": ...},
                          tokenizer=tok, items=items, cfg=UnlearnConfig(method="npo"), evaluation=standard_evaluation(items, EvalConfig()))

A step whose folder is done (same identity) is skipped and its results read back; an
interrupted one resumes from its last epoch checkpoint; one made with other settings is refused
(or redone with overwrite=True).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.core import tracking
from polyunlearn.core.atomic import write_json
from polyunlearn.core.models import load_model, save_model
from polyunlearn.core.rundir import RunFolder, canonical, fingerprint, load_eval
from polyunlearn.core.trainloop import TrainConfig, TrainingDiverged
from polyunlearn.data.schema import QAItem, trainable
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.pipeline.epoch_eval import CurveEvaluation, CurveTracker, check_curves
from polyunlearn.pipeline.phases import UnlearnConfig, evaluate_to, general_texts, learn, unlearn, unlearn_sets

TrainFn = Callable[
    [torch.nn.Module, Path], tuple[torch.nn.Module, list[dict]]
]  # (model, checkpoint dir) -> trained, history


@dataclass(frozen=True)
class Evaluation:
    """What a run evaluates after training, with the identity of everything that decides its
    numbers (metric settings, the retain model's records, the judge...). `run(model, tokenizer,
    folder)` writes the evaluation under `folder` (summary.csv last) and returns the summary."""

    identity: Mapping[str, Any]
    run: Callable[[torch.nn.Module, Any, Path], pd.DataFrame]


def standard_evaluation(
    items: Sequence[QAItem],
    ecfg: EvalConfig | None = None,
    retain_records: Sequence[dict] | None = None,
    lm_eval: Any = None,
) -> Evaluation:
    """Per-item records and per-language summary of `items` (evaluation/records.py); with the
    retain model's records, Forget Quality and PrivLeak too; with `lm_eval` (an
    evaluation.lm_eval_bridge.LmEvalSpec), lm-evaluation-harness on the same model first, its
    per-language scores joined into the summary (written last, as always)."""
    ecfg = ecfg or EvalConfig()

    def run(model: torch.nn.Module, tokenizer: Any, folder: Path) -> pd.DataFrame:
        extend = None
        if lm_eval is not None:
            from polyunlearn.evaluation.lm_eval_bridge import add_lm_eval_columns

            table = lm_eval.run(model, tokenizer, folder)
            extend = lambda summary: add_lm_eval_columns(summary, table)  # noqa: E731
        return evaluate_to(folder, model, tokenizer, items, ecfg, retain_records, extend=extend)[1]

    ident = {
        "eval": canonical(ecfg),
        "retain_model_records": fingerprint(list(retain_records)) if retain_records else None,
    }
    if lm_eval is not None:
        ident["lm_eval"] = lm_eval.identity()
    return Evaluation(ident, run)


def standard_learning(
    tokenizer: Any, items: Sequence[QAItem], cfg: TrainConfig, what: str = "learn", progress: bool = True
) -> TrainFn:
    """The usual learning: NLL of the answers of every trainable item (pipeline.phases.learn)."""

    def train_fn(model: torch.nn.Module, ckpt: Path) -> tuple[torch.nn.Module, list[dict]]:
        return learn(model, tokenizer, items, cfg, checkpoint_dir=ckpt, desc=what, progress=progress)

    return train_fn


def learn_identity(identity: Mapping[str, Any], evaluation: Evaluation | None) -> dict[str, Any]:
    return dict(identity) | ({"evaluation": evaluation.identity} if evaluation else {})


def eval_identity(identity: Mapping[str, Any], evaluation: Evaluation) -> dict[str, Any]:
    return dict(identity) | {"evaluation": evaluation.identity}


def unlearn_identity(
    identity: Mapping[str, Any],
    cfg: UnlearnConfig,
    evaluation: Evaluation | None,
    save: bool,
    curves: CurveEvaluation | None = None,
    texts_known: bool = True,
) -> dict[str, Any]:
    """Everything that decides an unlearning run's results: the caller's identity (model, data),
    the whole UnlearnConfig, the evaluation's identity, whether the model is saved, the content
    of the general text set when the method has one (`texts_known` False: a dry run's hub set
    not in the local cache, recorded as None), and (with per-epoch evaluation) what the
    per-epoch evaluations score."""
    texts = (
        general_texts(cfg) if texts_known else None
    )  # the general text set by content, as the data is (also: a missing file fails here, before any model loads)
    ident = dict(identity) | {
        "unlearn": canonical(cfg),
        "evaluation": evaluation.identity if evaluation else None,
        "saves_model": save,
        **({"kl_text": fingerprint(texts)} if texts else {}),
        **({} if texts_known else {"kl_text": None}),
    }
    return ident | ({"curves": curves.identity()} if cfg.eval_every and curves is not None else {})


def learn_step(
    folder: str | Path,
    *,
    build: Callable[[], torch.nn.Module],
    train_fn: TrainFn,
    identity: Mapping[str, Any],
    tokenizer: Any,
    what: str,
    console: Console | None = None,
    evaluation: Evaluation | None = None,
    info: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    merge_lora: bool = True,
) -> torch.nn.Module:
    """Train `build()` with `train_fn`, save it as folder/model (LoRA merged unless told
    otherwise), evaluate it into folder/eval when `evaluation` is given; or load it when the
    folder is already done with this identity."""
    console = console or Console()
    folder = Path(folder)
    with RunFolder(folder, learn_identity(identity, evaluation), kind="learn", info=info, overwrite=overwrite) as rf:
        if rf.done:
            console.print(f"[dim]{what}: done in {folder}, skipping[/dim]")
            return load_model(str(rf.model))
        t = time.time()
        with tracking.run(folder, rf.identity, what):  # --log-with: losses per step, the evaluation per language
            model, hist = _train_or_save_diverged(rf, build(), train_fn, tokenizer)
            save_model(model, tokenizer, rf.model, merge_lora=merge_lora)
            write_json(rf.history, hist)
            if evaluation is not None:
                tracking.log_summary(evaluation.run(model, tokenizer, rf.eval), step=len(hist))
        rf.finish({"steps": len(hist), "final_loss": hist[-1]["loss"] if hist else None, "seconds": time.time() - t})
        console.print(
            f"{what}: {len(hist)} steps, final loss {hist[-1]['loss']:.3f} ({time.time() - t:.0f}s) -> {rf.model}"
        )
        return model


def evaluation_step(
    folder: str | Path,
    *,
    load: Callable[[], torch.nn.Module],
    identity: Mapping[str, Any],
    tokenizer: Any,
    evaluation: Evaluation,
    what: str = "eval",
    console: Console | None = None,
    info: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> tuple[list[dict], pd.DataFrame]:
    """Evaluate the model `load()` returns into `folder` (items.jsonl, summary.csv at its top);
    or read the results back when the folder is done with this identity."""
    console = console or Console()
    folder = Path(folder)
    with RunFolder(folder, eval_identity(identity, evaluation), kind="eval", info=info, overwrite=overwrite) as rf:
        if not rf.done:
            evaluation.run(load(), tokenizer, folder)
            rf.finish()
        else:
            console.print(f"[dim]{what}: done in {folder}, skipping[/dim]")
        return load_eval(folder)


@dataclass(frozen=True)
class UnlearnResult:
    folder: Path
    summary: pd.DataFrame | None  # None when the run evaluated nothing
    steps: int
    model: torch.nn.Module | None  # the unlearned model when it was trained now (None when reused)


def unlearn_step(
    folder: str | Path,
    *,
    load: Callable[[], torch.nn.Module],
    identity: Mapping[str, Any],
    tokenizer: Any,
    items: Sequence[QAItem],
    cfg: UnlearnConfig,
    evaluation: Evaluation | None,
    console: Console | None = None,
    save: bool = False,
    merge_lora: bool = False,
    info: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    what: str | None = None,
    alternates: Mapping[tuple[str, str], str] | None = None,
    curves: CurveEvaluation | None = None,
) -> UnlearnResult:
    """One unlearning run: `load()` the model before unlearning, unlearn with `cfg` (resuming
    from the checkpoint), optionally save it (folder/model), evaluate (folder/eval), record the
    history, mark done. The identity is `identity` (model, data, ...) plus the whole UnlearnConfig
    and the evaluation's identity. `alternates` are the winners of methods that need them
    (altpo); their hash must be in `identity` (pipeline.phases.alternate_identity). With
    cfg.eval_every, `curves` says what is evaluated after every N epochs, and the model cfg.select
    picks is the one saved and evaluated (pipeline/epoch_eval.py)."""
    console = console or Console()
    folder = Path(folder)
    what = what or f"unlearn {cfg.method} ({cfg.forget_langs})"
    forget_langs = unlearn_sets(items, cfg)[2] if cfg.eval_every else []
    check_curves(cfg, curves, forget_langs)
    with RunFolder(
        folder,
        unlearn_identity(identity, cfg, evaluation, save, curves),
        kind="unlearn",
        info=info,
        overwrite=overwrite,
    ) as rf:
        if rf.done:
            console.print(f"[dim]{what}: done in {folder}, skipping[/dim]")
            summary = load_eval(rf.eval)[1] if evaluation else None
            return UnlearnResult(folder, summary, int(rf.done_summary().get("steps", 0)), None)
        t = time.time()
        tracker = CurveTracker(folder, cfg, curves, tokenizer, forget_langs, what) if cfg.eval_every else None

        def train_fn(model: torch.nn.Module, ckpt: Path) -> tuple[torch.nn.Module, list[dict]]:
            hook = tracker.on_epoch_end if tracker else None
            return unlearn(
                model,
                tokenizer,
                items,
                cfg,
                checkpoint_dir=ckpt,
                progress=progress,
                alternates=alternates,
                on_epoch_end=hook,
            )

        with tracking.run(folder, rf.identity, what):  # --log-with: losses per step, the evaluation per language
            model = load()
            if tracker:
                tracker.begin(model)  # epoch 0: the model before unlearning
            model, hist = _train_or_save_diverged(rf, model, train_fn, tokenizer)
            selection: dict[str, Any] = {}
            if tracker:
                model, selection = tracker.finish(model)  # the selected epoch's weights from here on
                console.print(
                    f"{what}: epoch {selection['selected_epoch']} selected ({cfg.select}: {selection['selection_reason']}); curves -> {folder / 'curves.png'}",
                    markup=False,
                )
            if save:
                save_model(model, tokenizer, rf.model, merge_lora=merge_lora)
            write_json(rf.history, hist)
            summary = evaluation.run(model, tokenizer, rf.eval) if evaluation else None
            tracking.log_summary(summary, step=len(hist))
        rf.finish({"steps": len(hist), "seconds": time.time() - t, **selection})
        if tracker:
            tracker.cleanup()
        console.print(f"{what}: {len(hist)} steps ({time.time() - t:.0f}s)")
        return UnlearnResult(folder, summary, len(hist), model)


def _train_or_save_diverged(
    rf: RunFolder, model: torch.nn.Module, train_fn: TrainFn, tokenizer: Any
) -> tuple[torch.nn.Module, list[dict]]:
    """train_fn(model, rf.ckpt); on a diverging loss, save the last good epoch as a loadable
    model (rf.diverged/model, + diverged.json) before stopping, and say where it is."""
    try:
        return train_fn(model, rf.ckpt)
    except TrainingDiverged as e:
        if e.model is None:
            raise
        save_model(e.model, tokenizer, rf.diverged / "model", merge_lora=True)
        write_json(rf.diverged / "diverged.json", {"message": str(e), "last_good_epoch": e.epoch})
        raise TrainingDiverged(
            f"{e} The last good epoch is saved as a loadable model: {rf.diverged / 'model'}", e.model, e.epoch
        ) from None


def train_items_identity(items: Sequence[QAItem]) -> str:
    """Content hash of what a learning run trains on (the holdout split never is)."""
    return fingerprint([it.to_dict() for it in trainable(items)])
