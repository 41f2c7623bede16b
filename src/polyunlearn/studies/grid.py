"""Experiment grids: methods x forget-language sets x seeds x hyperparameters, run as a resumable
queue, gathered into one tidy results table.

    polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml     # see that file

A spec is YAML (read with yaml.safe_load: a config can never run code) with two sections:
    base:                      # what every run starts from
      data: bundled            # 'bundled' or a local benchmark file (TOFU schema)
      languages: en,fr,ja      # evaluation languages (comma list, 'all', 'study-b', ...)
      model: tiny              # 'tiny' (learned here, like the demo) or a learned model folder
      retain_eval: null        # path model only: retain model's eval folder (Forget Quality)
      baseline_eval: null      # path model only: eval folder before unlearning (else evaluated here)
      learn: {epochs: 15}      # tiny only: TrainConfig overrides for learning the facts
      eval: {generate: true}   # EvalConfig overrides
      alternate: bundled       # altpo only: alternate answers, 'bundled' or a JSONL/CSV file (id, language, alternate)
    grid:
      methods: [npo, grad_diff_kl]
      forget_sets: [each, all] # 'each' = every single language: the forget x eval matrix
      seeds: [0]
      params: {lr: 3.0e-4, alpha: [1.0, 5.0]}   # a list is swept, a scalar is fixed
                               # (also eval_every, select, curve_*: per-epoch curves, pipeline/epoch_eval.py)
      method_params: {satimp: {lr: 3.0e-3}}   # per method, over params (same rules), for that method's runs only

Every field is checked before any training, and an error names the field. Each run's id is a
hash of its resolved config (base, method, languages, every hyperparameter, eval settings), so
editing the spec adds new runs and keeps finished ones. Layout of the output folder:
    grid.json                  the spec, the run list, the base; config + environment
    base/                      tiny: data, tokenizer, models/{learned,retain}, eval/{before,retain_model}; ready.json
    runs/<run_id>/             run.json, claim.json (while running), attempts.jsonl, ckpt/ (while training),
                               history.json, eval/, [model/], [failed.json], [tracking/], done.json
    results.parquet|csv        one row per run x language x metric (value, before, delta)
    matrices/                  forget-set x eval-language change matrices (CSV + PNG), per group

A run is finished when its done.json exists (written last); an interrupted run resumes from its
last epoch checkpoint. Runs execute here one after another (`--executor local`) or as Ray tasks
(`--executor ray`, studies/grid_ray.py), each under a claim on its folder (claim.json,
core/claims.py), so several grid processes, on one host or several of a shared filesystem,
share one folder and no run runs twice; `--status` shows who runs what (studies/grid_status.py).
"""

from __future__ import annotations

import contextlib
import itertools
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console

from polyunlearn.analysis.epoch_curves import NEEDS_RETAIN
from polyunlearn.analysis.results import gather, write_result_matrices
from polyunlearn.core import tracking
from polyunlearn.core.atomic import write_table
from polyunlearn.core.claims import live_claims
from polyunlearn.core.config import fields_of
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import LoraSettings, is_tiny_model
from polyunlearn.core.rundir import (
    DONE_FILE,
    EVAL_FILES,
    RunFolder,
    RunFolderError,
    data_fingerprint,
    eval_done,
    fingerprint,
    model_fingerprint,
    read_eval_items,
)
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.alternates import load_alternates
from polyunlearn.data.resolve import resolve_data
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.methods.registry import get_method, method_params
from polyunlearn.pipeline.base import TINY_ALPHA, TINY_ARCHS, BaseConfig, tiny_unlearning
from polyunlearn.pipeline.phases import UnlearnConfig, alternate_identity, default_lr, item_languages
from polyunlearn.studies.grid_base import lora_settings as _lora_settings
from polyunlearn.studies.grid_base import prepare_shared
from polyunlearn.studies.grid_exec import ExecConfig, LocalExecutor, failures
from polyunlearn.studies.grid_ray import RayExecutor
from polyunlearn.studies.grid_status import LiveGrid, run_state


class GridSpecError(ValueError):
    """A bad grid spec; the message names the file and the field."""


TOP_KEYS = {"name", "description", "base", "grid"}
BASE_KEYS = {
    "data",
    "languages",
    "model",
    "retain_eval",
    "baseline_eval",
    "arch",
    "vocab_size",
    "seed",
    "learn",
    "eval",
    "lora",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "lora_targets",
    "bf16",
    "trust_remote_code",
    "save_models",
    "alternate",
}
GRID_KEYS = {"methods", "forget_sets", "seeds", "params", "method_params"}


