"""What `polyunlearn attack RUN_DIR` attacks, read from the unlearning run folder: its identity
(run.json: the model before unlearning by its file hashes, the data by its content hash, the
whole UnlearnConfig), the data (found and checked against that hash), the model before unlearning,
the retain model, and the unlearned model: the run's model/ when it saved one, else re-created by
running the same unlearning again through the shared step into RUN_DIR/attacks/unlearned/ (CPU
training with a fixed seed repeats itself) and accepted only when its forget-set Prob matches the
run's own per-item records to 1e-4; otherwise refused, with the advice to rerun with the model
saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from polyunlearn.core.models import LoraSettings, add_lora, load_model, load_tokenizer
from polyunlearn.core.rundir import (
    DONE_FILE,
    RUN_FILE,
    RunFolderError,
    canonical,
    data_fingerprint,
    eval_done,
    load_eval,
    model_fingerprint,
    read_run_json,
    run_kind_phrase,
)
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.resolve import resolve_data
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.pipeline.epoch_eval import CurveEvaluation, rebuild_curves
from polyunlearn.pipeline.phases import UnlearnConfig, item_languages, unlearn_sets
from polyunlearn.pipeline.step import unlearn_step

RECREATE_TOLERANCE = 1e-4  # max |forget Prob| difference per item between the run and its re-creation
_RUN_KEYS = ("unlearn", "evaluation", "saves_model", "polyunlearn", "kind")


@dataclass
class Target:
    run_dir: Path
    identity: dict[str, Any]
    info: dict[str, Any]
    cfg: UnlearnConfig
    items: list[QAItem]
    languages: list[str]
    forget_langs: list[str]
    before: str  # path (or hub id) of the model before unlearning
    dtype: str
    lora_r: int | None
    retain: Path | None  # the retain model's folder (for R), None when unknown
    tokenizer: Any
    run_records: list[dict] | None  # the run's own per-item evaluation (None when it evaluated nothing)
    run_summary: pd.DataFrame | None
    curves: CurveEvaluation | None = None  # the run's per-epoch evaluation, for an exact re-creation

    @property
    def saved_model(self) -> Path | None:
        path = self.run_dir / "model"
        return path if path.is_dir() else None

    def load_before(self, with_lora: bool = False) -> Any:
        model = load_model(self.before, self.dtype)
        return add_lora(model, LoraSettings(r=self.lora_r)) if with_lora and self.lora_r else model


def _model_entry(identity: dict[str, Any]) -> tuple[dict[str, Any], int | None, str]:
    """(model fingerprint, LoRA rank, weights dtype) from any of the identities the product
    writes: the demo's {model: fp}, `unlearn`'s {model: {model: fp, lora_r, weights_dtype}}, the
    grid's {model: fp, lora_r}."""
    entry = identity.get("model")
    if isinstance(entry, dict) and isinstance(entry.get("model"), dict):
        return entry["model"], entry.get("lora_r"), entry.get("weights_dtype") or "float32"
    if isinstance(entry, dict):
        return entry, identity.get("lora_r"), "float32"
    raise RunFolderError("run.json: the identity names no model before unlearning")


def _data_candidates(
    run_dir: Path, info: dict[str, Any], data: str | None, langs: str | None, languages: list[str] | None
) -> list[tuple[str, str | None]]:
    if data is not None:
        return [(data, langs)]
    out = []
    for benchmark in (
        run_dir.parent.parent / "data" / "benchmark.jsonl",
        run_dir.parent.parent / "base" / "data" / "benchmark.jsonl",
    ):
        if benchmark.is_file():  # a demo's unlearn/<run>/ or a grid's runs/<id>/
            out.append((str(benchmark), None))
    if info.get("data"):
        out.append((str(info["data"]), ",".join(languages) if languages else None))
    return out


def _find_data(
    run_dir: Path, identity: dict, info: dict, data: str | None, langs: str | None, summary: pd.DataFrame | None
) -> list[QAItem]:
    languages = list(summary["language"]) if summary is not None else None
    tried = []
    for spec, lang_spec in _data_candidates(run_dir, info, data, langs, languages):
        try:
            items = resolve_data(spec, lang_spec)
        except (DataError, ValueError, OSError) as e:
            tried.append(f"{spec} ({e})")
            continue
        if data_fingerprint(items) == identity.get("data"):
            return items
        tried.append(f"{spec}{f' ({lang_spec})' if lang_spec else ''}: other content")
    raise DataError(
        f"{run_dir}: no data with the run's content hash found (tried: {'; '.join(tried) or 'nothing'}); give --data (and --langs) as the run was made"
    )


def _retain_model(run_dir: Path, retain: str | None) -> Path | None:
    if retain is not None:
        path = Path(retain)
        if not (path / "config.json").is_file():
            raise DataError(f"--retain-model {retain}: not a model folder (no config.json)")
        return path
    for cand in (
        run_dir.parent.parent / "models" / "retain" / "model",
        run_dir.parent.parent / "base" / "models" / "retain" / "model",
    ):
        if (cand / "config.json").is_file():
            return cand
    return None


