"""CLI steps: `learn`, `unlearn`, `eval`: one phase of a study each, on any model and data.

    polyunlearn learn --model tiny --out runs/learned
    polyunlearn unlearn --model runs/learned/model --method npo --forget-langs en --out runs/npo-en
    polyunlearn eval --model runs/npo-en/model --out runs/npo-en/eval --baseline runs/learned/eval
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli.root import STEPS, app, console, friendly_errors, load_data, set_threads
from polyunlearn.core.config import field_help
from polyunlearn.data.resolve import DATA_HELP
from polyunlearn.evaluation.settings import EvalConfig


@app.command(rich_help_panel=STEPS)
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
    from polyunlearn.core.models import LoraSettings, add_lora, build_tiny_model, load_model, load_tokenizer, save_model, train_tokenizer, weights_dtype
    from polyunlearn.studies.phases import default_lr, evaluate_to, item_texts, learn as learn_phase, save_config, select
    from polyunlearn.core.trainloop import TrainConfig

    set_threads(threads)
    items = load_data(data, langs)
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
    lr = lr if lr is not None else default_lr("learn", tiny, lora)
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


@app.command(rich_help_panel=STEPS)
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
    alpha: Optional[float] = typer.Option(None, help="Retain-term weight; default 1.0 for methods with a retain term."),
    beta: Optional[float] = typer.Option(None, help="Temperature; default per method: NPO/IdkDPO 0.1, SimNPO 4.5."),
    retain_loss: Optional[str] = typer.Option(None, help="Retain term where it is a choice (NPO, SimNPO, IdkDPO): nll (default) or kl."),
    delta: Optional[float] = typer.Option(None, help="SimNPO reward margin (default 0)."),
    rmu_layer: Optional[int] = typer.Option(None, help="RMU: decoder layer to steer (0-based, negative from the end); default the middle one."),
    rmu_coeff: Optional[float] = typer.Option(None, help="RMU steering coefficient c (default 6.5; scale with the layer's activation norm)."),
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
    from polyunlearn.methods.registry import get_method
    from polyunlearn.core.models import LoraSettings, add_lora, load_model, load_tokenizer, save_model, weights_dtype
    from polyunlearn.studies.phases import UnlearnConfig, default_lr, save_config, unlearn as unlearn_phase, unlearn_sets
    from polyunlearn.core.trainloop import TrainConfig

    set_threads(threads)
    get_method(method)
    if task not in ("data", "concept"):
        raise ValueError(f"--task is {task!r}; expected 'data' or 'concept'")
    if task == "concept":
        from polyunlearn.data.concept_data import check_concept_items

        # 'bundled' means the bundled concept set here: stereotypes + facts.
        items = check_concept_items(load_data("concept" if data.strip() == "bundled" else data, langs), data)
    else:
        items = load_data(data, langs)
    given = {"beta": beta, "retain_loss": retain_loss, "delta": delta, "rmu_layer": rmu_layer, "rmu_coeff": rmu_coeff}
    cfg = UnlearnConfig(
        method=method, forget_langs=forget_langs, retain_langs=retain_langs, gamma=gamma, alpha=alpha, params={k: v for k, v in given.items() if v is not None},
        train=TrainConfig(lr=lr if lr is not None else default_lr("unlearn", False, lora), epochs=epochs, batch_size=batch_size, grad_accum=grad_accum, mixed_precision="bf16" if bf16 else "no"),
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
    from polyunlearn.core.atomic import write_json

    write_json(out / "history.json", hist)
    console.print(f"unlearned with {method} in ({forget_langs}): {len(hist)} steps -> {out / 'model'}")
    if evaluate:
        _eval_and_report(net, tok, items, out / "eval", retain_eval, baseline, forget_langs)
        if task == "concept":
            from polyunlearn.studies.concept_study import write_concept_eval

            write_concept_eval(out / "eval", net, tok, items, console)


@app.command("eval", rich_help_panel=STEPS)
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
    max_new_tokens: int = typer.Option(0, help=field_help(EvalConfig, "max_new_tokens")),
    eval_batch_tokens: int = typer.Option(EvalConfig.eval_batch_tokens, help=field_help(EvalConfig, "eval_batch_tokens")),
    generation_backend: str = typer.Option("hf", help=field_help(EvalConfig, "generation_backend") + " See docs/real_scale.md."),
    bf16: bool = typer.Option(False, help="Load the weights in bfloat16."),
    trust_remote_code: bool = typer.Option(False),
    threads: Optional[int] = typer.Option(None),
):
    """Evaluate a model in every language: per-item JSONL + per-language summary CSV."""
    from polyunlearn.core.encoding import Encoder
    from polyunlearn.core.models import load_model, load_tokenizer
    from polyunlearn.evaluation.records import generation_budget

    set_threads(threads)
    # Settings are checked before data or model are loaded.
    ecfg = EvalConfig(generate=not no_generate, max_new_tokens=max_new_tokens, eval_batch_tokens=eval_batch_tokens, generation_backend=generation_backend, model_source=model)
    if ecfg.generate and ecfg.generation_backend == "vllm":
        from polyunlearn.evaluation.vllm_backend import check_vllm_environment

        check_vllm_environment(model)
    items = load_data(data, langs)
    tok = load_tokenizer(model, trust_remote_code)
    net = load_model(model, "bfloat16" if bf16 else "float32", trust_remote_code)
    if ecfg.generate:
        console.print(f"greedy answers: up to {generation_budget(ecfg, Encoder(tok, ecfg.max_length), items)[1]} new tokens")
    _eval_and_report(net, tok, items, out, retain_eval, baseline, forget_langs or "run", ecfg)


def _eval_and_report(net, tok, items, out: Path, retain_eval: Path | None, baseline: Path | None, label: str, ecfg=None) -> None:
    import pandas as pd

    from polyunlearn.core.atomic import read_jsonl, write_table
    from polyunlearn.analysis.matrices import heatmap, transfer_matrix
    from polyunlearn.studies.phases import evaluate_to

    retain_records = read_jsonl(retain_eval / "items.jsonl") if retain_eval else None
    records, summary = evaluate_to(out, net, tok, items, ecfg, retain_records)
    _print_summary(summary)
    if baseline:
        from polyunlearn.analysis.matrices import ITEM_METRIC
        from polyunlearn.evaluation.significance import transfer_pvalues, write_pq

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
    from polyunlearn.analysis.matrices import console_table

    cols = [c for c in ("language", "forget_prob", "retain_prob", "forget_rouge_l", "retain_rouge_l", "forget_truth_ratio_score", "model_utility", "forget_quality") if c in summary]
    console.print(console_table(summary[cols].to_dict("records"), "per-language summary"))

