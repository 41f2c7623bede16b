"""`polyunlearn demo`: the whole study on the embedded default, on CPU, in minutes.

Bundled fictitious-facts benchmark (study-B languages) -> byte-level BPE tokenizer trained on it
-> tiny Llama-style model learns every fact -> a retain-only model for Forget Quality ->
unlearning with each method in each forget-language set -> evaluation in every language ->
transfer matrices (CSV + PNG heatmaps), per-item JSONL, per-language CSV, a console table.

Every step writes its outputs atomically and is skipped when they already exist, so an
interrupted demo resumes where it stopped (training itself resumes from its epoch checkpoint).
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.loaders import load_items, save_items
from polyunlearn.data.schema import GENERAL_SPLITS, QAItem
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.core.atomic import write_json
from polyunlearn.core.languages import STUDY_B, parse_langs
from polyunlearn.analysis.matrices import console_table, write_matrices
from polyunlearn.core.models import build_tiny_model, load_model
from polyunlearn.studies.phases import UnlearnConfig, eval_done, evaluate_to, item_texts, learn_or_load, load_eval, save_config, select, tokenizer_for, unlearn
from polyunlearn.core.trainloop import TrainConfig


@dataclass
class DemoConfig:
    out: str = "polyunlearn_runs/demo"  # results folder, under the current folder by default
    languages: str = ",".join(STUDY_B)  # benchmark languages (comma list or "all" = all 16)
    methods: tuple[str, ...] = ("grad_diff_kl", "npo")
    forget_sets: tuple[str, ...] = ("en", "all")  # each run unlearns the forget split in these languages
    arch: str = "llama"  # tiny model architecture: llama or cohere
    vocab_size: int = 2048
    learn: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-3, epochs=15, batch_size=32, schedule="linear", warmup_ratio=0.05))
    unlearn: TrainConfig = field(default_factory=lambda: TrainConfig(lr=3e-4, epochs=10, batch_size=8))
    alpha: float = 5.0  # retain-term weight; the tiny model needs a strong retain term to stay selective
    retain_tolerance: float = 0.15  # mean retain Prob over the unlearned languages may fall by at most this (absolute)
    forget_target: float = 0.5  # forget Prob must fall below this fraction of its value before
    threads: int = 1  # torch threads; tiny models gain nothing from more, and lose a lot when cores are busy
    seed: int = 0


@dataclass
class Base:
    """What every unlearning run starts from: the benchmark, its tokenizer, the learned model's
    folder, the retain model's eval records (for Forget Quality) and summary (its attack AUC is
    the target), and the summary (and per-item records, for paired tests) before unlearning."""

    items: list[QAItem]
    langs: list[str]
    tokenizer: Any
    learned_path: Path
    retain_records: list[dict]
    before: pd.DataFrame
    before_records: list[dict] = field(default_factory=list)
    retain_summary: pd.DataFrame | None = None


def prepare_base(out: Path, cfg: DemoConfig, console: Console, items: Sequence[QAItem] | None = None, ecfg: EvalConfig | None = None) -> Base:
    """Steps 1-3 of the demo, shared with `polyunlearn grid`: benchmark file (`items`, default the
    bundled one in cfg.languages), tokenizer, learned + retain tiny models, their evaluations.
    Each step is skipped when its output exists under `out`."""
    # 1. data (bundled unless given; written once so every later step and the user read the same file)
    data_path = out / "data" / "benchmark.jsonl"
    if not data_path.exists():
        save_items(list(items) if items is not None else bundled_benchmark(parse_langs(cfg.languages)), data_path)
    items = load_items(str(data_path))
    langs = list(dict.fromkeys(it.language for it in items))
    console.print(f"benchmark: {len(items)} items in {len(langs)} languages ({', '.join(langs)}) -> {data_path}")

    # 2. tokenizer trained on all benchmark text
    tok = tokenizer_for(item_texts(items), out / "tokenizer", cfg.vocab_size)

    # 3. the learned model (all splits) and the retain model (never sees the forget split)
    build = lambda: build_tiny_model(tok, cfg.arch, seed=cfg.seed)  # noqa: E731
    learned = learn_or_load(out / "models" / "learned", build, items, cfg.learn, tok, console, "learn (all facts)")
    retain_items = select(items, ["retain", *GENERAL_SPLITS])
    retain_model = learn_or_load(out / "models" / "retain", build, retain_items, cfg.learn, tok, console, "learn (retain model)")

    ecfg = ecfg or EvalConfig()
    if not eval_done(out / "eval" / "retain_model"):
        evaluate_to(out / "eval" / "retain_model", retain_model, tok, items, ecfg)
    retain_records, retain_summary = load_eval(out / "eval" / "retain_model")
    if not eval_done(out / "eval" / "before"):
        evaluate_to(out / "eval" / "before", learned, tok, items, ecfg, retain_records)
    before_records, before = load_eval(out / "eval" / "before")
    return Base(items, langs, tok, out / "models" / "learned", retain_records, before, before_records, retain_summary)


def run_demo(cfg: DemoConfig, console: Console | None = None) -> dict:
    console = console or Console()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    save_config(out / "config.json", asdict(cfg))

    base = prepare_base(out, cfg, console)
    items, langs, tok, retain_records, before = base.items, base.langs, base.tokenizer, base.retain_records, base.before
    ecfg = EvalConfig()
    known = float(before["forget_prob"].min())
    console.print(
        f"before unlearning: forget Prob {before['forget_prob'].mean():.3f} (lowest language {known:.3f}), "
        f"retain Prob {before['retain_prob'].mean():.3f}"
    )
    if known < 0.5:
        # Unlearning facts the model never learned measures nothing; say so loudly.
        console.print(f"[bold yellow]warning:[/bold yellow] the facts are not learned in every language (forget Prob {known:.3f} < 0.5); raise --learn-epochs")

    # 4. unlearning runs, each from the learned weights
    summaries: dict[str, dict[str, pd.DataFrame]] = {}
    item_records: dict[str, dict[str, list[dict]]] = {}  # per-item records, for the paired tests
    checks: list[dict] = []
    for method in cfg.methods:
        for fset in cfg.forget_sets:
            forget_langs = parse_langs(fset, langs)
            label = "all" if fset == "all" else ",".join(forget_langs)
            run_dir = out / "unlearn" / f"{method}__{label.replace(',', '-')}"
            if not eval_done(run_dir / "eval"):
                t = time.time()
                ucfg = UnlearnConfig(method=method, forget_langs=fset, alpha=cfg.alpha, train=cfg.unlearn)
                save_config(run_dir / "config.json", ucfg.to_dict())
                model = load_model(str(out / "models" / "learned"))
                model, hist = unlearn(model, tok, items, ucfg, checkpoint_dir=run_dir / "ckpt")
                evaluate_to(run_dir / "eval", model, tok, items, ecfg, retain_records)
                write_json(run_dir / "history.json", hist)
                shutil.rmtree(run_dir / "ckpt", ignore_errors=True)
                console.print(f"unlearn {method} in ({label}): {len(hist)} steps ({time.time() - t:.0f}s)")
            after_records, after = load_eval(run_dir / "eval")
            summaries.setdefault(method, {})[label] = after
            item_records.setdefault(method, {})[label] = after_records
            checks.append(_check(method, label, forget_langs, before, after, cfg, base.retain_summary))

    # 5. matrices, heatmaps, console table
    written = []
    for method, runs in summaries.items():
        highlight = {label: (langs if label == "all" else label.split(",")) for label in runs}
        records = (base.before_records, item_records[method])
        written += list(write_matrices(out / "matrices", before, runs, method, highlight, records).values())
    result = {
        "out": str(out.resolve()),
        "minutes_this_invocation": round((time.time() - t0) / 60, 2),
        "checks": checks,
        "forgetting_shown": all(c["forgot"] and c["kept"] for c in checks),
    }
    write_json(out / "demo_result.json", result)
    headers = {
        "forget_langs": "langs",
        "forget_prob_before": "forget P before",
        "forget_prob_after": "forget P after",
        "retain_prob_before": "retain P before",
        "retain_prob_after": "retain P after",
        "forget_prob_other_langs": "forget P other langs",
    }
    # Two tables, so that each fits an 80-column terminal or CI log.
    mia = ("mia_auc_before", "mia_auc_after", "mia_auc_retain_model")
    console.print(console_table([{k: v for k, v in c.items() if k not in mia} for c in checks], "Mean over the unlearned languages (other langs: the rest)", headers))
    if any("mia_auc_after" in c for c in checks):
        rows = [{"method": c["method"], "forget_langs": c["forget_langs"], **{k: c.get(k) for k in mia}} for c in checks]
        console.print(console_table(rows, "Membership attack: loss AUC forget vs holdout (0.5 = hidden, < 0.5 = over-unlearned)",
                                    {"forget_langs": "langs", "mia_auc_before": "before", "mia_auc_after": "after", "mia_auc_retain_model": "retain model"}))
    console.print(
        f"forgetting shown: {'yes' if result['forgetting_shown'] else 'NO'} "
        f"(forget Prob below {cfg.forget_target:.0%} of before; retain Prob within {cfg.retain_tolerance:.2f})"
    )
    from polyunlearn.analysis.report import build_report

    report = build_report(out)
    console.print(f"results written under [bold]{out.resolve()}[/bold]: eval/*/summary.csv, unlearn/*/eval/items.jsonl, matrices/*.csv|png")
    console.print(f"open the report: [bold]{report.resolve()}[/bold]")
    return result


def _check(method: str, label: str, forget_langs: list[str], before: pd.DataFrame, after: pd.DataFrame, cfg: DemoConfig,
           retain_summary: pd.DataFrame | None = None) -> dict:
    b = before.set_index("language").loc[forget_langs]
    a = after.set_index("language").loc[forget_langs]
    row = {
        "method": method,
        "forget_langs": label,
        "forget_prob_before": float(b["forget_prob"].mean()),
        "forget_prob_after": float(a["forget_prob"].mean()),
        "retain_prob_before": float(b["retain_prob"].mean()),
        "retain_prob_after": float(a["retain_prob"].mean()),
    }
    others = after.set_index("language").drop(index=forget_langs, errors="ignore")
    # Transfer to the languages that were not unlearned (None when the run covered them all).
    row["forget_prob_other_langs"] = float(others["forget_prob"].mean()) if len(others) else None
    if "mia_loss_auc" in a and "mia_loss_auc" in b:
        # Loss-attack AUC forget vs holdout: ~1 = membership plain to see, 0.5 = hidden,
        # well below 0.5 = over-unlearned (the facts now look rarer than never-seen ones).
        row["mia_auc_before"] = float(b["mia_loss_auc"].mean())
        row["mia_auc_after"] = float(a["mia_loss_auc"].mean())
        if retain_summary is not None and "mia_loss_auc" in retain_summary:
            row["mia_auc_retain_model"] = float(retain_summary.set_index("language").loc[forget_langs, "mia_loss_auc"].mean())
    row["forgot"] = row["forget_prob_after"] < cfg.forget_target * row["forget_prob_before"]
    row["kept"] = row["retain_prob_before"] - row["retain_prob_after"] <= cfg.retain_tolerance
    return row