def _retain_evals(run_dir: Path, info: dict[str, Any], retain_eval: str | None) -> list[Path]:
    """Where the retain model's evaluation of a run may be: --retain-eval, the folder the run
    recorded, the demo's and the grid's own."""
    if retain_eval is not None:
        return [Path(retain_eval)]
    found = [Path(info["retain_eval"])] if info.get("retain_eval") else []
    return found + [
        run_dir.parent.parent / "eval" / "retain_model",
        run_dir.parent.parent / "base" / "eval" / "retain_model",
    ]


def resolve_target(
    run_dir: str | Path,
    data: str | None = None,
    langs: str | None = None,
    retain: str | None = None,
    retain_eval: str | None = None,
) -> Target:
    """Everything an attack needs from an unlearning run folder, each checked (one line naming
    what is wrong otherwise) before any model loads."""
    run_dir = Path(run_dir)
    if not (run_dir / RUN_FILE).is_file():
        raise RunFolderError(f"{run_dir}: not a run folder (no {RUN_FILE})")
    run = read_run_json(run_dir / RUN_FILE)
    identity, info = run.get("identity", {}), run.get("info", {})
    if identity.get("kind") != "unlearn":
        raise RunFolderError(
            f"{run_dir} holds {run_kind_phrase(identity.get('kind') or 'unknown')}; attack needs an unlearning run folder (e.g. a demo's unlearn/<run>/)"
        )
    if not (run_dir / DONE_FILE).is_file():
        raise RunFolderError(f"{run_dir}: the unlearning run is not finished (no {DONE_FILE}); rerun it first")
    u = dict(identity["unlearn"])
    cfg = UnlearnConfig(**(u | {"train": TrainConfig(**u["train"])}))
    if canonical(cfg) != canonical(identity["unlearn"]):
        raise RunFolderError(f"{run_dir}: its UnlearnConfig does not rebuild identically with this polyunlearn version")
    fp, lora_r, dtype = _model_entry(identity)
    before = fp.get("path") or fp.get("hub_id")
    if not before:
        raise RunFolderError(
            f"{run_dir}: the model before unlearning was built in-process ({fp}); attack needs it saved as a folder"
        )
    if model_fingerprint(before) != fp:
        raise RunFolderError(
            f"{run_dir}: the model before unlearning ({before}) changed since the run (its files hash differently)"
        )
    records = summary = None
    if eval_done(run_dir / "eval"):
        records, summary = load_eval(run_dir / "eval")
    items = _find_data(run_dir, identity, info, data, langs, summary)
    _, _, forget_langs = unlearn_sets(items, cfg)
    curves = rebuild_curves(identity, cfg, items, _retain_evals(run_dir, info, retain_eval))
    return Target(
        run_dir,
        identity,
        info,
        cfg,
        items,
        item_languages(items),
        forget_langs,
        before,
        dtype,
        lora_r,
        _retain_model(run_dir, retain),
        load_tokenizer(before),
        records,
        summary,
        curves,
    )


def unlearned_model_path(target: Target, folder: Path, console: Any, overwrite: bool = False) -> tuple[Path, str]:
    """(folder of the unlearned model, how it was obtained: 'saved' or 're-created')."""
    if target.saved_model is not None:
        return target.saved_model, "saved"
    if target.run_records is None:
        raise RunFolderError(
            f"{target.run_dir}: the run saved no model and evaluated nothing, so a re-created model could not be checked; "
            "rerun the unlearning with the model saved (`polyunlearn unlearn` saves it; grid: base.save_models: true)"
        )

    base = {k: v for k, v in target.identity.items() if k not in _RUN_KEYS} | {
        "recreates": str(target.run_dir.resolve())
    }
    console.print(
        f"{target.run_dir.name}: the run saved no model; re-creating it (same unlearning, same seed) -> {folder}"
    )
    unlearn_step(
        folder,
        load=lambda: target.load_before(with_lora=True),
        identity=base,
        tokenizer=target.tokenizer,
        items=target.items,
        cfg=target.cfg,
        evaluation=None,
        console=console,
        save=True,
        overwrite=overwrite,
        progress=False,
        what=f"re-create {target.run_dir.name}",
        curves=target.curves,  # the run's per-epoch evaluation too: --select may pick an earlier epoch
    )
    return folder / "model", "re-created"


def check_recreation(target: Target, records: Sequence[dict]) -> float:
    """Max |forget Prob difference| per item between the run's records and `records` (the
    re-created model's plain evaluation); raises when above RECREATE_TOLERANCE."""
    mine = {(r["id"], r["language"]): r["prob"] for r in records if r["split"] == "forget"}
    theirs = {(r["id"], r["language"]): r["prob"] for r in target.run_records or [] if r["split"] == "forget"}
    common = mine.keys() & theirs.keys()
    if not common:
        raise RunFolderError(
            f"{target.run_dir}: no forget item in common with the run's evaluation; cannot check the re-created model"
        )
    worst = max(common, key=lambda k: abs(mine[k] - theirs[k]))
    diff = abs(mine[worst] - theirs[worst])
    if diff > RECREATE_TOLERANCE:
        raise RunFolderError(
            f"{target.run_dir}: the re-created unlearned model does not reproduce the run (forget Prob of {worst[0]} ({worst[1]}): "
            f"{theirs[worst]:.6f} in the run, {mine[worst]:.6f} now); rerun the unlearning with the model saved "
            "(`polyunlearn unlearn` saves it; grid: base.save_models: true)"
        )
    return diff
