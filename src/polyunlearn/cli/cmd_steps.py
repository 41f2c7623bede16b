"""CLI steps: `learn`, `unlearn`, `eval`: one phase of a study each, on any model and data, each
writing one run folder (core/rundir.py): a rerun with the same settings reuses or resumes it,
other settings are refused with the differing fields named (or redone with --overwrite).

    polyunlearn learn --model tiny --out runs/learned
    polyunlearn unlearn --model runs/learned/model --method npo --forget-langs en --out runs/npo-en
    polyunlearn eval --model runs/npo-en/model --out runs/npo-en-eval --baseline runs/learned/eval
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import typer

from polyunlearn.cli.options import (
    BF16,
    DTYPE,
    LOG_WITH,
    LORA_ALPHA,
    LORA_DROPOUT,
    LORA_R,
    LORA_TARGETS,
    PRESET_HELP,
    config_options,
    method_options,
    threads_option,
    with_options,
    with_preset,
)
from polyunlearn.cli.root import STEPS, app, console, friendly_errors, load_data, set_threads
from polyunlearn.core import tracking
from polyunlearn.core.rundir import EVAL_FILES
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.resolve import DATA_HELP
from polyunlearn.evaluation.settings import EvalConfig
from polyunlearn.pipeline.phases import UnlearnConfig, lr_rule

_LR_HELP = f"learning rate; {lr_rule()}"
_TRAIN_SKIP = ("mixed_precision",)  # set by --bf16
OVERWRITE = typer.Option(
    False, "--overwrite", help="Redo the run even if OUT holds one (made with the same or other settings)."
)
PRESET = typer.Option(None, "--preset", help=PRESET_HELP)
TRUST_REMOTE_CODE = typer.Option(False, help="Allow model code from the hub (off by default).")
THREADS = threads_option(None)
DRY_RUN = typer.Option(
    False,
    "--dry-run",
    help="Check every input, print the run's identity and what it would do in OUT; load no model, train nothing, "
    "download nothing (hub models and data are looked up in the local cache only).",
)


def offline_dry_run(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A command's --dry-run runs with the hub offline (core/hubcache): it reads the local cache
    and says what it could not check, in seconds, with or without a network."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        from polyunlearn.core.hubcache import offline

        with offline() if kwargs.get("dry_run") else nullcontext():
            return fn(**kwargs)

    return wrapper


def load_data_or_none(data: str, langs: str | None, dry_run: bool):
    """The --data items; in a dry run None when a hub data set in it is not in the local cache
    (said by the dry run's report), never a download."""
    if not dry_run:
        return load_data(data, langs)
    from polyunlearn.data.loaders import NotCached

    try:
        return load_data(data, langs)
    except NotCached:
        return None


@app.command(rich_help_panel=STEPS)
@friendly_errors
@offline_dry_run
@with_preset("learn")
@with_options(
    train=config_options(
        TrainConfig,
        exclude=_TRAIN_SKIP,
        panel="Training",
        overrides={
            "lr": (None, _LR_HELP),
            "schedule": ("linear", "learning-rate schedule after warmup: constant or linear (decay to 0)"),
            "warmup_ratio": (0.05, "share of the steps with a linear learning-rate warmup (0 to 1)"),
        },
    ),
    evaluation=config_options(EvalConfig, include=("max_new_tokens",), panel="Evaluation"),
)
def learn(
    out: Path = typer.Option(..., help="Output run folder: model/ (safetensors), eval/, history.json, run.json."),
    model: str = typer.Option("tiny", help="HF model id or local path, or 'tiny' / 'tiny-cohere' (built in-process)."),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: str | None = typer.Option(
        None, help="Languages to train on (comma list or 'all'); default all in the data."
    ),
    retain_only: bool = typer.Option(
        False, help="Train the retain model: skip the forget split (needed for Forget Quality)."
    ),
    lora: bool = typer.Option(False, help="Train LoRA adapters (peft), saved merged into the weights."),
    lora_r: int = LORA_R,
    lora_alpha: float = LORA_ALPHA,
    lora_dropout: float = LORA_DROPOUT,
    lora_targets: str = LORA_TARGETS,
    bf16: bool = BF16,
    dtype: str = DTYPE,
    evaluate: bool = typer.Option(True, help="Evaluate after training (writes OUT/eval)."),
    vocab_size: int = typer.Option(4096, help="Tiny models: vocabulary of the BPE tokenizer trained on the data."),
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    threads: int | None = THREADS,
    overwrite: bool = OVERWRITE,
    dry_run: bool = DRY_RUN,
    preset: str | None = PRESET,
    log_with: str | None = LOG_WITH,
    train: dict = None,
    evaluation: dict = None,
):
    """Fine-tune a model on the benchmark until it knows the facts."""
    from polyunlearn.pipeline.runs import ModelChoice, learn_command

    set_threads(threads)
    tracking.check_log_with(log_with)
    items = load_data_or_none(data, langs, dry_run)
    choice = ModelChoice(
        model,
        lora_r=lora_r if lora else None,
        bf16=bf16,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        vocab_size=vocab_size,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        lora_targets=lora_targets,
    )
    with tracking.use(log_with):
        summary = learn_command(
            out,
            choice,
            items,
            data,
            langs,
            retain_only,
            train,
            evaluate,
            overwrite,
            console,
            dry_run,
            evaluation,
            preset,
        )
    if summary is not None:
        _print_summary(summary)


@app.command(rich_help_panel=STEPS)
@friendly_errors
@offline_dry_run
@with_preset("unlearn")
@with_options(
    unlearn=config_options(UnlearnConfig, exclude=("method",), panel="Unlearning"),
    train=config_options(
        TrainConfig,
        exclude=_TRAIN_SKIP,
        overrides={"lr": (None, _LR_HELP), "epochs": (5, "passes over the forget set")},
        panel="Training",
    ),
    params=method_options(),
    evaluation=config_options(EvalConfig, include=("max_new_tokens",), panel="Evaluation"),
)
def unlearn(
    model: str = typer.Option(..., help="The learned model: the model/ folder of a `learn` run, or any HF id/path."),
    out: Path = typer.Option(..., help="Output run folder: model/ (or LoRA adapter), eval/, history.json, run.json."),
    method: str = typer.Option("npo", help="Unlearning method (see `polyunlearn methods`)."),
    task: str = typer.Option(
        "data",
        help="'data': unlearn the forget split (facts); 'concept': unlearn stereotype associations (forget = stereotype items, 'bundled' data = stereotypes + facts) and report the biased-answer rate per language.",
    ),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: str | None = typer.Option(
        None,
        help="Languages of the data to load and evaluate; default the languages the model learned (read from its learn run), else all in the data.",
    ),
    alternate: str | None = typer.Option(
        None,
        help="AltPO: alternate answers, a JSONL/CSV file with id, language, alternate (one per forget item and language), or 'bundled' (the bundled benchmark's).",
    ),
    lora: bool = typer.Option(False, help="Unlearn with LoRA adapters; the reference is the base with adapters off."),
    lora_r: int = LORA_R,
    lora_alpha: float = LORA_ALPHA,
    lora_dropout: float = LORA_DROPOUT,
    lora_targets: str = LORA_TARGETS,
    bf16: bool = BF16,
    dtype: str = DTYPE,
    evaluate: bool = typer.Option(True, help="Evaluate in every language after unlearning."),
    retain_eval: Path | None = typer.Option(None, help="Eval folder of the retain model (for Forget Quality)."),
    baseline: Path | None = typer.Option(
        None, help="Eval folder of the model before unlearning (for the change matrix)."
    ),
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    threads: int | None = THREADS,
    overwrite: bool = OVERWRITE,
    dry_run: bool = DRY_RUN,
    preset: str | None = PRESET,
    log_with: str | None = LOG_WITH,
    unlearn: dict = None,
    train: dict = None,
    params: dict = None,
    evaluation: dict = None,
):
    """Unlearn the forget split in the chosen languages with a registered method."""
    from polyunlearn.pipeline.runs import ModelChoice, default_languages, unlearn_command

    set_threads(threads)
    tracking.check_log_with(log_with)
    if task not in ("data", "concept"):
        raise ValueError(f"--task is {task!r}; expected 'data' or 'concept'")
    choice = ModelChoice(
        model,
        lora_r=lora_r if lora else None,
        bf16=bf16,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        lora_targets=lora_targets,
    )
    langs = default_languages(model, langs, console)
    if task == "concept":
        from polyunlearn.data.concept_data import check_concept_items
        from polyunlearn.studies.concept_study import with_facts

        # 'bundled' means the bundled concept set here: stereotypes + facts; other concept data
        # (e.g. seegull-mcq:DIR) without facts gets the bundled ones as its retain set.
        raw = load_data_or_none("concept" if data.strip() == "bundled" else data, langs, dry_run)
        items = None if raw is None else with_facts(check_concept_items(raw, data), data, None, console)
    else:
        items = load_data_or_none(data, langs, dry_run)
    with tracking.use(log_with):
        unlearn_command(
            out,
            choice,
            method,
            task,
            items,
            data,
            langs,
            unlearn,
            train,
            params,
            evaluate,
            retain_eval,
            baseline,
            overwrite,
            console,
            dry_run,
            alternate,
            evaluation,
            preset,
        )


@app.command("eval", rich_help_panel=STEPS)
@friendly_errors
@offline_dry_run
@with_preset("eval")
@with_options(evaluation=config_options(EvalConfig, panel="Evaluation"))
def eval_cmd(
    model: str = typer.Option(..., help="Model folder or HF id (a LoRA adapter folder works too)."),
    out: Path = typer.Option(
        ..., help=f"Output run folder: {', '.join(EVAL_FILES)}, run.json (and matrices/ with --baseline)."
    ),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: str | None = typer.Option(None, help="Evaluation languages (default all in the data)."),
    retain_eval: Path | None = typer.Option(None, help="Eval folder of the retain model (for Forget Quality)."),
    baseline: Path | None = typer.Option(
        None, help="Eval folder of the model before unlearning (for the change matrix)."
    ),
    forget_langs: str = typer.Option("", help="Label of the forget languages for the matrix row."),
    bf16: bool = typer.Option(False, help="Load the weights in bfloat16."),
    lm_eval: str | None = typer.Option(
        None,
        help="lm-evaluation-harness tasks to run on the same model (comma list, e.g. xnli_fr,belebele_fra_Latn): OUT/lm_eval.json|csv, per-language scores as lm_<task>_<metric> summary columns.",
    ),
    lm_eval_include: Path | None = typer.Option(None, help="Folder of extra lm-eval task YAMLs (local tasks)."),
    lm_eval_limit: int | None = typer.Option(
        None, help="At most this many samples per lm-eval task (quick checks; not comparable scores)."
    ),
    trust_remote_code: bool = TRUST_REMOTE_CODE,
    threads: int | None = THREADS,
    overwrite: bool = OVERWRITE,
    dry_run: bool = DRY_RUN,
    preset: str | None = PRESET,
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", hidden=True, help="Old name of --eval-batch-tokens (existing command lines keep working)."
    ),
    evaluation: dict = None,
):
    """Evaluate a model in every language: per-item JSONL + per-language summary CSV."""
    from polyunlearn.evaluation.lm_eval_bridge import LmEvalSpec
    from polyunlearn.pipeline.runs import ModelChoice, eval_command

    set_threads(threads)
    evaluation = _old_max_tokens(evaluation, max_tokens)
    # Settings are checked before data or model are loaded. vLLM loads the weights itself, from
    # --model unchanged; the in-process backend needs no source (the run identity then holds none).
    vllm = evaluation["generate"] and evaluation["generation_backend"] == "vllm"
    ecfg = EvalConfig(**evaluation, model_source=model if vllm else "")
    if vllm:
        from polyunlearn.evaluation.vllm_backend import check_vllm_environment

        check_vllm_environment(model)
    items = load_data_or_none(data, langs, dry_run)
    choice = ModelChoice(model, bf16=bf16, dtype="bfloat16" if bf16 else "float32", trust_remote_code=trust_remote_code)
    lm = LmEvalSpec.from_options(lm_eval, lm_eval_include, lm_eval_limit)  # unknown tasks fail before the model loads
    summary = eval_command(
        out,
        choice,
        items,
        data,
        ecfg,
        retain_eval,
        baseline,
        forget_langs or "run",
        overwrite,
        console,
        dry_run,
        lm,
        preset,
    )
    if summary is not None:
        _print_summary(summary)
        if lm is not None:
            _print_lm_eval(out, summary)
        console.print(f"results written under [bold]{out.resolve()}[/bold]")


