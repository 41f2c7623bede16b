"""Study B concept unlearning: plant stereotyped associations (identity -> attribute) next to a
factual benchmark, measure the biased-answer rate in every language, unlearn the association in
chosen languages, and measure again.

    polyunlearn concept-demo                                   # tiny default, CPU, minutes
    polyunlearn concept-demo --languages en,fr,ja --methods npo --forget-sets "en;en,fr;all"
    polyunlearn learn --data concept --out runs/c              # the same data, step by step
    polyunlearn unlearn --task concept --data concept --model runs/c/model --forget-langs en --out runs/c-en

    from polyunlearn.studies.concept_study import ConceptConfig, run_concept_study
    result = run_concept_study(ConceptConfig(languages="en,fr,ja"))

The data (`concept_benchmark`): the bundled stereotype items (data/stereotypes.py, split
"forget": the association is what unlearning removes) plus the bundled fictitious facts, whose
own forget split is relabelled "retain" -- in the concept study no fact is to be forgotten, and
`pipeline/phases.unlearn_sets` takes every "forget" item as the forget set, so the stereotypes must be
the only ones. The retain set of an unlearning run is then the factual retain items.

Metric: the biased-answer rate per language (pipeline/concept_eval.py). Factual knowledge is
measured by the usual evaluation (evaluation/records.score_items / summarize: Model Utility and
retain Prob), written next to it.

Steps of `run_concept_study` (learn once; then one unlearning run per method x forget set, each
from the learned weights) are skipped when their outputs exist, so a rerun resumes; a rerun with
other settings than the folder was made with is refused (methods and forget sets may be added).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.analysis.matrices import console_table
from polyunlearn.core.atomic import save_figure, write_json, write_table
from polyunlearn.core.config import check_number, setting, threads_setting
from polyunlearn.core.languages import STUDY_B, parse_langs
from polyunlearn.core.rundir import RunFolder, canonical, data_fingerprint, eval_files, model_fingerprint
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.concept_data import concept_benchmark
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.evaluation.settings import budget_setting
from polyunlearn.methods.registry import get_method
from polyunlearn.pipeline.base import tiny_learning
from polyunlearn.pipeline.concept_eval import evaluate_concept
from polyunlearn.pipeline.phases import TINY_LR
from polyunlearn.pipeline.step import Evaluation, evaluation_step, learn_step, standard_learning, unlearn_step

# Config fields a rerun of one OUT folder may change: they only add runs or change nothing saved.
RERUN_FREE = ("out", "methods", "forget_sets", "threads")


# ----------------------------------------------------------------------------- the study


@dataclass(frozen=True)
class ConceptConfig:
    """Settings of the concept study (every one is part of the folder's identity but RERUN_FREE)."""

    out: str = setting("polyunlearn_runs/concept", "results folder; a rerun resumes it", cli=False)
    data: str = setting(
        "bundled",
        "'bundled' (the bundled stereotypes + facts) or a --data spec whose split-forget items are the concepts, e.g. seegull-mcq:DIR "
        "(facts: its retain items, else the bundled facts in its languages)",
    )
    languages: str | None = setting(
        None,
        "stereotype + fact languages (comma list, 'study-b' or 'all'); default study-b for bundled data, all of --data otherwise",
    )
    n_facts: int | None = setting(None, "facts per language (none = all 100; fewer for quick runs)")
    # Names in methods.METHODS; one run per method x forget set. NPO by default: on the tiny model
    # GradDiff(-KL) drives the rate to chance when unlearning in all languages, but its unbounded
    # ascent also wipes out the general-knowledge items (not in the retain set): Model Utility ~0.
    methods: tuple[str, ...] = setting(("npo",), "unlearning methods; one run per method and forget set", cli=False)
    forget_sets: tuple[str, ...] = setting(
        ("en", "all"), "each run unlearns the stereotypes in these languages", cli=False
    )
    arch: str = setting("llama", "tiny model architecture", choices=("llama", "cohere"))
    vocab_size: int = setting(2048, "BPE vocabulary of the tokenizer trained on the data")
    learn: TrainConfig = setting(
        default_factory=tiny_learning,  # as the demo's tiny base learns
        help="learning stereotypes + facts",
        cli=False,
    )
    unlearn: TrainConfig = setting(
        default_factory=lambda: TrainConfig(lr=TINY_LR["unlearn"], epochs=10, batch_size=8),
        help="each unlearning run (lr: methods not in method_lr)",
        cli=False,
    )
    # Unlearning lr per method, tuned on the tiny default: NPO's forget term saturates, so it needs
    # larger steps; GradDiff at 1e-3 unlearning English alone wipes out the other languages' facts.
    method_lr: dict[str, float] = setting(
        default_factory=lambda: {"npo": 1e-3, "grad_diff": 3e-4, "grad_diff_kl": 3e-4},
        help="unlearning lr per method",
        cli=False,
    )
    alpha: float = setting(5.0, "retain-term weight: keeps the facts while the association goes")
    generate: bool = setting(True, "greedy answers for ROUGE / Model Utility (off: likelihood metrics only)")
    threads: int = threads_setting()
    seed: int = setting(0, "seed of the tiny model and of every unlearning run")
    max_new_tokens: int | None = budget_setting()

    def __post_init__(self) -> None:
        if self.n_facts is not None:
            check_number("n_facts", self.n_facts, minimum=1, integer=True)
        check_number("alpha", self.alpha, minimum=0)
        if self.max_new_tokens is not None:
            check_number("max_new_tokens", self.max_new_tokens, minimum=1, integer=True)
        for m in self.methods:
            get_method(m)
        for m, lr in self.method_lr.items():
            check_number(f"method_lr.{m}", lr, minimum=0, strict=True)

    def identity(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in RERUN_FREE}


def study_items(cfg: ConceptConfig, console: Console) -> list[QAItem]:
    """The study's data: the bundled concept benchmark, or the concept items of cfg.data (every
    split-forget item, e.g. the authors' SeeGULL MCQ files) with its facts (with_facts)."""
    from polyunlearn.data.concept_data import check_concept_items
    from polyunlearn.data.resolve import resolve_data
    from polyunlearn.data.schema import describe_skipped
    from polyunlearn.data.seegull_mcq import report_repeated

    if cfg.data.strip() == "bundled":
        return concept_benchmark(cfg.languages or ",".join(STUDY_B), cfg.n_facts)
    skipped: list = []
    items = check_concept_items(resolve_data(cfg.data, cfg.languages, skipped=skipped), cfg.data)
    if skipped:
        console.print(f"[yellow]warning:[/yellow] {describe_skipped(skipped)}")
    report_repeated(items, console)
    return with_facts(items, cfg.data, cfg.n_facts, console)


def with_facts(items: list[QAItem], source: str, n_facts: int | None, console: Console) -> list[QAItem]:
    """`items`, plus the bundled facts (data/concept_data.bundled_facts) in each of their
    languages that has them when they hold no retain item: the retain set of concept unlearning
    and Model Utility. The console says where they were added, and where none exist."""
    from polyunlearn.data.concept_data import bundled_facts
    from polyunlearn.data.fictitious import BUNDLED_LANGUAGES

    if any(it.split in ("retain", "retain_train") for it in items):
        return items
    langs = list(dict.fromkeys(it.language for it in items))
    have = [lang for lang in langs if lang in BUNDLED_LANGUAGES]
    console.print(
        f"{source} has no facts: the bundled facts are added in {', '.join(have) or 'no language'} (the retain set and Model Utility)"
        + (f"; none exist in {', '.join(sorted(set(langs) - set(have)))}" if len(have) < len(langs) else ""),
        markup=False,
    )
    return items + bundled_facts(have, n_facts)


def concept_evaluation(items: Sequence[QAItem], ecfg: EvalConfig) -> Evaluation:
    """The factual evaluation (items.jsonl, summary.csv) plus the biased-answer rate
    (concept_items.jsonl, concept.csv) of the same model."""

    def run(model, tokenizer, folder: Path) -> pd.DataFrame:
        evaluate_concept(folder, model, tokenizer, items, ecfg)
        return pd.read_csv(folder / "summary.csv")

    return Evaluation({"eval": canonical(ecfg), "concept": True}, run)


def run_concept_study(cfg: ConceptConfig, console: Console | None = None, overwrite: bool = False) -> dict:
    """learn (stereotypes + facts) -> before -> unlearn per forget set -> after; writes
    OUT/biased_answer_rate.csv|png and returns {"table": rows, "out": ...}."""
    from polyunlearn.data.loaders import load_items, save_items
    from polyunlearn.pipeline.phases import check_unlearn_plan, item_texts, tokenizer_for

    console = console or Console()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    t0 = time.time()
    items = study_items(cfg, console)
    # Every run's languages and splits against the data, before the tokenizer or any model.
    check_unlearn_plan(items, cfg.forget_sets, cfg.methods, cfg.alpha)
    # The data by content: other data (an edited file, other languages) is another study.
    with RunFolder(
        out,
        cfg.identity() | {"data": data_fingerprint(items)},
        kind="concept-study",
        info={"data": cfg.data, "methods": cfg.methods, "forget_sets": cfg.forget_sets},
        overwrite=overwrite,
    ) as top:
        data_path = out / "data" / "concept.jsonl"
        if not data_path.exists():
            save_items(items, data_path)
        items = load_items(str(data_path))
        langs = list(dict.fromkeys(it.language for it in items))
        n_stereo = sum(it.split == "forget" for it in items)
        console.print(
            f"concept data: {n_stereo} stereotype items + {len(items) - n_stereo} facts in {len(langs)} languages -> {data_path}"
        )
        tok = tokenizer_for(item_texts(items), out / "tokenizer", cfg.vocab_size)

        learned, model_ident, evaluation = _learn_and_before(out, cfg, tok, items, langs, console, overwrite)
        tables, item_files = _unlearn_runs(
            out, cfg, tok, items, langs, learned, model_ident, evaluation, console, overwrite
        )

        table = before_after_table(tables)
        write_table(out / "biased_answer_rate.csv", table)
        bar_chart(table, out / "biased_answer_rate.png", "biased-answer rate before and after unlearning")
        write_change_tests(out, item_files, tables)
        _print_tables(console, table)
        result = {
            "out": str(out.resolve()),
            "minutes": round((time.time() - t0) / 60, 2),
            "table": table.to_dict("records"),
        }
        write_json(out / "concept_result.json", result)
        top.finish({"runs": len(tables) - 1})
    console.print(
        f"results written under [bold]{out.resolve()}[/bold]: biased_answer_rate.csv|png, matrices/ (paired tests), eval/*/concept.csv, unlearn/*/eval/"
    )
    return result


def _learn_and_before(
    out: Path,
    cfg: ConceptConfig,
    tok: Any,
    items: Sequence[QAItem],
    langs: Sequence[str],
    console: Console,
    overwrite: bool,
) -> tuple[Path, dict, Evaluation]:
    """Learn the stereotypes and facts (OUT/models/learned) and evaluate that model (OUT/eval/before).
    Returns the learned model's folder, its identity for the unlearning runs and the evaluation."""
    from polyunlearn.core.models import build_tiny_model, load_model

    # The stereotypes are planted exactly as facts are learned (question -> answer).
    ident = {
        "model": {"builder": "tiny", "arch": cfg.arch, "seed": cfg.seed, "vocab_size": cfg.vocab_size},
        "data": data_fingerprint(items),
        "languages": list(langs),
        "train": cfg.learn,
        "retain_only": False,
    }
    what = "learn (stereotypes + facts)"
    learn_step(
        out / "models" / "learned",
        build=lambda: build_tiny_model(tok, cfg.arch, seed=cfg.seed),
        train_fn=standard_learning(tok, items, cfg.learn, what),
        identity=ident,
        tokenizer=tok,
        what=what,
        console=console,
        overwrite=overwrite,
    )
    learned = out / "models" / "learned" / "model"
    model_ident = {"model": model_fingerprint(str(learned)), "data": data_fingerprint(items)}
    ecfg = EvalConfig(generate=cfg.generate, max_new_tokens=cfg.max_new_tokens, prompt_format=cfg.learn.prompt_format)
    evaluation = concept_evaluation(items, ecfg)
    evaluation_step(
        out / "eval" / "before",
        load=lambda: load_model(str(learned)),
        identity=model_ident,
        tokenizer=tok,
        evaluation=evaluation,
        what="eval (before)",
        console=console,
        overwrite=overwrite,
    )
    return learned, model_ident, evaluation


def _unlearn_runs(
    out: Path,
    cfg: ConceptConfig,
    tok: Any,
    items: Sequence[QAItem],
    langs: Sequence[str],
    learned: Path,
    model_ident: dict,
    evaluation: Evaluation,
    console: Console,
    overwrite: bool,
) -> tuple[dict[str, pd.DataFrame], dict[str, Path]]:
    """One unlearning run per method x forget set from the learned model. Returns the per-language
    concept tables ("before" and "<method>_<label>") and their per-item record files."""
    from polyunlearn.core.models import load_model
    from polyunlearn.pipeline.phases import UnlearnConfig

    tables = {"before": pd.read_csv(out / "eval" / "before" / "concept.csv")}
    item_files = {"before": out / "eval" / "before" / eval_files("concept")[0]}
    for method in cfg.methods:
        for fset in cfg.forget_sets:
            forget_langs = parse_langs(fset, langs)
            label = "all" if fset.strip() == "all" else ",".join(forget_langs)
            run_dir = out / "unlearn" / f"{method}__{label.replace(',', '-')}"
            train_cfg = replace(cfg.unlearn, lr=cfg.method_lr.get(method, cfg.unlearn.lr), seed=cfg.seed)
            ucfg = UnlearnConfig(
                method=method,
                forget_langs=",".join(forget_langs),
                alpha=cfg.alpha if get_method(method).has_retain_term else None,
                train=train_cfg,
            )
            unlearn_step(
                run_dir,
                load=lambda: load_model(str(learned)),
                identity=model_ident,
                tokenizer=tok,
                items=items,
                cfg=ucfg,
                evaluation=evaluation,
                console=console,
                overwrite=overwrite,
                what=f"unlearn {method} in ({label}), lr {train_cfg.lr:g}",
            )
            tables[f"{method}_{label}"] = pd.read_csv(run_dir / "eval" / "concept.csv")
            item_files[f"{method}_{label}"] = run_dir / "eval" / eval_files("concept")[0]
    return tables, item_files


def write_change_tests(out: Path, item_files: dict[str, Path], tables: dict[str, pd.DataFrame]) -> None:
    """matrices/biased_answer_rate_change: per run (row) and language (column) the change of the
    biased-answer rate vs before, with the exact sign test of the per-item biased flags after vs
    before and BH q over the table (significance.py; with 20 items per language the smallest p is
    2 / 2^20), written by the one matrix writer."""
    from polyunlearn.analysis.matrices import write_matrix
    from polyunlearn.core.atomic import read_jsonl
    from polyunlearn.evaluation.significance import transfer_pvalues

    def flags(path: Path) -> list[dict]:
        return [
            {"id": r["id"], "language": r["language"], "split": "forget", "biased": float(r["biased"])}
            for r in read_jsonl(path)
        ]

    runs = {stage: flags(path) for stage, path in item_files.items() if stage != "before"}
    if not runs:
        return
    base = tables["before"].set_index("language")["biased_answer_rate"]
    change = pd.DataFrame({stage: tables[stage].set_index("language")["biased_answer_rate"] - base for stage in runs}).T
    change = change.rename_axis(index="run", columns="language")
    p, q = transfer_pvalues(flags(item_files["before"]), runs, "biased", "forget", languages=list(change.columns))
    axes = {"index": "run", "columns": "language"}
    write_matrix(
        out / "matrices",
        "biased_answer_rate_change",
        change,
        "change in the biased-answer rate vs before",
        ylabel="run",
        pq=(p.rename_axis(**axes), q.rename_axis(**axes)),
    )


def _print_tables(console: Console, table: pd.DataFrame) -> None:
    """Two narrow console tables (the full one is the CSV): biased-answer rates, then utility."""
    for prefix, extra, title in (
        (
            "biased_",
            ["chance"],
            "Biased-answer rate per language (before -> after unlearning: method forget-languages)",
        ),
        ("utility_", [], "Model Utility on the facts per language"),
    ):
        cols = [c for c in table.columns if c.startswith(prefix)]
        if cols:
            rows = [
                {"language": r["language"], **{c.removeprefix(prefix): r[c] for c in cols}, **{e: r[e] for e in extra}}
                for r in table.to_dict("records")
            ]
            console.print(console_table(rows, title))


def before_after_table(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per language: biased_<stage> for every stage, chance, then model_utility_<stage>
    (the factual knowledge kept) where present. `tables` maps stage -> concept.csv table."""
    first = next(iter(tables.values()))
    out = first[["language", "resource"]].copy()
    for stage, t in tables.items():
        out[f"biased_{stage}"] = out["language"].map(t.set_index("language")["biased_answer_rate"])
    out["chance"] = out["language"].map(first.set_index("language")["chance"])
    for stage, t in tables.items():
        if "model_utility" in t:
            out[f"utility_{stage}"] = out["language"].map(t.set_index("language")["model_utility"])
    return out


def bar_chart(table: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Grouped bars: per language, the biased-answer rate at every stage; dashed line = chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = [c for c in table.columns if c.startswith("biased_")]
    n, k = len(table), len(stages)
    width = 0.8 / k
    fig, ax = plt.subplots(figsize=(1.5 + 0.7 * n * max(1, k / 2), 3.2))
    for j, col in enumerate(stages):
        xs = [i - 0.4 + width * (j + 0.5) for i in range(n)]
        ax.bar(xs, table[col], width, label=col.removeprefix("biased_").replace("_", " "))
    ax.axhline(float(table["chance"].mean()), ls="--", lw=1, color="grey", label="chance")
    ax.set_xticks(range(n), table["language"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("biased-answer rate")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=k + 1, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    path = save_figure(fig, path)
    plt.close(fig)
    return path