def _kind(annotation: Any) -> tuple[type, bool]:
    """(type, nullable) of a config field's annotation, e.g. `float | None` -> (float, True)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return (args[0], True) if args else (annotation, False)


# Sweepable hyperparameters -> (type, nullable), derived from the configs and the method registry,
# so a new setting is sweepable without an edit here. TrainConfig's go to the unlearning
# TrainConfig (seed is the grid.seeds axis); a method's own go to the runs of that method only.
TRAIN_PARAMS = {f.name: _kind(f.kind) for f in fields_of(TrainConfig) if f.name != "seed"}
UNLEARN_PARAMS = {
    f.name: _kind(f.kind) for f in fields_of(UnlearnConfig) if f.cli and f.name not in ("method", "forget_langs")
}
METHOD_PARAMS = {name: (p.kind, p.nullable) for name, p in method_params().items()}
PARAMS = TRAIN_PARAMS | UNLEARN_PARAMS | METHOD_PARAMS


def _coerce(where: str, value: Any, kind: type, nullable: bool = False) -> Any:
    if value is None and nullable:
        return value
    if kind is float and not isinstance(value, bool):
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads 3e-4 (no dot) as a string, not a float
            except ValueError:
                pass
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind in (str, bool) and isinstance(value, kind):
        return value
    raise GridSpecError(f"{where}: expected {kind.__name__}{' or null' if nullable else ''}, got {value!r}")


def _mapping(where: str, value: Any, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GridSpecError(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise GridSpecError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}"
        )
    return dict(value)


def _as_list(where: str, value: Any) -> list:
    out = value if isinstance(value, list) else [value]
    if not out or any(v is None for v in out):
        raise GridSpecError(f"{where}: needs at least one value")
    return out


def _overrides(where: str, value: Any, cls: type) -> dict:
    """TrainConfig / EvalConfig overrides, typed like the dataclass's defaults."""
    # Typed by the field's annotation: `int | None` (EvalConfig.max_new_tokens, None = auto) takes an int or null.
    kinds = {f.name: _kind(f.kind) for f in fields_of(cls)}
    raw = _mapping(where, value, set(kinds))
    return {k: _coerce(f"{where}.{k}", v, *kinds[k]) for k, v in raw.items()}


@dataclass(frozen=True)
class GridRun:
    run_id: str
    method: str
    forget_label: str  # "en", "en,fr" or "all": the forget_langs column and matrix row
    seed: int
    params: dict  # this run's value of each hyperparameter named in the spec
    unlearn: UnlearnConfig
    config: dict  # the resolved config that run_id hashes (saved as runs/<id>/config.json)


@dataclass
class GridSpec:
    path: str
    raw: dict  # the spec as loaded, for grid.json
    items: list[QAItem]
    languages: list[str]
    base: dict  # validated base section (model, data, lora, ...)
    tiny_base: BaseConfig | None  # model 'tiny': the settings prepare_base learns it with
    eval: EvalConfig
    runs: list[GridRun] = field(default_factory=list)
    alternates: dict | None = None  # base.alternate loaded: {(id, language): answer}, for altpo runs

    @property
    def tiny(self) -> bool:
        return self.tiny_base is not None

    def identity(self) -> dict:
        """What makes two bases the same: part of every run id, and checked against the grid
        folder. Data by content (an edited data file is other data wherever it lives), a path
        model by a hash of its files, eval folders by their records."""
        ident = {k: self.base.get(k) for k in ("lora", "lora_r", "bf16")}
        ident["lora_settings"] = _lora_settings(self.base).identity() if self.base.get("lora") else None
        ident["data"] = data_fingerprint(self.items)
        ident["model"] = self.base["model"] if self.tiny else model_fingerprint(self.base["model"])
        for key in ("retain_eval", "baseline_eval"):
            ident[key] = fingerprint(read_eval_items(self.base[key])) if self.base.get(key) else None
        ident["languages"] = self.languages
        if self.tiny_base:
            ident |= {
                "arch": self.tiny_base.arch,
                "vocab_size": self.tiny_base.vocab_size,
                "seed": self.tiny_base.seed,
                "learn": asdict(self.tiny_base.learn),
            }
        return ident


def load_spec(path: str | Path) -> GridSpec:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"grid spec not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise GridSpecError(f"grid spec {path}: not valid (safe) YAML: {e}") from None
    try:
        return parse_spec(raw, str(path))
    except GridSpecError as e:
        raise GridSpecError(f"grid spec {path}: {e}") from None
    except ValueError as e:  # unknown language / method / data problem raised by the spine
        raise GridSpecError(f"grid spec {path}: {e}") from None


