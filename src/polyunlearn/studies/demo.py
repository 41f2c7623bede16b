"""`polyunlearn demo`: the whole study on the embedded default, on CPU, in minutes.

Bundled fictitious-facts benchmark (study-B languages) -> byte-level BPE tokenizer trained on it
-> tiny Llama-style model learns every fact -> a retain-only model for Forget Quality ->
unlearning with each method in each forget-language set -> evaluation in every language ->
transfer matrices (CSV + PNG heatmaps), per-item JSONL, per-language CSV, a console table.

Every step is a run folder of its own (core/rundir.py; the shared steps of pipeline/step.py), so
an interrupted demo resumes where it stopped and a rerun with other settings is refused with the
differing settings named (--overwrite redoes it). Layout of OUT:
    run.json, done.json          the demo's own identity and done-marker
    data/benchmark.jsonl         the benchmark every step reads; tokenizer/
    models/learned/, models/retain/    learn runs (model/ inside)
    eval/before/, eval/retain_model/   evaluation runs (items.jsonl, summary.csv)
    unlearn/<method>__<langs>/         unlearning runs (eval/, history.json, curves.csv|png: pipeline/epoch_eval.py)
    matrices/, demo_result.json, report.html
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.analysis.epoch_curves import SELECT_RULES
from polyunlearn.analysis.matrices import console_table, write_matrices
from polyunlearn.analysis.report import build_report
from polyunlearn.core.atomic import write_json
from polyunlearn.core.config import check_choice, check_number, setting, threads_setting
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import load_model
from polyunlearn.core.rundir import ITEMS_FILE, SUMMARY_FILE, RunFolder, data_fingerprint, load_eval
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.resolve import resolve_data
from polyunlearn.data.schema import QAItem, describe_skipped
from polyunlearn.data.seegull_mcq import report_repeated
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.evaluation.settings import budget_setting
from polyunlearn.methods.registry import get_method
from polyunlearn.pipeline.base import (
    TINY_ALPHA,
    TINY_ARCHS,
    Base,
    BaseConfig,
    prepare_base,
    tiny_learning,
    tiny_unlearning,
)
from polyunlearn.pipeline.epoch_eval import CurveEvaluation
from polyunlearn.pipeline.phases import UnlearnConfig, check_unlearn_plan
from polyunlearn.pipeline.step import standard_evaluation, unlearn_step
from polyunlearn.probes.attack import AttackConfig, run_attacks

# Settings that may change between reruns of one OUT: they add runs or change nothing saved.
RERUN_FREE = ("out", "methods", "forget_sets", "threads", "attacks")


@dataclass(frozen=True)
class DemoConfig:
    """The demo's settings (every one is part of the folder's identity but RERUN_FREE)."""

    out: str = setting("polyunlearn_runs/demo", "results folder, under the current folder by default", cli=False)
    data: str = setting(
        "bundled",
        "'bundled' (the bundled benchmark) or any --data spec, e.g. the Multilingual Amnesia folders tofu:DIR:forget01 (every language in it)",
    )
    languages: str | None = setting(
        None, "benchmark languages (comma list, 'study-b' or 'all'); default study-b (bundled) or all of --data"
    )
    methods: tuple[str, ...] = setting(("grad_diff_kl", "npo"), "unlearning methods", cli=False)
    forget_sets: tuple[str, ...] = setting(
        ("en", "all"), "forget-language sets: each run unlearns the forget split in these languages", cli=False
    )
    arch: str = setting("llama", "tiny model architecture", choices=TINY_ARCHS)
    vocab_size: int = setting(2048, "BPE vocabulary of the tokenizer trained on the benchmark")
    learn: TrainConfig = setting(default_factory=tiny_learning, help="learning the facts", cli=False)
    unlearn: TrainConfig = setting(default_factory=tiny_unlearning, help="each unlearning run", cli=False)
    alpha: float = setting(
        TINY_ALPHA, "retain-term weight; the tiny model needs a strong retain term to stay selective"
    )
    retain_tolerance: float = setting(
        0.15, "mean retain Prob over the unlearned languages may fall by at most this (absolute)"
    )
    forget_target: float = setting(0.5, "forget Prob must fall below this fraction of its value before")
    eval_every: int = setting(
        1,
        "evaluate the forget and retain sets of every language every N unlearning epochs (0 = never): unlearn/*/curves.csv|png",
    )
    select: str = setting(
        "last",
        "which evaluated epoch's model is each run's result: last, first-below-retain or best-fq-mu (see `unlearn --help`)",
        choices=SELECT_RULES,
    )
    curve_retain_items: int = setting(
        10, "retain items per language in each per-epoch evaluation (0 = all 90); the forget split is always whole"
    )
    threads: int = threads_setting()
    seed: int = setting(0, "seed of the tiny model's initialisation")
    attacks: tuple[str, ...] = setting(
        (), "adversarial probes (probes/attack.py) run on every unlearning run after it", cli=False
    )
    max_new_tokens: int | None = budget_setting()

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, TINY_ARCHS)
        check_number("vocab_size", self.vocab_size, minimum=300, integer=True)
        check_number("alpha", self.alpha, minimum=0)
        check_number("retain_tolerance", self.retain_tolerance, minimum=0)
        check_number("forget_target", self.forget_target, minimum=0, strict=True)
        check_number("threads", self.threads, minimum=1, integer=True)
        if self.max_new_tokens is not None:
            check_number("max_new_tokens", self.max_new_tokens, minimum=1, integer=True)
        check_number("eval_every", self.eval_every, minimum=0, integer=True)
        check_number("curve_retain_items", self.curve_retain_items, minimum=0, integer=True)
        check_choice("select", self.select, SELECT_RULES)
        if not self.methods or not self.forget_sets:
            raise ValueError("the demo needs at least one method and one forget set")
        for m in self.methods:
            get_method(m)  # a typo fails before any training

    def identity(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in RERUN_FREE}

    def base(self) -> BaseConfig:
        """The settings of the tiny base every unlearning run starts from (pipeline/base.py)."""
        return BaseConfig(self.languages, self.arch, self.vocab_size, self.seed, self.learn, self.max_new_tokens)


def run_demo(cfg: DemoConfig, console: Console | None = None, overwrite: bool = False) -> dict:
    console = console or Console()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    t0 = time.time()
    items = demo_items(cfg, console)
    # Every run's languages and splits against the data, before the tokenizer or any model.
    check_unlearn_plan(items, cfg.forget_sets, cfg.methods, cfg.alpha)
    # The data by content: an edited file or other languages are another demo (refused, or redone with overwrite).
    with RunFolder(
        out,
        cfg.identity() | {"data": data_fingerprint(items)},
        kind="demo",
        info={"data": cfg.data, "methods": cfg.methods, "forget_sets": cfg.forget_sets},
        overwrite=overwrite,
    ) as top:
        base = prepare_base(out, cfg.base(), console, items=items, overwrite=overwrite)
        summaries, item_records, checks = _unlearning_runs(out, cfg, base, console, overwrite)
        attacks = _attacks(out, cfg, checks, console, overwrite) if cfg.attacks else None
        result = _write_results(out, cfg, base, summaries, item_records, checks, t0, console, attacks)
        top.finish({"forgetting_shown": result["forgetting_shown"]})
    return result


def demo_items(cfg: DemoConfig, console: Console) -> list[QAItem]:
    """The demo's benchmark: the bundled one in cfg.languages, or cfg.data (skipped rows said)."""
    if cfg.data.strip() == "bundled":
        return bundled_benchmark(parse_langs(cfg.languages or "study-b"))

    skipped: list = []
    items = resolve_data(cfg.data, cfg.languages, skipped=skipped)
    if skipped:
        console.print(f"[yellow]warning:[/yellow] {describe_skipped(skipped)}")
    report_repeated(items, console)
    return items


