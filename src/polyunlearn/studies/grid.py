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
                               # (also eval_every, select, curve_*: per-epoch curves, studies/curves.py)
      method_params: {satimp: {lr: 3.0e-3}}   # per method, over params (same rules), for that method's runs only

Every field is checked before any training, and an error names the field. Each run's id is a
hash of its resolved config (base, method, languages, every hyperparameter, eval settings), so
editing the spec adds new runs and keeps finished ones. Layout of the output folder:

    grid.json                  the spec, the run list, the base; config + environment
    base/                      tiny: data, tokenizer, models/{learned,retain}, eval/{before,retain_model}
    runs/<run_id>/             config.json, ckpt/ (while training), history.json, eval/, [model/]
    results.parquet|csv        one row per run x language x metric (value, before, delta)
    matrices/                  forget-set x eval-language change matrices (CSV + PNG), per group

A run is finished when its eval/summary.csv exists (written last, atomically); an interrupted
run resumes from its last epoch checkpoint (pipeline.unlearn -> train.py).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from rich.console import Console

from polyunlearn.data.alternates import load_alternates
from polyunlearn.data.schema import QAItem
from polyunlearn.studies.demo import Base, DemoConfig, prepare_base
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.core.atomic import read_jsonl, write_json, write_table
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.config import fields_of
from polyunlearn.methods.registry import get_method, method_params
from polyunlearn.core.models import LoraSettings, add_lora, load_model, load_tokenizer
from polyunlearn.core.rundir import CKPT_DIR, DONE_FILE, RunFolder, data_fingerprint, eval_done, fingerprint, load_eval, model_fingerprint
from polyunlearn.studies.phases import UnlearnConfig, alternate_identity, default_lr, item_languages
from polyunlearn.studies.curves import CurveEvaluation
from polyunlearn.studies.step import evaluation_step, standard_evaluation, unlearn_step
from polyunlearn.analysis.curves import NEEDS_RETAIN
from polyunlearn.analysis.results import gather, write_result_matrices
from polyunlearn.core.trainloop import TrainConfig


class GridSpecError(ValueError):
    """A bad grid spec; the message names the file and the field."""


TOP_KEYS = {"name", "description", "base", "grid"}
BASE_KEYS = {"data", "languages", "model", "retain_eval", "baseline_eval", "arch", "vocab_size", "seed", "learn", "eval", "lora", "lora_r", "bf16", "trust_remote_code", "save_models", "alternate"}
GRID_KEYS = {"methods", "forget_sets", "seeds", "params", "method_params"}