def parse_spec(raw: Any, path: str = "<spec>") -> GridSpec:
    """Validate a loaded spec and expand it into runs (no model work, only data loading)."""
    top = _mapping("spec", raw, TOP_KEYS)
    base = _mapping("base", top.get("base"), BASE_KEYS)
    grid = _mapping("grid", top.get("grid"), GRID_KEYS)
    if not grid:
        raise GridSpecError("grid: missing (needs methods and forget_sets)")
    b: dict[str, Any] = {
        "data": _coerce("base.data", base.get("data", "bundled"), str),
        "model": _coerce("base.model", base.get("model", "tiny"), str),
    }
    for key, default in (("lora", False), ("bf16", False), ("trust_remote_code", False), ("save_models", False)):
        b[key] = _coerce(f"base.{key}", base.get(key, default), bool)
    d = LoraSettings()  # the one LoRA default (core/models)
    b["lora_r"] = _coerce("base.lora_r", base.get("lora_r", d.r), int)
    b["lora_alpha"] = _coerce("base.lora_alpha", base.get("lora_alpha", float(d.alpha)), float)
    b["lora_dropout"] = _coerce("base.lora_dropout", base.get("lora_dropout", d.dropout), float)
    b["lora_targets"] = _coerce("base.lora_targets", base.get("lora_targets", d.target_modules), str)
    if b["lora"]:
        _lora_settings(b)  # a bad alpha / dropout / target list fails with the spec, before any training
    tiny = b["model"] == "tiny"
    if b["data"] != "bundled" and not Path(b["data"]).is_file():
        raise GridSpecError(f"base.data: file not found: {b['data']} (or use 'bundled')")
    langs_raw = base.get("languages", "study-b" if b["data"] == "bundled" else "all")
    langs_raw = (
        ",".join(map(str, langs_raw)) if isinstance(langs_raw, list) else _coerce("base.languages", langs_raw, str)
    )
    try:
        items = resolve_data(b["data"], None if langs_raw == "all" else langs_raw)
        languages = item_languages(items)
        if not languages:
            raise ValueError("no items")
    except ValueError as e:
        raise GridSpecError(f"base.languages: {e}") from None
    for key in ("retain_eval", "baseline_eval"):
        b[key] = base.get(key)
        if b[key] is None:
            continue
        if tiny:
            raise GridSpecError(
                f"base.{key}: only for a model path; with model 'tiny' the grid trains and evaluates the base itself"
            )
        if not eval_done(_coerce(f"base.{key}", b[key], str)):
            raise GridSpecError(f"base.{key}: {b[key]} is not an eval folder (needs {' and '.join(EVAL_FILES)})")
    tiny_base = None
    if tiny:
        d = BaseConfig()
        try:
            learn = TrainConfig(**(asdict(d.learn) | _overrides("base.learn", base.get("learn"), TrainConfig)))
        except (TypeError, ValueError) as e:
            raise GridSpecError(f"base.learn: {e}") from None
        arch = _coerce("base.arch", base.get("arch", d.arch), str)
        if arch not in TINY_ARCHS:
            raise GridSpecError(f"base.arch: expected 'llama' or 'cohere', got {arch!r}")
        try:
            tiny_base = BaseConfig(
                languages=",".join(languages),
                arch=arch,
                vocab_size=_coerce("base.vocab_size", base.get("vocab_size", d.vocab_size), int),
                seed=_coerce("base.seed", base.get("seed", d.seed), int),
                learn=learn,
            )
        except ValueError as e:
            raise GridSpecError(f"base: {e}") from None
    else:
        for key in ("arch", "vocab_size", "seed", "learn"):
            if key in base:
                raise GridSpecError(f"base.{key}: only for model 'tiny' (a path model is already learned)")
    try:
        ecfg = EvalConfig(**_overrides("base.eval", base.get("eval"), EvalConfig))
    except (TypeError, ValueError) as e:
        raise GridSpecError(f"base.eval: {e}") from None
    spec = GridSpec(
        path, raw, items, languages, b, tiny_base, ecfg, alternates=_alternates(base.get("alternate"), items)
    )
    spec.runs = _expand(spec, grid)
    return spec


def _alternates(source: Any, items: list[QAItem]) -> dict | None:
    """base.alternate loaded (None when unset); an error names the key."""
    if source is None:
        return None
    try:
        return load_alternates(_coerce("base.alternate", source, str), items)
    except ValueError as e:
        raise GridSpecError(f"base.alternate: {e}") from None