def _unlearning_runs(out: Path, cfg: DemoConfig, base: Base, console: Console, overwrite: bool):
    """Step 4: one unlearning run per method x forget set, each from the learned weights."""
    before = base.before
    known = float(before["forget_prob"].min())
    console.print(
        f"before unlearning: forget Prob {before['forget_prob'].mean():.3f} (lowest language {known:.3f}), retain Prob {before['retain_prob'].mean():.3f}"
    )
    if known < 0.5:
        # Unlearning facts the model never learned measures nothing; say so loudly.
        console.print(
            f"[bold yellow]warning:[/bold yellow] the facts are not learned in every language (forget Prob {known:.3f} < 0.5); raise --learn-epochs"
        )
    summaries: dict[str, dict[str, pd.DataFrame]] = {}
    item_records: dict[str, dict[str, list[dict]]] = {}  # per-item records, for the paired tests
    checks: list[dict] = []
    ecfg = EvalConfig(max_new_tokens=cfg.max_new_tokens)
    evaluation = standard_evaluation(base.items, ecfg, base.retain_records)
    curves = CurveEvaluation(base.items, ecfg, base.retain_records)  # per-epoch, with --eval-every
    for method in cfg.methods:
        for fset in cfg.forget_sets:
            forget_langs = parse_langs(fset, base.langs)
            label = "all" if fset == "all" else ",".join(forget_langs)
            ucfg = UnlearnConfig(
                method=method,
                forget_langs=fset,
                alpha=cfg.alpha if get_method(method).has_retain_term else None,
                train=cfg.unlearn,
                eval_every=cfg.eval_every,
                select=cfg.select,
                curve_retain_items=cfg.curve_retain_items,
            )
            run_dir = out / "unlearn" / f"{method}__{label.replace(',', '-')}"
            unlearn_step(
                run_dir,
                load=lambda: load_model(str(base.learned_path)),
                identity=base.model_identity(),
                tokenizer=base.tokenizer,
                items=base.items,
                cfg=ucfg,
                evaluation=evaluation,
                console=console,
                overwrite=overwrite,
                what=f"unlearn {method} in ({label})",
                curves=curves,
                info={"retain_eval": str((out / "eval" / "retain_model").resolve())},  # read back by `attack`
            )
            after_records, after = load_eval(run_dir / "eval")
            summaries.setdefault(method, {})[label] = after
            item_records.setdefault(method, {})[label] = after_records
            checks.append(_check(method, label, forget_langs, before, after, cfg, base.retain_summary))
    return summaries, item_records, checks