def _kind(annotation: Any) -> tuple[type, bool]:
    """(type, nullable) of a config field's annotation, e.g. `float | None` -> (float, True)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return (args[0], True) if args else (annotation, False)


# Sweepable hyperparameters -> (type, nullable), derived from the configs and the method registry,
# so a new setting is sweepable without an edit here. TrainConfig's go to the unlearning
# TrainConfig (seed is the grid.seeds axis); a method's own go to the runs of that method only.
TRAIN_PARAMS = {f.name: _kind(f.kind) for f in fields_of(TrainConfig) if f.name != "seed"}
UNLEARN_PARAMS = {f.name: _kind(f.kind) for f in fields_of(UnlearnConfig) if f.cli and f.name not in ("method", "forget_langs")}
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
        raise GridSpecError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
    return dict(value)


def _as_list(where: str, value: Any) -> list:
    out = value if isinstance(value, list) else [value]
    if not out or any(v is None for v in out):
        raise GridSpecError(f"{where}: needs at least one value")
    return out


def _overrides(where: str, value: Any, cls: type) -> dict:
    """TrainConfig / EvalConfig overrides, typed like the dataclass's defaults."""
    known = {f.name: f for f in fields(cls)}
    raw = _mapping(where, value, set(known))
    defaults = cls()
    # A None default (EvalConfig.prefix_sharing) is an optional flag: bool or null.
    return {k: _coerce(f"{where}.{k}", v, type(getattr(defaults, k)) if getattr(defaults, k) is not None else bool, getattr(defaults, k) is None) for k, v in raw.items()}


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
    demo: DemoConfig | None  # tiny base: the demo settings prepare_base learns it with
    eval: EvalConfig
    runs: list[GridRun] = field(default_factory=list)
    alternates: dict | None = None  # base.alternate loaded: {(id, language): answer}, for altpo runs

    @property
    def tiny(self) -> bool:
        return self.demo is not None

    def identity(self) -> dict:
        """What makes two bases the same: part of every run id, and checked against the grid
        folder. Data by content (an edited data file is other data wherever it lives), a path
        model by a hash of its files, eval folders by their records."""
        ident = {k: self.base.get(k) for k in ("lora", "lora_r", "bf16")}
        ident["data"] = data_fingerprint(self.items)
        ident["model"] = self.base["model"] if self.tiny else model_fingerprint(self.base["model"])
        for key in ("retain_eval", "baseline_eval"):
            ident[key] = fingerprint(read_jsonl(Path(self.base[key]) / "items.jsonl")) if self.base.get(key) else None
        ident["languages"] = self.languages
        if self.demo:
            ident |= {"arch": self.demo.arch, "vocab_size": self.demo.vocab_size, "seed": self.demo.seed, "learn": asdict(self.demo.learn)}
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
    from polyunlearn.data.resolve import resolve_data

    top = _mapping("spec", raw, TOP_KEYS)
    base = _mapping("base", top.get("base"), BASE_KEYS)
    grid = _mapping("grid", top.get("grid"), GRID_KEYS)
    if not grid:
        raise GridSpecError("grid: missing (needs methods and forget_sets)")
    b: dict[str, Any] = {"data": _coerce("base.data", base.get("data", "bundled"), str), "model": _coerce("base.model", base.get("model", "tiny"), str)}
    for key, default in (("lora", False), ("bf16", False), ("trust_remote_code", False), ("save_models", False)):
        b[key] = _coerce(f"base.{key}", base.get(key, default), bool)
    b["lora_r"] = _coerce("base.lora_r", base.get("lora_r", 8), int)
    tiny = b["model"] == "tiny"
    if b["data"] != "bundled" and not Path(b["data"]).is_file():
        raise GridSpecError(f"base.data: file not found: {b['data']} (or use 'bundled')")
    langs_raw = base.get("languages", "study-b" if b["data"] == "bundled" else "all")
    langs_raw = ",".join(map(str, langs_raw)) if isinstance(langs_raw, list) else _coerce("base.languages", langs_raw, str)
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
            raise GridSpecError(f"base.{key}: only for a model path; with model 'tiny' the grid trains and evaluates the base itself")
        if not eval_done(_coerce(f"base.{key}", b[key], str)):
            raise GridSpecError(f"base.{key}: {b[key]} is not an eval folder (needs items.jsonl and summary.csv)")
    demo = None
    if tiny:
        d = DemoConfig()
        try:
            learn = TrainConfig(**(asdict(d.learn) | _overrides("base.learn", base.get("learn"), TrainConfig)))
        except (TypeError, ValueError) as e:
            raise GridSpecError(f"base.learn: {e}") from None
        arch = _coerce("base.arch", base.get("arch", d.arch), str)
        if arch not in ("llama", "cohere"):
            raise GridSpecError(f"base.arch: expected 'llama' or 'cohere', got {arch!r}")
        try:
            demo = DemoConfig(languages=",".join(languages), arch=arch, vocab_size=_coerce("base.vocab_size", base.get("vocab_size", d.vocab_size), int),
                              seed=_coerce("base.seed", base.get("seed", d.seed), int), learn=learn)
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
    spec = GridSpec(path, raw, items, languages, b, demo, ecfg, alternates=_alternates(base.get("alternate"), items))
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
            raise GridSpecError(f"{where}.{name}: a grid axis, not a hyperparameter (use grid.seeds / grid.methods / grid.forget_sets)")
        if name not in PARAMS:
            raise GridSpecError(f"{where}: unknown hyperparameter {name!r}; known: {', '.join(PARAMS)}")
        if name in METHOD_PARAMS and name not in UNLEARN_PARAMS and not any(name in get_method(m).params for m in methods):
            raise GridSpecError(f"{where}.{name}: none of the grid's methods ({', '.join(methods)}) has this hyperparameter")
    params = {n: [_coerce(f"{where}.{n}", v, *PARAMS[n]) for v in (vals if isinstance(vals, list) else [vals])] for n, vals in raw_params.items()}
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
    for method, (label, langs), seed, p in ((*a, dict(zip(per_method[a[0]], c))) for a in axes for c in itertools.product(*per_method[a[0]].values())):
        ucfg = _unlearn_config(spec, method, langs, seed, p, "grid.params" + (f" (with grid.method_params.{method})" if method in overrides else ""))
        if ucfg.select in NEEDS_RETAIN and not spec.tiny and not spec.base.get("retain_eval"):
            raise GridSpecError(f"grid.params.select: {ucfg.select} needs the retain model's evaluation: set base.retain_eval")
        try:  # an altpo run's alternates cover its forget set, and their hash is part of its id
            alt = alternate_identity(spec.items, ucfg, spec.alternates)
        except ValueError as e:
            raise GridSpecError(f"base.alternate: {e}") from None
        config = {"base": spec.identity(), "unlearn": ucfg.to_dict(), "eval": asdict(spec.eval)} | alt
        run_id = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
        runs.append(GridRun(run_id, method, label, seed, p, ucfg, config | {"run_id": run_id, "forget_label": label, "params": p}))
    return runs


def _unlearn_config(spec: GridSpec, method: str, langs: list[str], seed: int, p: dict, where: str = "grid.params") -> UnlearnConfig:
    """Defaults: the demo's for the tiny model (tuned for it), the pipeline's (spec.md) otherwise."""
    if spec.tiny:
        train_defaults, alpha = asdict(spec.demo.unlearn), spec.demo.alpha
    else:
        train_defaults, alpha = asdict(UnlearnConfig().train), UnlearnConfig().alpha
        train_defaults["lr"] = default_lr("unlearn", False, spec.base["lora"])
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


