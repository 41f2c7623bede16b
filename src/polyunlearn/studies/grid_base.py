"""The shared base of a grid, prepared once before its runs fan out: the tiny model learned like
the demo (learned + retain models, their evaluations), or a learned model folder and its
evaluation before unlearning; then the RunContext every run reads (studies/grid_exec.py).

The base is prepared under a claim on OUT/base (core/claims.py): the first grid process on a
folder builds it, a second one waits and then reuses it (each step is a run folder, skipped when
done), and a process that died building it is taken over once its claim is stale. OUT/base/
ready.json, written last, says the base of this identity is complete: the Ray executor then
reads it in the driver instead of starting a task for it.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.console import Console

from polyunlearn.core.atomic import read_json, write_json
from polyunlearn.core.claims import wait_claim
from polyunlearn.core.models import LoraSettings, add_lora, load_model, load_tokenizer
from polyunlearn.core.rundir import (
    data_fingerprint,
    fingerprint,
    load_eval,
    model_fingerprint,
    read_eval_items,
)
from polyunlearn.pipeline.base import Base, prepare_base
from polyunlearn.pipeline.step import evaluation_step, standard_evaluation
from polyunlearn.studies.grid_exec import ExecConfig, RunContext

# A grid spec (studies.grid.GridSpec) is passed in as `spec`; it is not imported here, so the base
# stays below the grid module that uses it (no import cycle).
GridSpec = Any


def _prepare(spec: GridSpec, out: Path, console: Console) -> Base:
    """The base: learned like the demo for 'tiny' (pipeline/base.prepare_base), else loaded/evaluated."""
    base_dir = out / "base"
    if spec.tiny:
        return prepare_base(base_dir, spec.tiny_base, console, items=spec.items, ecfg=spec.eval)
    model = spec.base["model"]
    tok = load_tokenizer(model, spec.base["trust_remote_code"])
    retain = read_eval_items(spec.base["retain_eval"]) if spec.base["retain_eval"] else None
    if spec.base["baseline_eval"]:
        before_records, before = load_eval(spec.base["baseline_eval"])
    else:
        before_records, before = evaluation_step(
            base_dir / "eval" / "before",
            load=lambda: _load(spec, model),
            identity={"model": model_fingerprint(model), "data": data_fingerprint(spec.items)},
            tokenizer=tok,
            evaluation=standard_evaluation(spec.items, spec.eval, retain),
            what="eval (before)",
            console=console,
        )
    missing = sorted(set(spec.languages) - set(before["language"]))
    if missing:
        raise ValueError(
            f"base.baseline_eval: {spec.base['baseline_eval']} has no rows for language(s) {', '.join(missing)}"
        )
    return Base(
        spec.items,
        spec.languages,
        tok,
        Path(model),
        retain or [],
        before[before["language"].isin(spec.languages)],
        before_records,
    )


def lora_settings(base: dict) -> LoraSettings:
    """The base's LoRA settings (rank, alpha, dropout, targets), checked: a ValueError naming the
    field (load_spec reports it with the spec file)."""
    try:
        d = LoraSettings()
        return LoraSettings.from_options(
            base["lora_r"],
            base.get("lora_alpha", d.alpha),
            base.get("lora_dropout", d.dropout),
            base.get("lora_targets", d.target_modules),
        )
    except ValueError as e:
        raise ValueError(f"base: {e}") from None


def _load(spec: GridSpec, path: str):
    model = load_model(path, "bfloat16" if spec.base["bf16"] else "float32", spec.base["trust_remote_code"])
    return add_lora(model, lora_settings(spec.base)) if spec.base["lora"] else model


READY_FILE = "ready.json"  # in OUT/base: written last, once the base of this identity is complete


def base_fingerprint(spec: GridSpec) -> str:
    return fingerprint({"base": spec.identity(), "eval": asdict(spec.eval)})


def base_ready(spec: GridSpec, out: Path) -> bool:
    """Whether OUT/base was completed for this spec's base (then preparing it only reads files)."""
    try:
        return read_json(Path(out) / "base" / READY_FILE).get("base") == base_fingerprint(spec)
    except (OSError, ValueError, AttributeError):
        return False


def prepare_shared(spec: GridSpec, out: Path, cfg: ExecConfig, console: Console) -> RunContext:
    """The base (learned and retain models, the evaluation before unlearning) and grid.json,
    under the base's claim: the first grid process builds, a second waits and then reuses it."""

    def waiting(holder) -> None:
        console.print(f"base: being prepared by {holder.where()}; waiting for it", markup=False)

    with wait_claim(out / "base", timeout=cfg.claim_timeout, interval=cfg.heartbeat, what="base", on_wait=waiting):
        base = _prepare(spec, out, console)
        before_dir = (
            (out / "base" / "eval" / "before") if not spec.base["baseline_eval"] else Path(spec.base["baseline_eval"])
        )
        write_json(out / "grid.json", {"config": {
            "spec_path": spec.path, "spec": spec.raw, "base": spec.identity(), "before_eval": str(before_dir.resolve()),
            "params": list(dict.fromkeys(k for r in spec.runs for k in r.params)), "languages": spec.languages,
            "runs": [{"run_id": r.run_id, "method": r.method, "forget_langs": r.forget_label, "seed": r.seed, "params": r.params} for r in spec.runs],
        }})  # fmt: skip
        write_json(out / "base" / READY_FILE, {"base": base_fingerprint(spec)})
    # Absolute paths: a Ray worker's working folder is not the driver's.
    model = Path(spec.base["model"])
    retain_eval = (
        (out / "base" / "eval" / "retain_model")
        if spec.tiny
        else (Path(spec.base["retain_eval"]) if spec.base["retain_eval"] else None)
    )
    return RunContext(
        out=str(out.resolve()), items=base.items,
        tokenizer=str((out / "base" / "tokenizer").resolve()) if spec.tiny else str(model.resolve()) if model.is_dir() else spec.base["model"],
        learned=str(Path(base.learned_path).resolve()) if Path(base.learned_path).is_dir() else str(base.learned_path),
        retain_eval=str(retain_eval.resolve()) if retain_eval else None, ecfg=spec.eval,
        identity={"model": model_fingerprint(str(base.learned_path)), "data": data_fingerprint(base.items),
                  "base": spec.identity(), "lora_r": spec.base["lora_r"] if spec.base["lora"] else None},
        lora=lora_settings(spec.base) if spec.base["lora"] else None, bf16=spec.base["bf16"],
        trust_remote_code=spec.base["trust_remote_code"], save=spec.base["save_models"], alternates=spec.alternates,
    )  # fmt: skip