def _old_max_tokens(evaluation: dict, max_tokens: int | None) -> dict:
    """--max-tokens (the batch cap's name before the fast evaluation path) sets eval_batch_tokens,
    said on the console; refused beside a different --eval-batch-tokens."""
    if max_tokens is None:
        return evaluation
    given = evaluation["eval_batch_tokens"]
    if given not in (max_tokens, EvalConfig.eval_batch_tokens):
        raise ValueError(
            f"--max-tokens {max_tokens} (the old name of --eval-batch-tokens) contradicts --eval-batch-tokens {given}"
        )
    console.print(f"--max-tokens is the old name of --eval-batch-tokens: eval_batch_tokens = {max_tokens}")
    return {**evaluation, "eval_batch_tokens": max_tokens}


def _print_lm_eval(out: Path, summary) -> None:
    import pandas as pd

    from polyunlearn.analysis.matrices import console_table

    table = pd.read_csv(out / "lm_eval.csv", keep_default_na=False)
    console.print(console_table(table.drop(columns=["family"]).to_dict("records"), f"lm-eval ({out / 'lm_eval.csv'})"))
    added = [c for c in summary.columns if c.startswith("lm_")]
    elsewhere = sorted(set(table["language"]) - {""} - set(summary["language"]))
    console.print(
        f"lm-eval: summary.csv columns {', '.join(added) or '(none: no per-language task)'}"
        + (f"; languages not in the data, only in lm_eval.csv: {', '.join(elsewhere)}" if elsewhere else "")
    )


def _print_summary(summary) -> None:
    from rich.markup import escape

    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.evaluation.metric_table import console_columns

    cols = [c for c in ("language", *console_columns()) if c in summary]
    console.print(console_table(summary[cols].to_dict("records"), "per-language summary"))
    if "unavailable" in summary:  # a metric that needs a missing field is reported, never faked
        for _, row in summary[summary["unavailable"].notna()].iterrows():
            console.print(
                f"[bold yellow]unavailable[/bold yellow] ({escape(str(row['language']))}): {escape(str(row['unavailable']))}"
            )