def _prepare(spec: GridSpec, out: Path, console: Console) -> Base:
    """The base: learned like the demo for 'tiny' (demo.prepare_base), else loaded/evaluated."""
    base_dir = out / "base"
    if spec.tiny:
        return prepare_base(base_dir, spec.demo, console, items=spec.items, ecfg=spec.eval)
    model = spec.base["model"]
    tok = load_tokenizer(model, spec.base["trust_remote_code"])
    retain = read_jsonl(Path(spec.base["retain_eval"]) / "items.jsonl") if spec.base["retain_eval"] else None
    if spec.base["baseline_eval"]:
        before_records, before = load_eval(spec.base["baseline_eval"])
    else:
        before_records, before = evaluation_step(base_dir / "eval" / "before", load=lambda: _load(spec, model),
                                                 identity={"model": model_fingerprint(model), "data": data_fingerprint(spec.items)}, tokenizer=tok,
                                                 evaluation=standard_evaluation(spec.items, spec.eval, retain), what="eval (before)", console=console)
    missing = sorted(set(spec.languages) - set(before["language"]))
    if missing:
        raise GridSpecError(f"base.baseline_eval: {spec.base['baseline_eval']} has no rows for language(s) {', '.join(missing)}")
    return Base(spec.items, spec.languages, tok, Path(model), retain or [], before[before["language"].isin(spec.languages)], before_records)


def _load(spec: GridSpec, path: str):
    model = load_model(path, "bfloat16" if spec.base["bf16"] else "float32", spec.base["trust_remote_code"])
    return add_lora(model, LoraSettings(r=spec.base["lora_r"])) if spec.base["lora"] else model


def run_status(out: Path, run: GridRun) -> str:
    d = Path(out) / "runs" / run.run_id
    return "done" if (d / DONE_FILE).exists() else "partial" if (d / CKPT_DIR).exists() else "pending"


def run_grid(spec: GridSpec, out: str | Path, console: Console | None = None, progress: bool = True, overwrite: bool = False) -> pd.DataFrame:
    """Run every unfinished run of the spec in order, then write the results table and matrices.
    Returns the tidy results. Ctrl-C / a crash loses at most the current epoch of one run. The
    grid folder is locked while a grid runs in it; its base must match (data by content)."""
    console = console or Console()
    out = Path(out)
    with RunFolder(out, {"base": spec.identity(), "eval": asdict(spec.eval)}, kind="grid", info={"spec_path": spec.path}, overwrite=overwrite):
        base = _prepare(spec, out, console)
        before_dir = (out / "base" / "eval" / "before") if not spec.base["baseline_eval"] else Path(spec.base["baseline_eval"])
        write_json(out / "grid.json", {"config": {
            "spec_path": spec.path, "spec": spec.raw, "base": spec.identity(), "before_eval": str(before_dir.resolve()),
            "params": list(dict.fromkeys(k for r in spec.runs for k in r.params)), "languages": spec.languages,
            "runs": [{"run_id": r.run_id, "method": r.method, "forget_langs": r.forget_label, "seed": r.seed, "params": r.params} for r in spec.runs],
        }})
        todo = [r for r in spec.runs if run_status(out, r) != "done"]
        console.print(f"grid: {len(spec.runs)} runs, {len(spec.runs) - len(todo)} finished, {len(todo)} to run -> {out.resolve()}")
        evaluation = standard_evaluation(base.items, spec.eval, base.retain_records or None)
        curves = CurveEvaluation(base.items, spec.eval, base.retain_records or None)  # runs with eval_every > 0
        identity = {"model": model_fingerprint(str(base.learned_path)), "data": data_fingerprint(base.items),
                    "base": spec.identity(), "lora_r": spec.base["lora_r"] if spec.base["lora"] else None}
        for k, run in enumerate(todo, 1):
            what = f"[{k}/{len(todo)}] {run.run_id}: {run.method} forget ({run.forget_label}) seed {run.seed} {run.params or ''}"
            console.print(("resuming " if run_status(out, run) == "partial" else "") + what, markup=False)
            try:
                unlearn_step(out / "runs" / run.run_id, load=lambda: _load(spec, str(base.learned_path)),
                             identity=identity | alternate_identity(base.items, run.unlearn, spec.alternates), tokenizer=base.tokenizer,
                             items=base.items, cfg=run.unlearn, evaluation=evaluation, console=console, save=spec.base["save_models"],
                             info={"run_id": run.run_id, "forget_label": run.forget_label, "params": run.params}, progress=progress, what=f"  {run.run_id}",
                             alternates=spec.alternates, curves=curves)
            except KeyboardInterrupt:
                console.print(f"interrupted in run {run.run_id}: rerun the same command to resume (finished runs are kept; this one goes on from its last finished epoch)")
                raise
        results = gather(out)
        write_table(out / "results.parquet", results)
        write_table(out / "results.csv", results)
        write_result_matrices(results, out / "matrices", order=spec.languages, folder=out)
    console.print(f"results: {len(results)} rows -> {(out / 'results.parquet').resolve()} (and results.csv)")
    return results