def _params(where: str, raw: Any, methods: list[str], spec: GridSpec) -> dict[str, list]:
    """A params mapping (grid.params, or one method's grid.method_params) checked and typed:
    name -> the list of values to sweep (a scalar is a one-value list)."""
    raw_params = raw or {}
    if not isinstance(raw_params, dict):
        raise GridSpecError(f"{where}: expected a mapping of hyperparameter -> value or list of values")
    for name in raw_params:
        if name in ("seed", "method", "methods", "forget_langs"):
            raise GridSpecError(
                f"{where}.{name}: a grid axis, not a hyperparameter (use grid.seeds / grid.methods / grid.forget_sets)"
            )
        if name not in PARAMS:
            raise GridSpecError(f"{where}: unknown hyperparameter {name!r}; known: {', '.join(PARAMS)}")
        if (
            name in METHOD_PARAMS
            and name not in UNLEARN_PARAMS
            and not any(name in get_method(m).params for m in methods)
        ):
            raise GridSpecError(
                f"{where}.{name}: none of the grid's methods ({', '.join(methods)}) has this hyperparameter"
            )
    params = {
        n: [_coerce(f"{where}.{n}", v, *PARAMS[n]) for v in (vals if isinstance(vals, list) else [vals])]
        for n, vals in raw_params.items()
    }
    for n, vals in params.items():
        if not vals:
            raise GridSpecError(f"{where}.{n}: empty list")
        if n == "retain_langs":
            for v in vals:
                if v != "same":
                    try:
                        parse_langs(v, spec.languages)
                    except ValueError as e:
                        raise GridSpecError(f"{where}.retain_langs: {e}") from None
    return params


def _expand(spec: GridSpec, grid: dict) -> list[GridRun]:
    methods = [_coerce("grid.methods", m, str) for m in _as_list("grid.methods", grid.get("methods"))]
    for m in methods:
        try:
            get_method(m)
        except ValueError as e:
            raise GridSpecError(f"grid.methods: {e}") from None
    forget_sets: list[tuple[str, list[str]]] = []
    for k, fs in enumerate(_as_list("grid.forget_sets", grid.get("forget_sets"))):
        where = f"grid.forget_sets[{k}]"
        fs = ",".join(map(str, fs)) if isinstance(fs, list) else _coerce(where, fs, str)
        try:
            if fs.strip().lower() == "each":
                forget_sets += [(lang, [lang]) for lang in spec.languages]
                continue
            langs = parse_langs(fs, spec.languages)
        except ValueError as e:
            raise GridSpecError(f"{where}: {e}") from None
        forget_sets.append(("all" if fs.strip().lower() == "all" else ",".join(langs), langs))
    forget_sets = list(dict(forget_sets).items())  # drop repeats, keep the first position
    seeds = [_coerce("grid.seeds", s, int) for s in _as_list("grid.seeds", grid.get("seeds", [0]))]
    params = _params("grid.params", grid.get("params"), methods, spec)
    overrides = _mapping("grid.method_params", grid.get("method_params"), set(methods))
    per_method = {m: params | _params(f"grid.method_params.{m}", overrides.get(m), [m], spec) for m in methods}
    runs = []
    axes = itertools.product(methods, forget_sets, seeds)
    for method, (label, langs), seed, p in (
        (*a, dict(zip(per_method[a[0]], c))) for a in axes for c in itertools.product(*per_method[a[0]].values())
    ):
        ucfg = _unlearn_config(
            spec,
            method,
            langs,
            seed,
            p,
            "grid.params" + (f" (with grid.method_params.{method})" if method in overrides else ""),
        )
        if ucfg.select in NEEDS_RETAIN and not spec.tiny and not spec.base.get("retain_eval"):
            raise GridSpecError(
                f"grid.params.select: {ucfg.select} needs the retain model's evaluation: set base.retain_eval"
            )
        try:  # an altpo run's alternates cover its forget set, and their hash is part of its id
            alt = alternate_identity(spec.items, ucfg, spec.alternates)
        except ValueError as e:
            raise GridSpecError(f"base.alternate: {e}") from None
        config = {"base": spec.identity(), "unlearn": ucfg.to_dict(), "eval": asdict(spec.eval)} | alt
        run_id = fingerprint(config)[:12]  # canonical JSON: a value that is not JSON is an error, not a str()
        runs.append(
            GridRun(
                run_id, method, label, seed, p, ucfg, config | {"run_id": run_id, "forget_label": label, "params": p}
            )
        )
    return runs


