"""The `polyunlearn` command line (typer): demo, learn, unlearn, eval, plus listings.

    polyunlearn demo                      # whole study on the embedded default, CPU, minutes
    polyunlearn learn --model tiny --out runs/learned
    polyunlearn unlearn --model runs/learned --method npo --forget-langs en --out runs/npo-en
    polyunlearn eval --model runs/npo-en/model --out runs/npo-en/eval --baseline runs/learned/eval
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from polyunlearn.data.resolve import DATA_HELP

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multilingual machine unlearning: learn, unlearn in chosen languages, measure in every language.")
console = Console()


@app.callback()
def _quiet_libraries() -> None:
    """Keep the console for polyunlearn's own progress: no per-shard bars or info logs from HF."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def friendly_errors(fn):
    """Turn the project's input errors into one red line naming the culprit, exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from polyunlearn.data.schema import DataError
        from polyunlearn.models import ModelLoadError
        from polyunlearn.train import TrainingDiverged

        try:
            return fn(*args, **kwargs)
        except (DataError, ModelLoadError, ValueError, KeyError, FileNotFoundError) as e:
            console.print(f"[bold red]error:[/bold red] {escape(str(e))}")
            raise typer.Exit(2)
        except TrainingDiverged as e:
            console.print(f"[bold red]training stopped:[/bold red] {escape(str(e))}")
            raise typer.Exit(3)

    return wrapper


def _load_data(data: str, langs: str | None):
    from polyunlearn.data.resolve import resolve_data

    return resolve_data(data, langs)  # syntax: polyunlearn.data.resolve (DATA_HELP)


def _threads(n: int | None) -> None:
    import torch

    if n:
        torch.set_num_threads(n)


@app.command()
@friendly_errors
def demo(
    out: Path = typer.Option(Path("polyunlearn_runs/demo"), help="Results folder (created under the current folder)."),
    languages: str = typer.Option("study-b", help="Benchmark languages: comma list, 'study-b' (10), or 'all' (16)."),
    methods: str = typer.Option("grad_diff_kl,npo", help="Unlearning methods, comma list."),
    forget_sets: str = typer.Option("en;all", help="Forget-language sets separated by ';' (each a comma list or 'all')."),
    arch: str = typer.Option("llama", help="Tiny model architecture: llama or cohere."),
    learn_epochs: int = typer.Option(15, help="Epochs to learn the facts."),
    unlearn_epochs: int = typer.Option(10, help="Unlearning epochs."),
    unlearn_lr: float = typer.Option(3e-4, help="Unlearning learning rate (tiny model)."),
    threads: int = typer.Option(1, help="torch CPU threads."),
):
    """Run the whole study on the embedded default (bundled data + tiny model) and write results."""
    from polyunlearn.demo import DemoConfig, run_demo
    from polyunlearn.languages import parse_langs

    cfg = DemoConfig(out=str(out), languages=",".join(parse_langs(languages)), methods=tuple(methods.split(",")), forget_sets=tuple(forget_sets.split(";")), arch=arch, threads=threads)
    cfg.learn.epochs = learn_epochs
    cfg.unlearn.epochs = unlearn_epochs
    cfg.unlearn.lr = unlearn_lr
    from polyunlearn.methods import get_method

    for m in cfg.methods:
        get_method(m)  # fail before any training on a typo
    result = run_demo(cfg, console)
    if not result["forgetting_shown"]:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def learn(
    out: Path = typer.Option(..., help="Output folder: model (safetensors) + tokenizer + eval/."),
    model: str = typer.Option("tiny", help="HF model id or local path, or 'tiny' / 'tiny-cohere' (built in-process)."),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: Optional[str] = typer.Option(None, help="Languages to train on (comma list or 'all'); default all in the data."),
    retain_only: bool = typer.Option(False, help="Train the retain model: skip the forget split (needed for Forget Quality)."),
    epochs: int = typer.Option(5, help="Epochs."),
    lr: Optional[float] = typer.Option(None, help="Learning rate; default 1e-5 (full), 1e-4 (LoRA), 3e-3 (tiny)."),
    batch_size: int = typer.Option(8),
    grad_accum: int = typer.Option(1, help="Gradient accumulation steps."),
    lora: bool = typer.Option(False, help="Train LoRA adapters (peft), saved merged into the weights."),
    lora_r: int = typer.Option(8),
    bf16: bool = typer.Option(False, help="bf16 compute (autocast); see --dtype for the weights."),
    dtype: str = typer.Option("auto", help="Weights dtype: auto (bfloat16 with --bf16, but float32 master weights when full weights are trained), float32, bfloat16, float16."),
    evaluate: bool = typer.Option(True, help="Evaluate after training (writes OUT/eval)."),
    trust_remote_code: bool = typer.Option(False, help="Allow model code from the hub (off by default)."),
    threads: Optional[int] = typer.Option(None, help="torch CPU threads."),
):
    """Fine-tune a model on the benchmark until it knows the facts."""
    from polyunlearn.models import LoraSettings, add_lora, build_tiny_model, load_model, load_tokenizer, save_model, train_tokenizer, weights_dtype
    from polyunlearn.pipeline import evaluate_to, item_texts, learn as learn_phase, save_config, select
    from polyunlearn.train import TrainConfig

    _threads(threads)
    items = _load_data(data, langs)
    splits = ["retain", "general"] if retain_only else ["forget", "retain", "general"]
    train_items = select(items, splits)
    tiny = model in ("tiny", "tiny-cohere")
    if tiny:
        tok = train_tokenizer(item_texts(items))
        net = build_tiny_model(tok, "cohere" if model == "tiny-cohere" else "llama")
    else:
        tok = load_tokenizer(model, trust_remote_code)
        net = load_model(model, weights_dtype(bf16, not lora, dtype), trust_remote_code)
    if lora:
        net = add_lora(net, LoraSettings(r=lora_r))
    lr = lr or (3e-3 if tiny else 1e-4 if lora else 1e-5)
    cfg = TrainConfig(lr=lr, epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, mixed_precision="bf16" if bf16 else "no", schedule="linear", warmup_ratio=0.05)
    out.mkdir(parents=True, exist_ok=True)
    save_config(out / "run_config.json", {"command": "learn", "model": model, "data": data, "langs": langs, "retain_only": retain_only, "lora": lora,
                                               "weights_dtype": _dtype_name(net), "train": cfg.__dict__})
    net, hist = learn_phase(net, tok, train_items, cfg, checkpoint_dir=out / "ckpt")
    save_model(net, tok, out / "model", merge_lora=True)
    console.print(f"learned {len(train_items)} items, final loss {hist[-1]['loss']:.3f} -> {out / 'model'}")
    if evaluate:
        _, summary = evaluate_to(out / "eval", net, tok, items)
        _print_summary(summary)


@app.command()
@friendly_errors
def unlearn(
    model: str = typer.Option(..., help="The learned model: a folder written by `learn` (OUT/model) or any HF id/path."),
    out: Path = typer.Option(..., help="Output folder: model/ (or LoRA adapter), eval/, history.json."),
    method: str = typer.Option("npo", help="grad_ascent, grad_diff, grad_diff_kl, npo, simnpo, idkdpo, rmu (see `polyunlearn methods`)."),
    task: str = typer.Option("data", help="'data': unlearn the forget split (facts); 'concept': unlearn stereotype associations (forget = stereotype items, 'bundled' data = stereotypes + facts) and report the biased-answer rate per language."),
    forget_langs: str = typer.Option("en", help="Languages whose forget split is unlearned: comma list or 'all'."),
    retain_langs: str = typer.Option("same", help="Retain-set languages: 'same' (= forget languages), a comma list, or 'all'."),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: Optional[str] = typer.Option(None, help="Languages of the data to load and evaluate (default all in the data)."),
    epochs: int = typer.Option(5),
    lr: Optional[float] = typer.Option(None, help="Default 1e-5 (full) / 1e-4 (LoRA)."),
    batch_size: int = typer.Option(8),
    grad_accum: int = typer.Option(1),
    gamma: float = typer.Option(1.0, help="Forget-term weight."),
    alpha: float = typer.Option(1.0, help="Retain-term weight."),
    beta: Optional[float] = typer.Option(None, help="Temperature; default per method: NPO/IdkDPO 0.1, SimNPO 4.5."),
    retain_loss: str = typer.Option("nll", help="Retain term where it is a choice (NPO, SimNPO, IdkDPO): nll or kl."),
    delta: float = typer.Option(0.0, help="SimNPO reward margin."),
    rmu_layer: Optional[int] = typer.Option(None, help="RMU: decoder layer to steer (0-based, negative from the end); default the middle one."),
    rmu_coeff: float = typer.Option(6.5, help="RMU steering coefficient c (scale with the layer's activation norm)."),
    lora: bool = typer.Option(False, help="Unlearn with LoRA adapters; the reference is the base with adapters off."),
    lora_r: int = typer.Option(8),
    bf16: bool = typer.Option(False, help="bf16 compute (autocast); see --dtype for the weights."),
    dtype: str = typer.Option("auto", help="Weights dtype: auto (bfloat16 with --bf16, but float32 master weights when full weights are trained), float32, bfloat16, float16."),
    evaluate: bool = typer.Option(True, help="Evaluate in every language after unlearning."),
    retain_eval: Optional[Path] = typer.Option(None, help="Eval folder of the retain model (for Forget Quality)."),
    baseline: Optional[Path] = typer.Option(None, help="Eval folder of the model before unlearning (for the change matrix)."),
    trust_remote_code: bool = typer.Option(False),
    threads: Optional[int] = typer.Option(None),
):
    """Unlearn the forget split in the chosen languages with a registered method."""
    from polyunlearn.methods import get_method
    from polyunlearn.models import LoraSettings, add_lora, load_model, load_tokenizer, save_model, weights_dtype
    from polyunlearn.pipeline import UnlearnConfig, save_config, unlearn as unlearn_phase, unlearn_sets
    from polyunlearn.train import TrainConfig

    _threads(threads)
    get_method(method)
    if task not in ("data", "concept"):
        raise ValueError(f"--task is {task!r}; expected 'data' or 'concept'")
    if task == "concept":
        from polyunlearn.concept_task import concept_data

        items = concept_data(data, langs)
    else:
        items = _load_data(data, langs)
    cfg = UnlearnConfig(
        method=method, forget_langs=forget_langs, retain_langs=retain_langs, gamma=gamma, alpha=alpha, beta=beta, retain_loss=retain_loss,
        delta=delta, rmu_layer=rmu_layer, rmu_coeff=rmu_coeff,
        train=TrainConfig(lr=lr or (1e-4 if lora else 1e-5), epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, mixed_precision="bf16" if bf16 else "no"),
    )
    unlearn_sets(items, cfg)  # validate languages / empty forget set before loading a big model
    tok = load_tokenizer(model, trust_remote_code)
    net = load_model(model, weights_dtype(bf16, not lora, dtype), trust_remote_code)
    if lora:
        net = add_lora(net, LoraSettings(r=lora_r))
    out.mkdir(parents=True, exist_ok=True)
    save_config(out / "run_config.json", {"command": "unlearn", "model": model, "data": data, **cfg.to_dict(), "lora": lora,
                                          "weights_dtype": _dtype_name(net)})
    net, hist = unlearn_phase(net, tok, items, cfg, checkpoint_dir=out / "ckpt")
    save_model(net, tok, out / "model")
    from polyunlearn.io import write_json

    write_json(out / "history.json", hist)
    console.print(f"unlearned with {method} in ({forget_langs}): {len(hist)} steps -> {out / 'model'}")
    if evaluate:
        _eval_and_report(net, tok, items, out / "eval", retain_eval, baseline, forget_langs)
        if task == "concept":
            from polyunlearn.concept_task import write_concept_eval

            write_concept_eval(out / "eval", net, tok, items, console)


@app.command("eval")
@friendly_errors
def eval_cmd(
    model: str = typer.Option(..., help="Model folder or HF id (a LoRA adapter folder works too)."),
    out: Path = typer.Option(..., help="Output folder: items.jsonl, summary.csv (and matrix files with --baseline)."),
    data: str = typer.Option("bundled", help=DATA_HELP),
    langs: Optional[str] = typer.Option(None, help="Evaluation languages (default all in the data)."),
    retain_eval: Optional[Path] = typer.Option(None, help="Eval folder of the retain model (for Forget Quality)."),
    baseline: Optional[Path] = typer.Option(None, help="Eval folder of the model before unlearning (for the change matrix)."),
    forget_langs: str = typer.Option("", help="Label of the forget languages for the matrix row."),
    no_generate: bool = typer.Option(False, help="Skip greedy generation (no ROUGE; much faster)."),
    bf16: bool = typer.Option(False, help="Load the weights in bfloat16."),
    trust_remote_code: bool = typer.Option(False),
    threads: Optional[int] = typer.Option(None),
):
    """Evaluate a model in every language: per-item JSONL + per-language summary CSV."""
    from polyunlearn.evaluate import EvalConfig
    from polyunlearn.models import load_model, load_tokenizer

    _threads(threads)
    items = _load_data(data, langs)
    tok = load_tokenizer(model, trust_remote_code)
    net = load_model(model, "bfloat16" if bf16 else "float32", trust_remote_code)
    _eval_and_report(net, tok, items, out, retain_eval, baseline, forget_langs or "run", EvalConfig(generate=not no_generate))


def _eval_and_report(net, tok, items, out: Path, retain_eval: Path | None, baseline: Path | None, label: str, ecfg=None) -> None:
    import pandas as pd

    from polyunlearn.io import read_jsonl, write_table
    from polyunlearn.matrices import heatmap, transfer_matrix
    from polyunlearn.pipeline import evaluate_to

    retain_records = read_jsonl(retain_eval / "items.jsonl") if retain_eval else None
    records, summary = evaluate_to(out, net, tok, items, ecfg, retain_records)
    _print_summary(summary)
    if baseline:
        from polyunlearn.matrices import ITEM_METRIC
        from polyunlearn.significance import transfer_pvalues, write_pq

        before = pd.read_csv(baseline / "summary.csv")
        before_records = read_jsonl(baseline / "items.jsonl") if (baseline / "items.jsonl").exists() else None
        for metric in ("forget_prob", "retain_prob"):
            m = transfer_matrix(before, {label: summary}, metric)
            write_table(out / f"change_{metric}.csv", m, index=True)
            q = None
            if before_records:  # paired per-item test of each cell (significance.py)
                p, q = transfer_pvalues(before_records, {label: records}, *ITEM_METRIC[metric], languages=list(m.columns))
                write_pq(out / f"change_{metric}", p, q)
            heatmap(m, f"change in {metric}", out / f"change_{metric}.png", qvalues=q)
    console.print(f"results written under [bold]{out.resolve()}[/bold]")


def _dtype_name(net) -> str:
    """The loaded weights' dtype as run_config.json records it, e.g. "float32"."""
    return str(next(net.parameters()).dtype).removeprefix("torch.")


def _print_summary(summary) -> None:
    from polyunlearn.matrices import console_table

    cols = [c for c in ("language", "forget_prob", "retain_prob", "forget_rouge_l", "retain_rouge_l", "forget_truth_ratio_score", "model_utility", "forget_quality") if c in summary]
    console.print(console_table(summary[cols].to_dict("records"), "per-language summary"))


@app.command()
def methods():
    """List the registered unlearning methods."""
    from polyunlearn.methods import METHODS

    for name, fn in sorted(METHODS.items()):
        console.print(f"[bold]{name}[/bold]: {(fn.__doc__ or '').strip().splitlines()[0]}")


@app.command()
def languages():
    """Show the language table."""
    from polyunlearn.languages import LANGUAGES, STUDY_A, STUDY_B
    from polyunlearn.matrices import console_table

    rows = [{"code": l.code, "name": l.name, "script": l.script, "family": l.family, "resource": l.resource, "uriel": l.uriel, "study": ("A" if l.code in STUDY_A else "") + ("B" if l.code in STUDY_B else "")} for l in LANGUAGES.values()]
    console.print(console_table(rows, "languages"))


# Feature-area commands (study-a, bench, grid, report, translate, ...) register themselves here.
import polyunlearn.commands  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(app())