def _attacks(out: Path, cfg: DemoConfig, checks: list[dict], console: Console, overwrite: bool) -> dict:
    """Step 4b (--attacks): the probes on each unlearning run of this invocation; per run, the
    CPU seconds and the console summary's mean recovery (RUN_DIR/attacks/ has the rest)."""
    found = {}
    for c in checks:
        run_dir = out / "unlearn" / f"{c['method']}__{c['forget_langs'].replace(',', '-')}"
        t = time.process_time()
        manifest = run_attacks(run_dir, AttackConfig(probes=cfg.attacks), console, overwrite=overwrite)
        found[run_dir.name] = {
            "cpu_seconds": round(time.process_time() - t, 1),
            "matrices": str(run_dir / "attacks" / "matrices"),
            "robustness": manifest.get("robustness"),
            "notes": manifest["notes"],
        }
    return found


def _write_results(
    out: Path,
    cfg: DemoConfig,
    base: Base,
    summaries,
    item_records,
    checks,
    t0: float,
    console: Console,
    attacks: dict | None = None,
) -> dict:
    """Step 5: matrices, heatmaps, demo_result.json, console tables, the report."""
    for method, runs in summaries.items():
        highlight = {label: (base.langs if label == "all" else label.split(",")) for label in runs}
        write_matrices(
            out / "matrices", base.before, runs, method, highlight, (base.before_records, item_records[method])
        )
    result = {
        "out": str(out.resolve()),
        "minutes_this_invocation": round((time.time() - t0) / 60, 2),
        "checks": checks,
        "forgetting_shown": all(c["forgot"] and c["kept"] for c in checks),
    }
    if attacks is not None:
        result["attacks"] = attacks
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
    console.print(
        console_table(
            [{k: v for k, v in c.items() if not k.startswith("mia_")} for c in checks],
            "Mean over the unlearned languages (other langs: the rest)",
            headers,
        )
    )
    if (table := mia_table(checks)) is not None:
        console.print(table)
    console.print(
        f"forgetting shown: {'yes' if result['forgetting_shown'] else 'NO'} "
        f"(forget Prob below {cfg.forget_target:.0%} of before; retain Prob within {cfg.retain_tolerance:.2f})"
    )

    report = build_report(out)
    console.print(
        f"results written under [bold]{out.resolve()}[/bold]: eval/*/{SUMMARY_FILE}, unlearn/*/eval/{ITEMS_FILE}, matrices/*.csv|png"
    )
    console.print(f"open the report: [bold]{report.resolve()}[/bold]")
    return result


# The membership attacks of the demo's result (mean over the unlearned languages), the first one
# present shown on the console: Min-K% (k = 0.4, as README discusses), else the loss attack.
MIA_SHOWN = (("mia_min_k_auc", "Min-K% AUC (k = 0.4)"), ("mia_loss_auc", "loss AUC"))


def mia_table(checks: list[dict]):
    """The console table of the membership attack (the first of MIA_SHOWN in the checks), or None."""
    for column, name in MIA_SHOWN:
        if any(f"{column}_after" in c for c in checks):
            parts = {f"{column}_before": "before", f"{column}_after": "after", f"{column}_retain_model": "retain model"}
            rows = [
                {"method": c["method"], "forget_langs": c["forget_langs"], **{k: c.get(k) for k in parts}}
                for c in checks
            ]
            return console_table(
                rows,
                f"Membership attack: {name} forget vs holdout (0.5 = hidden, < 0.5 = over-unlearned)",
                {"forget_langs": "langs", **parts},
            )
    return None


def _check(
    method: str,
    label: str,
    forget_langs: list[str],
    before: pd.DataFrame,
    after: pd.DataFrame,
    cfg: DemoConfig,
    retain_summary: pd.DataFrame | None = None,
) -> dict:
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
    for column, _ in MIA_SHOWN:
        if column in a and column in b:
            # Attack AUC forget vs holdout: ~1 = membership plain to see, 0.5 = hidden,
            # well below 0.5 = over-unlearned (the facts now look rarer than never-seen ones).
            row[f"{column}_before"] = float(b[column].mean())
            row[f"{column}_after"] = float(a[column].mean())
            if retain_summary is not None and column in retain_summary:
                row[f"{column}_retain_model"] = float(
                    retain_summary.set_index("language").loc[forget_langs, column].mean()
                )
    row["forgot"] = row["forget_prob_after"] < cfg.forget_target * row["forget_prob_before"]
    row["kept"] = row["retain_prob_before"] - row["retain_prob_after"] <= cfg.retain_tolerance
    return row