def _unlearn_config(
    spec: GridSpec, method: str, langs: list[str], seed: int, p: dict, where: str = "grid.params"
) -> UnlearnConfig:
    """Defaults: the tiny base's for the tiny model (tuned for it, pipeline/base.py), the pipeline's (spec.md) otherwise."""
    if spec.tiny:
        train_defaults, alpha = asdict(tiny_unlearning()), TINY_ALPHA
    else:
        train_defaults, alpha = asdict(UnlearnConfig().train), UnlearnConfig().alpha
        train_defaults["lr"] = default_lr("unlearn", is_tiny_model(spec.base["model"]), spec.base["lora"])
        train_defaults["mixed_precision"] = "bf16" if spec.base["bf16"] else "no"
    m = get_method(method)
    try:
        train = TrainConfig(**(train_defaults | {k: v for k, v in p.items() if k in TRAIN_PARAMS} | {"seed": seed}))
        u = {k: v for k, v in p.items() if k in UNLEARN_PARAMS}
        # alpha (the retain-term weight) and a method's own hyperparameters go to the methods that have them.
        u["alpha"] = u.get("alpha", alpha) if m.has_retain_term else None
        own = {k: v for k, v in p.items() if k in m.params}
        return UnlearnConfig(method=method, forget_langs=",".join(langs), train=train, params=own, **u)
    except ValueError as e:
        raise GridSpecError(f"{where}: {e}") from None


# ----------------------------------------------------------------------------- running


def run_status(out: Path, run: GridRun, cfg: ExecConfig | None = None) -> str:
    """done / running / stale / failed / partial / pending (studies/grid_status.run_state)."""
    cfg = cfg or ExecConfig()
    return run_state(Path(out) / "runs" / run.run_id, cfg.claim_timeout, cfg.heartbeat)["status"]


class GridRunsFailed(RuntimeError):
    """Some runs raised; each one's error is in its failed.json (the others finished)."""


def run_grid(
    spec: GridSpec,
    out: str | Path,
    console: Console | None = None,
    progress: bool = True,
    overwrite: bool = False,
    execution: ExecConfig | None = None,
    log_with: str | None = None,
    threads: int = 1,
) -> pd.DataFrame:
    """Run every unfinished run of the spec, then write the results table and matrices; returns
    the tidy results. The base is prepared once, under its claim (a second grid process waits
    for it); each run executes under its own claim (studies/grid_exec.py), here or as a Ray
    task, so several grid processes can share one folder. Ctrl-C / a crash loses at most the
    current epoch of the runs under way. Runs that raise are recorded (failed.json) and reported
    at the end (GridRunsFailed), after the table of the others is written."""
    console = console or Console()
    out = Path(out)
    cfg = execution or ExecConfig()
    tracking.check_log_with(log_with)
    if overwrite:
        busy = (
            [
                f"{folder.relative_to(out)} ({h.where()})"
                for folder, h in live_claims(out, cfg.claim_timeout, cfg.heartbeat)
            ]
            if out.is_dir()
            else []
        )
        if busy:
            raise RunFolderError(
                f"{out}: --overwrite would delete runs other processes are working on: {', '.join(busy)}; stop them first"
            )
    executor = RayExecutor(cfg, console, threads) if cfg.executor == "ray" else LocalExecutor(cfg, console)
    identity = {"base": spec.identity(), "eval": asdict(spec.eval)}
    # The executor first: a Ray cluster that lacks what a run asks for is refused before OUT is touched.
    with (
        executor,
        RunFolder(out, identity, kind="grid", info={"spec_path": spec.path}, overwrite=overwrite, lock=False),
    ):
        ctx = executor.prepare(prepare_shared, spec, out)
        todo = [r for r in spec.runs if not (out / "runs" / r.run_id / DONE_FILE).is_file()]
        where = "here" if cfg.executor == "local" else f"on Ray ({cfg.address})"
        console.print(
            f"grid: {len(spec.runs)} runs, {len(spec.runs) - len(todo)} finished, {len(todo)} to run {where} -> {out.resolve()}"
        )
        with (
            LiveGrid(console, out, todo, cfg.claim_timeout, cfg.heartbeat)
            if progress and todo
            else contextlib.nullcontext()
        ):
            outcomes = executor.run(ctx, todo, log_with)
        results = gather(out)
        write_table(out / "results.parquet", results)
        write_table(out / "results.csv", results)
        write_result_matrices(results, out / "matrices", order=spec.languages, folder=out)
    console.print(f"results: {len(results)} rows -> {(out / 'results.parquet').resolve()} (and results.csv)")
    errors = failures(out, outcomes)
    if errors:
        raise GridRunsFailed(
            f"{len(errors)} of {len(spec.runs)} runs failed (rerun the grid to retry them; `--status` lists them): "
            + "; ".join(f"{k}: {v}" for k, v in errors.items())
        )
    return results
