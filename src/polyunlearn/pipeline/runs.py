"""`polyunlearn learn / unlearn / eval` as one library call each: resolve the model choice, build
the typed configs, check every input (languages, eval folders, method hyperparameters against
the model's layer count) BEFORE any model is loaded, then run the shared step (pipeline/step.py)
in its run folder.

    from polyunlearn.pipeline.runs import ModelChoice, learn_command
    learn_command(Path("runs/learned"), ModelChoice("tiny"), items, "bundled", None, False, {}, True, False, console)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from polyunlearn.core.languages import option_languages
from polyunlearn.core.models import (
    TINY_BUILDERS,
    LoraSettings,
    ModelLoadError,
    add_lora,
    build_tiny_model,
    check_vocab,
    is_tiny_model,
    load_model,
    load_tokenizer,
    weights_dtype,
)
from polyunlearn.core.rundir import (
    EVAL_FILES,
    RUN_FILE,
    data_fingerprint,
    eval_done,
    load_eval,
    model_fingerprint,
    read_eval_items,
    read_run_json,
)
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.schema import GENERAL_SPLITS, DataError, QAItem
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.pipeline.epoch_eval import CurveEvaluation, check_curves
from polyunlearn.pipeline.mcq_eval import print_mcq, with_mcq
from polyunlearn.pipeline.phases import (
    UnlearnConfig,
    alternate_identity,
    default_lr,
    item_languages,
    item_texts,
    select,
    unlearn_sets,
)
from polyunlearn.pipeline.step import (
    Evaluation,
    eval_identity,
    evaluation_step,
    learn_identity,
    learn_step,
    standard_evaluation,
    standard_learning,
    unlearn_identity,
    unlearn_step,
)

# What the retain model (for Forget Quality) learns: everything but the forget split and its
# training copy (*_train: TOFU's forget01 / retain99, data/schema.TRAIN_SPLITS).
RETAIN_MODEL_SPLITS = ("retain", "retain_train", *GENERAL_SPLITS)


@dataclass(frozen=True)
class ModelChoice:
    """Which model a command starts from and how it is loaded; every field after the name is
    keyword-only, so that a new field cannot shift the others in a positional call."""

    name: str  # "tiny" / "tiny-cohere" (built in-process) or a HF id / local path
    _: KW_ONLY
    lora_r: int | None = None  # LoRA adapters of this rank are trained (None: the full weights)
    bf16: bool = False
    dtype: str = "auto"
    trust_remote_code: bool = False
    vocab_size: int = 4096  # tiny models: BPE vocabulary trained on the data
    seed: int = 0  # tiny models: the seed of the fresh weights
    # The LoRA knobs (used when lora_r is set), defaults from core.models.LoraSettings.
    lora_alpha: float = LoraSettings.alpha
    lora_dropout: float = LoraSettings.dropout
    lora_targets: str = LoraSettings.target_modules  # or a comma list of module names (q_proj,k_proj,v_proj)

    def __post_init__(self) -> None:
        if self.lora_r is not None and self.lora_r < 1:
            raise ValueError(f"--lora-r must be >= 1, got {self.lora_r}")
        if self.lora_r is not None:
            self.lora()  # bad alpha / dropout / targets fail here, before anything loads
        weights_dtype(self.bf16, self.lora_r is None, self.dtype)  # an unknown --dtype fails here

    def lora(self) -> LoraSettings | None:
        """The LoRA settings, or None for full fine-tuning."""
        if self.lora_r is None:
            return None
        return LoraSettings.from_options(self.lora_r, self.lora_alpha, self.lora_dropout, self.lora_targets)

    def check(self) -> None:
        """The model exists (checked after the data and the configs, before anything loads)."""
        from polyunlearn.core.models import looks_like_path

        if not self.tiny and looks_like_path(self.name) and not Path(self.name).expanduser().exists():
            raise ModelLoadError(f"model path not found: {self.name}")

    @property
    def tiny(self) -> bool:
        """Built in-process ('tiny' / 'tiny-cohere'): a tokenizer trained on the data, fresh weights."""
        return self.name in TINY_BUILDERS

    @property
    def tiny_defaults(self) -> bool:
        """Whether the defaults of a tiny model apply (the learning rate): decided by the model
        itself, so a saved tiny model (`learn --model tiny`'s OUT/model) gets them under any name
        (core.models.is_tiny_model)."""
        return is_tiny_model(self.name)

    def weights(self) -> str:
        return weights_dtype(self.bf16, self.lora_r is None, self.dtype)

    def fingerprint(self) -> dict[str, Any]:
        """The model part of every identity: {"builder": name} for a tiny model built here,
        else core.rundir.model_fingerprint (a folder's file hashes, a hub id and its commit)."""
        return {"builder": self.name} if self.tiny else model_fingerprint(self.name)

    def lora_identity(self) -> dict[str, Any] | None:
        """The LoRA settings as identities record them (None: full fine-tuning)."""
        lora = self.lora()
        return lora.identity() if lora else None

    def identity(self) -> dict[str, Any]:
        """The identity of `learn` / `unlearn` / `eval`'s model (the shape their run.json has)."""
        ident: dict[str, Any] = {
            "model": self.fingerprint(),
            "lora_r": self.lora_r,
            "lora": self.lora_identity(),
            "weights_dtype": self.weights(),
            "mixed_precision": "bf16" if self.bf16 else "no",
        }
        if self.tiny:
            ident["vocab_size"] = self.vocab_size
        return ident

    def tokenizer(self, items: Sequence[QAItem] | None = None):
        if self.tiny:
            from polyunlearn.core.models import train_tokenizer

            return train_tokenizer(item_texts(items or []), self.vocab_size)
        return load_tokenizer(self.name, self.trust_remote_code)

    def build(self, tokenizer) -> Any:
        """The model to train: a fresh tiny model, or the loaded weights; LoRA adapters on top."""
        if self.tiny:
            net = build_tiny_model(tokenizer, TINY_BUILDERS[self.name], seed=self.seed)
        else:
            net = load_model(self.name, self.weights(), self.trust_remote_code)
            check_vocab(net, tokenizer, self.name)
        return self.with_lora(net)

    def with_lora(self, net: Any) -> Any:
        """`net` with fresh LoRA adapters of these settings (unchanged for full fine-tuning)."""
        lora = self.lora()
        return add_lora(net, lora) if lora else net

    def train_config(self, phase: str, given: Mapping[str, Any]) -> TrainConfig:
        """TrainConfig from the CLI values: lr None = the default of this kind of model."""
        values = dict(given)
        if values.get("lr") is None:
            values["lr"] = default_lr(phase, self.tiny_defaults, self.lora_r is not None)
        return TrainConfig(**values, mixed_precision="bf16" if self.bf16 else "no")


def eval_folder(path: Path | None, what: str) -> list[dict] | None:
    """The per-item records of an evaluation folder given as --retain-eval / --baseline, checked
    now (before any model loads); None when not given."""
    if path is None:
        return None
    if not eval_done(path):
        raise DataError(
            f"{what} {path} is not an evaluation folder (needs {' and '.join(EVAL_FILES)}; e.g. a learn run's OUT/eval)"
        )
    return read_eval_items(path)


def learned_languages(model: str) -> list[str] | None:
    """The languages a `learn` run trained the model folder `model` on (its run.json), if any."""
    run = Path(model).expanduser().parent / RUN_FILE
    if Path(model).expanduser().is_dir() and run.is_file():
        langs = read_run_json(run).get("identity", {}).get("languages")
        return list(langs) if isinstance(langs, list) else None
    return None


def dry_run_report(
    console: Console,
    out: Path,
    identity: Mapping[str, Any],
    kind: str,
    choice: ModelChoice | None = None,
    unchecked: Sequence[str] = (),
    identity_known: bool = True,
) -> None:
    """--dry-run: every input was checked (offline: core/hubcache); print the run's identity,
    where a hub model stands in the local cache, what could not be checked without the network
    (`unchecked`), and what would happen in `out` (`identity_known` False: data or a text set
    is not in the local cache, so whether a run folder would be reused cannot be told yet)."""
    from polyunlearn.core.atomic import dumps
    from polyunlearn.core.rundir import RUN_FILE, canonical, folder_status

    console.print(dumps(canonical(identity), indent=2), markup=False, highlight=False)
    if choice is not None and (state := hub_model_state(choice)):
        console.print(f"model {choice.name}: {state}", markup=False, highlight=False)
    for what in unchecked:
        console.print(f"not checked: {what}", markup=False, highlight=False)
    status = (
        folder_status(out, identity, kind)
        if identity_known or not (out / RUN_FILE).is_file()
        else "holds a run: whether it would be reused is known once the downloads are done"
    )
    valid = "every input is valid" if not unchecked else "every input checked is valid"
    console.print(f"dry run: {valid}; {out}: {status}", markup=False, highlight=False)


def is_hub_id(choice: ModelChoice) -> bool:
    from polyunlearn.core.models import looks_like_path

    return not choice.tiny and not looks_like_path(choice.name)


def hub_model_state(choice: ModelChoice) -> str | None:
    """Where a hub model stands in the local cache (no network); None for a tiny or local model."""
    from polyunlearn.core import hubcache

    return hubcache.model_state(choice.name) if is_hub_id(choice) else None


def check_prompt_format_offline(choice: ModelChoice, fmt: str) -> str | None:
    """A dry run's check of prompt format 'chat' against the model's tokenizer, without loading
    weights: a tiny model has no chat template, a local folder's tokenizer is read, a hub
    model's only from the local cache. Refused with the real run's message (PromptFormatError);
    returns what could not be checked, if anything."""
    if fmt != "chat":
        return None
    from polyunlearn.core import hubcache
    from polyunlearn.core.prompts import resolved

    if choice.tiny:
        tok: Any = None  # the tokenizer trained in-process has no chat template
    elif is_hub_id(choice) and hubcache.model_commit(choice.name) is None:
        return f"prompt format 'chat' against the tokenizer of {choice.name}: {hubcache.NOT_CACHED}"
    else:
        with hubcache.offline():
            tok = load_tokenizer(choice.name, choice.trust_remote_code)
    resolved(tok, fmt)
    return None


def _data_unknown(data: str) -> str:
    from polyunlearn.core.hubcache import NOT_CACHED

    return f"the data {data} (its languages, splits and items): {NOT_CACHED}"


def learn_command(
    out: Path,
    choice: ModelChoice,
    items: Sequence[QAItem] | None,
    data: str,
    langs: str | None,
    retain_only: bool,
    train: Mapping[str, Any],
    evaluate: bool,
    overwrite: bool,
    console: Console,
    dry_run: bool = False,
    evaluation: Mapping[str, Any] | None = None,
    preset: str | None = None,
) -> pd.DataFrame | None:
    """Fine-tune `choice` on the trainable items (the retain model: without the forget split).
    `evaluation`: EvalConfig fields of the evaluation after training (e.g. max_new_tokens);
    `preset`: the paper preset the options came from (recorded in the identity)."""
    train_items = select(
        items or [], RETAIN_MODEL_SPLITS if retain_only else (*RETAIN_MODEL_SPLITS, "forget", "forget_train")
    )
    if items is not None and not train_items:
        raise DataError(f"{data}: nothing to train on (no retain/general{'' if retain_only else '/forget'} items)")
    cfg = choice.train_config("learn", train)
    choice.check()
    unchecked = [u for u in [check_prompt_format_offline(choice, cfg.prompt_format)] if u] if dry_run else []
    if items is None:  # a dry run whose hub data is not in the local cache (cli: load_data_or_none)
        EvalConfig(**{**(evaluation or {}), "prompt_format": cfg.prompt_format})
        identity = {
            "model": choice.identity(),
            "data": None,
            "retain_only": retain_only,
            "train": cfg,
            **_preset(preset),
        }
        return dry_run_report(console, out, identity, "learn", choice, [*unchecked, _data_unknown(data)], False)
    # A dry run reads a local folder's tokenizer (offline, cheap); a hub one it never fetches.
    tok = choice.tokenizer(items) if not dry_run or not (choice.tiny or is_hub_id(choice)) else None
    identity = {
        "model": choice.identity(),
        "data": data_fingerprint(items),
        "languages": item_languages(items),
        "retain_only": retain_only,
        "train": cfg,
        **_preset(preset),
    }
    # Evaluated in the format it was trained in (the prompt format is part of TrainConfig).
    ecfg = EvalConfig(**{**(evaluation or {}), "prompt_format": cfg.prompt_format})
    evaluation = with_mcq(standard_evaluation(items, ecfg), items, ecfg) if evaluate else None
    if dry_run:
        return dry_run_report(console, out, learn_identity(identity, evaluation), "learn", choice, unchecked)
    console.print(f"learn: {len(train_items)} items in {', '.join(item_languages(items))} -> {out}")
    learn_step(
        out,
        build=lambda: choice.build(tok),
        train_fn=standard_learning(tok, train_items, cfg, "learn"),
        identity=identity,
        tokenizer=tok,
        what="learn",
        console=console,
        evaluation=evaluation,
        info={"command": "learn", "data": data},
        overwrite=overwrite,
    )
    return pd.read_csv(out / "eval" / "summary.csv") if evaluate else None


def learned_prompt_format(model: str) -> str | None:
    """The prompt format a `learn` run trained the model folder `model` in (its run.json), if any."""
    run = Path(model).expanduser().parent / RUN_FILE
    if Path(model).expanduser().is_dir() and run.is_file():
        fmt = read_run_json(run).get("identity", {}).get("train", {}).get("prompt_format")
        return fmt if isinstance(fmt, str) else None
    return None


def warn_prompt_format(model: str, fmt: str, console: Console) -> None:
    """A model asked in another prompt format than it learned in scores as if it never learned
    the facts; say so (the run goes ahead: that may be the experiment)."""
    learned = learned_prompt_format(model)
    if learned is not None and learned != fmt:
        console.print(
            f"warning: {model} learned in prompt format {learned!r} ({Path(model).parent / RUN_FILE}); this run uses {fmt!r} (--prompt-format)",
            markup=False,
        )


def default_languages(model: str, langs: str | None, console: Console) -> str | None:
    """--langs, or when not given the languages the model learned (its learn run's run.json)."""
    if langs is None and (learned := learned_languages(model)):
        langs = ",".join(learned)
        console.print(f"languages: {langs} (those the model learned, from {Path(model).parent / RUN_FILE})")
    return langs


def unlearn_command(
    out: Path,
    choice: ModelChoice,
    method: str,
    task: str,
    items: Sequence[QAItem] | None,
    data: str,
    langs: str | None,
    unlearn: Mapping[str, Any],
    train: Mapping[str, Any],
    params: Mapping[str, Any],
    evaluate: bool,
    retain_eval: Path | None,
    baseline: Path | None,
    overwrite: bool,
    console: Console,
    dry_run: bool = False,
    alternate: str | None = None,
    evaluation: Mapping[str, Any] | None = None,
    preset: str | None = None,
) -> pd.DataFrame | None:
    """Unlearn with `method`; every input is checked before the model is loaded. `evaluation`:
    EvalConfig fields of the evaluation after unlearning (e.g. max_new_tokens); `preset`: the
    paper preset the options came from (recorded in the identity)."""
    if langs is None and items is not None:
        console.print(f"languages: {', '.join(item_languages(items))} (all in the data; --langs chooses)")
    cfg = UnlearnConfig(
        method=method,
        **unlearn,
        params={k: v for k, v in params.items() if v is not None},
        train=choice.train_config("unlearn", train),
    )
    if items is not None:
        available = item_languages(items)
        option_languages("--forget-langs", cfg.forget_langs, cfg.forget_langs, available)  # named, with a fix
        if cfg.retain_langs != "same":
            option_languages("--retain-langs", cfg.retain_langs, cfg.retain_langs, available)
        forget_items = unlearn_sets(items, cfg)[
            0
        ]  # languages, empty forget set, missing retain items: before a big model loads
        alternates = check_alternate_source(alternate, items, forget_items, method)
    warn_prompt_format(choice.name, cfg.train.prompt_format, console)
    unchecked: list[str] = []
    texts_known = True
    if cfg.kl_text:
        from polyunlearn.data.general_text import load_general_text
        from polyunlearn.data.loaders import NotCached
        from polyunlearn.data.schema import describe_skipped

        skipped: list = []
        try:
            texts = load_general_text(cfg.kl_text, skipped=skipped)
        except NotCached as e:  # a dry run downloads nothing
            unchecked.append(f"general text set (KL term) {e}")
            texts_known = False
        else:
            console.print(f"general text set (KL term): {len(texts)} texts from {cfg.kl_text}", markup=False)
        if skipped:
            console.print(f"warning: {describe_skipped(skipped)}", markup=False)
    choice.check()
    if dry_run and "rmu_layer" in cfg.params and is_hub_id(choice):
        from polyunlearn.core.hubcache import NOT_CACHED, model_commit

        if model_commit(choice.name) is None:
            unchecked.append(f"rmu_layer against the layer count of {choice.name}: {NOT_CACHED}")
        else:
            check_method_fits_model(cfg, choice)
    else:
        check_method_fits_model(cfg, choice)
    if dry_run:
        unchecked += [u for u in [check_prompt_format_offline(choice, cfg.train.prompt_format)] if u]
    retain_records = eval_folder(retain_eval, "--retain-eval")
    before_records = eval_folder(baseline, "--baseline")
    ecfg = EvalConfig(**{**(evaluation or {}), "prompt_format": cfg.train.prompt_format})
    if items is None:  # a dry run whose hub data is not in the local cache (cli: load_data_or_none)
        identity = {"model": choice.identity(), "data": None, "task": task, "unlearn": cfg, **_preset(preset)}
        return dry_run_report(console, out, identity, "unlearn", choice, [*unchecked, _data_unknown(data)], False)
    evaluation = _unlearn_evaluation(items, retain_records, task, ecfg) if evaluate else None
    curves = CurveEvaluation(items, ecfg, retain_records) if cfg.eval_every else None
    check_curves(
        cfg, curves, unlearn_sets(items, cfg)[2]
    )  # --select first-below-retain without --retain-eval: refused here
    identity = {
        "model": choice.identity(),
        "data": data_fingerprint(items),
        "task": task,
        **_preset(preset),
    } | alternate_identity(items, cfg, alternates)
    if dry_run:
        ident = unlearn_identity(identity, cfg, evaluation, True, curves, texts_known)
        return dry_run_report(console, out, ident, "unlearn", choice, unchecked, texts_known)
    tok = load_tokenizer(choice.name, choice.trust_remote_code)
    result = unlearn_step(
        out,
        load=lambda: choice.build(tok),
        identity=identity,
        tokenizer=tok,
        items=items,
        cfg=cfg,
        evaluation=evaluation,
        console=console,
        save=True,
        info={
            "command": "unlearn",
            "data": data,
            "alternate": alternate,
            "retain_eval": str(retain_eval) if retain_eval else None,
        },
        overwrite=overwrite,
        alternates=alternates,
        curves=curves,
    )
    if result.summary is not None and before_records is not None:
        write_change_matrices(
            out / "matrices", baseline, read_eval_items(out / "eval"), result.summary, cfg.forget_langs
        )
    if task == "data" and evaluate:
        print_mcq(console, out / "eval")
    if task == "concept" and evaluate:
        from polyunlearn.analysis.matrices import console_table

        console.print(
            console_table(
                pd.read_csv(out / "eval" / "concept.csv").to_dict("records"), "biased-answer rate per language"
            )
        )
    return result.summary


def eval_command(
    out: Path,
    choice: ModelChoice,
    items: Sequence[QAItem] | None,
    data: str,
    ecfg: EvalConfig,
    retain_eval: Path | None,
    baseline: Path | None,
    label: str,
    overwrite: bool,
    console: Console,
    dry_run: bool = False,
    lm_eval: Any = None,
    preset: str | None = None,
) -> pd.DataFrame | None:
    retain_records = eval_folder(retain_eval, "--retain-eval")
    eval_folder(baseline, "--baseline")
    choice.check()
    warn_prompt_format(choice.name, ecfg.prompt_format, console)
    unchecked = [u for u in [check_prompt_format_offline(choice, ecfg.prompt_format)] if u] if dry_run else []
    if items is None:  # a dry run whose hub data is not in the local cache (cli: load_data_or_none)
        identity = {"model": choice.identity(), "data": None, "eval": ecfg, **_preset(preset)}
        return dry_run_report(console, out, identity, "eval", choice, [*unchecked, _data_unknown(data)], False)
    identity = {"model": choice.identity(), "data": data_fingerprint(items), **_preset(preset)}
    evaluation = with_mcq(
        standard_evaluation(items, ecfg, retain_records, lm_eval=lm_eval), items, ecfg
    )  # + MCQ rates for SeeGULL MCQ data
    if dry_run:
        return dry_run_report(console, out, eval_identity(identity, evaluation), "eval", choice, unchecked)
    tok = load_tokenizer(choice.name, choice.trust_remote_code)
    if ecfg.generate:  # the greedy budget, as score_items will choose it (0 = fit the data)
        from polyunlearn.core.encoding import Encoder
        from polyunlearn.data.schema import evaluated
        from polyunlearn.evaluation.records import generation_budget

        console.print(
            f"greedy answers: up to {generation_budget(ecfg, Encoder(tok, ecfg.max_length, ecfg.prompt_format), evaluated(items))[1]} new tokens"
        )

    def load():
        net = load_model(choice.name, choice.dtype, choice.trust_remote_code)
        check_vocab(net, tok, choice.name)
        return net

    records, summary = evaluation_step(
        out,
        load=load,
        identity=identity,
        tokenizer=tok,
        evaluation=evaluation,
        console=console,
        info={"command": "eval", "data": data},
        overwrite=overwrite,
    )
    if baseline is not None:
        write_change_matrices(out / "matrices", baseline, records, summary, label)
    print_mcq(console, out)
    return summary


def check_alternate_source(source: str | None, items: Sequence[QAItem], forget_items: Sequence[QAItem], method: str):
    """The --alternate answers, checked against the forget set before any model loads; refused
    for a method that does not use them (it would be silently ignored)."""
    from polyunlearn.data.alternates import check_alternates, load_alternates
    from polyunlearn.methods.registry import get_method

    if not get_method(method).needs_alternate:
        if source is not None:
            raise ValueError(f"--alternate does not apply to method {method!r} (only to altpo)")
        return None
    alternates = load_alternates(source, items) if source is not None else None
    check_alternates(forget_items, alternates, method)
    return alternates


def _preset(name: str | None) -> dict[str, str]:
    """The identity entry of a paper preset (none without one: identities made without presets keep their form)."""
    return {"preset": name} if name else {}


def _unlearn_evaluation(
    items: Sequence[QAItem], retain_records: list[dict] | None, task: str, ecfg: EvalConfig
) -> Evaluation:
    ev = standard_evaluation(items, ecfg, retain_records)
    if task != "concept":
        return with_mcq(ev, items, ecfg)
    from polyunlearn.pipeline.concept_eval import write_concept_eval

    def run(model, tokenizer, folder: Path) -> pd.DataFrame:
        summary = ev.run(model, tokenizer, folder)
        write_concept_eval(folder, model, tokenizer, items, summary=summary, ecfg=ecfg)
        return summary

    return Evaluation(dict(ev.identity) | {"concept": True}, run)


def check_method_fits_model(cfg: UnlearnConfig, choice: ModelChoice) -> None:
    """Method hyperparameters that depend on the model (RMU's layer) checked from the model's
    config alone, before its weights load."""
    if "rmu_layer" not in cfg.params:
        return
    from polyunlearn.methods.rmu import rmu_layer_index

    if choice.tiny:
        from polyunlearn.core.models import TINY_SIZES

        n = TINY_SIZES["tiny"]["num_hidden_layers"]
    else:
        from transformers import AutoConfig

        try:
            n = AutoConfig.from_pretrained(choice.name, trust_remote_code=choice.trust_remote_code).num_hidden_layers
        except Exception as e:  # noqa: BLE001 - named below
            raise ModelLoadError(f"could not read the config of {choice.name!r}: {e}") from None

    class _Cfg:  # rmu_layer_index reads config.num_hidden_layers only
        config = type("C", (), {"num_hidden_layers": n})()

    rmu_layer_index(_Cfg(), cfg.params["rmu_layer"])


def write_change_matrices(folder: Path, baseline: Path, records: list[dict], summary: pd.DataFrame, label: str) -> None:
    """The change vs --baseline (forget and retain Prob), with paired per-item tests."""
    from polyunlearn.analysis.matrices import write_change_matrix

    before_records, before = load_eval(baseline)
    for metric in ("forget_prob", "retain_prob"):
        write_change_matrix(
            folder, f"change_{metric}", before, {label: summary}, metric, records=(before_records, {label: records})
        )
