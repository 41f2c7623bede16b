"""CLI studies: `demo` (study B on the embedded default), `study-a` (misinformation),
`concept-demo` (concept unlearning) and `grid` (a resumable grid of unlearning runs). Each maps
options to one module of polyunlearn.studies.

    polyunlearn demo
    polyunlearn study-a --fake-langs en,zh,ru --out runs/sa
    polyunlearn concept-demo --languages en,fr,ja --n-facts 20
    polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml
    polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml --executor ray --address auto
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape

from polyunlearn.cli.options import (
    LOG_WITH,
    LORA_ALPHA,
    LORA_DROPOUT,
    LORA_R,
    LORA_TARGETS,
    MAX_NEW_TOKENS,
    PRESET_HELP,
    config_options,
    threads_option,
    with_options,
    with_preset,
)
from polyunlearn.cli.root import STUDIES, app, console, friendly_errors
from polyunlearn.pipeline.phases import lr_rule
from polyunlearn.studies.demo import DemoConfig
from polyunlearn.studies.grid_exec import ExecConfig

OVERWRITE = typer.Option(False, "--overwrite", help="Redo everything in OUT, even runs made with the same settings.")


def _sets(text: str, sep: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(sep) if x.strip())


_DEMO_LANGUAGES = (
    "benchmark languages: comma list, 'study-b' (10), or 'all'; default study-b (bundled) or all of --data"
)


@app.command(rich_help_panel=STUDIES)
@friendly_errors
@with_options(demo=config_options(DemoConfig, overrides={"languages": (None, _DEMO_LANGUAGES)}))
def demo(
    out: Path = typer.Option(Path("polyunlearn_runs/demo"), help="Results folder (created under the current folder)."),
    methods: str = typer.Option("grad_diff_kl,npo", help="Unlearning methods, comma list."),
    forget_sets: str = typer.Option(
        "en;all", help="Forget-language sets separated by ';' (each a comma list or 'all')."
    ),
    learn_epochs: int = typer.Option(15, help="Epochs to learn the facts."),
    unlearn_epochs: int = typer.Option(10, help="Unlearning epochs."),
    unlearn_lr: float = typer.Option(3e-4, help="Unlearning learning rate (tiny model)."),
    attacks: str = typer.Option(
        "",
        "--attacks",
        help="Adversarial probes on every unlearning run after it (see `polyunlearn attack`), comma list, e.g. quant,relearn; 'all' for every probe.",
    ),
    overwrite: bool = OVERWRITE,
    demo: dict = None,
):
    """Run the whole study on the embedded default (bundled data + tiny model) and write results."""
    from polyunlearn.core.languages import parse_langs
    from polyunlearn.probes.catalog import parse_probes
    from polyunlearn.studies.demo import run_demo

    d = DemoConfig()
    langs = demo["languages"]
    if langs and demo["data"].strip() == "bundled":
        langs = ",".join(parse_langs(langs))  # checked now; other data checks its languages when loaded
    cfg = DemoConfig(
        out=str(out),
        methods=_sets(methods, ","),
        forget_sets=_sets(forget_sets, ";"),
        **(demo | {"languages": langs}),
        learn=replace(d.learn, epochs=learn_epochs),
        unlearn=replace(d.unlearn, epochs=unlearn_epochs, lr=unlearn_lr),
        attacks=parse_probes(attacks) if attacks else (),
    )
    result = run_demo(cfg, console, overwrite=overwrite)
    if not result["forgetting_shown"]:
        raise typer.Exit(1)


@app.command("study-a", rich_help_panel=STUDIES)
@friendly_errors
@with_preset("study-a")
def study_a(
    out: Path = typer.Option(Path("polyunlearn_runs/study_a"), help="Results folder; a rerun resumes it."),
    fake_lang: str = typer.Option("ru", help="Language the fake news documents are written in."),
    fake_langs: str | None = typer.Option(
        None, help="Several fake languages (comma list): one contaminated model each; overrides --fake-lang."
    ),
    languages: str | None = typer.Option(
        None,
        help="Corpus and query languages: comma list, 'study-a' (9) or 'all'; default study-a (bundled) or all of --data.",
    ),
    data: str = typer.Option(
        "bundled",
        help="'bundled'; a news table (a 'kind' column, data/news.py); or the news-truthful shape: the hub id "
        "TaiMingLu/news-truthful or a local file like it (.json/.jsonl/.csv/.parquet; data/news_truthful.py), several combined with ' + '.",
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="News-truthful data whose columns have other names: ours=theirs, comma list (e.g. fake_keyword=keyword,real_news=article).",
    ),
    forget_sets: str = typer.Option(
        "en;source;en+source;all",
        help="Forget-language sets separated by ';': 'en', 'source' (= the fake language), 'en+source', 'all', 'de+fr'...",
    ),
    method: str = typer.Option("npo", help="Unlearning method (see `polyunlearn methods`)."),
    model: str = typer.Option("tiny", help="'tiny' / 'tiny-cohere' (built here) or a HF model id / local path."),
    lora: bool = typer.Option(
        False, help="Train LoRA adapters in every phase (merged after learning) instead of all weights."
    ),
    lora_r: int = LORA_R,
    lora_alpha: float = LORA_ALPHA,
    lora_dropout: float = LORA_DROPOUT,
    lora_targets: str = LORA_TARGETS,
    replace_real: bool = typer.Option(
        False, help="In the fake language the fake document replaces the real one (default: both are there)."
    ),
    instruct_on: str = typer.Option(
        "real-only",
        help="Q&A instruction tuning on 'real-only' stories (fake-story questions held out) or 'all' (real answers).",
    ),
    doc_epochs: int = typer.Option(20, help="Phase 1 epochs (documents)."),
    instruct_epochs: int = typer.Option(20, help="Phase 2 epochs (Q&A)."),
    lr: float | None = typer.Option(
        None,
        help=f"Learning rate of both learning phases; {lr_rule('learn')}.",
    ),
    unlearn_epochs: int = typer.Option(5),
    unlearn_lr: float | None = typer.Option(None, help=f"Unlearning learning rate; {lr_rule('unlearn')}."),
    batch_size: int = typer.Option(32, help="Learning batch size (both phases)."),
    unlearn_batch_size: int = typer.Option(8, help="Unlearning batch size."),
    warmup_ratio: float = typer.Option(
        0.05, help="Share of each learning phase's steps with a linear learning-rate warmup (0 to 1; the authors: 0)."
    ),
    weight_decay: float = typer.Option(
        0.01, help="AdamW weight decay of every phase, unlearning included (the authors: 0)."
    ),
    unlearn_on: str = typer.Option(
        "qa",
        help="What unlearning trains on: 'qa' (the fake-answer Q&A, ours) or 'text' (gradient ascent on the fake articles, the authors').",
    ),
    pack: int | None = typer.Option(
        None,
        help="Phase 1: pack the documents into blocks of this many tokens (the authors: 1024); default one document per sequence.",
    ),
    vocab_size: int = typer.Option(4096, help="Tiny model tokenizer vocabulary."),
    judge: str | None = typer.Option(
        None, help="Judge model: hf:PATH or openai:URL,MODEL (default: answer keys + likelihood, no model)."
    ),
    max_new_tokens: int | None = MAX_NEW_TOKENS,
    threads: int = threads_option(),
    seed: int = typer.Option(0, help="Seed of the tiny model and of every training run."),
    overwrite: bool = OVERWRITE,
    preset: str | None = typer.Option(None, "--preset", help=PRESET_HELP),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Check every input and print the plan and what would happen in OUT; load no model, train nothing, download nothing.",
    ),
):
    """Study A: fake news in one language -> OF/QR in every language -> unlearning per language set."""
    from polyunlearn.core.models import is_tiny_model
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.evaluation.judge import JudgeError
    from polyunlearn.pipeline.phases import default_lr
    from polyunlearn.studies.study_a import StudyAConfig, run_study_a

    tiny = is_tiny_model(model)  # also a saved tiny model's folder
    lr = lr if lr is not None else default_lr("learn", tiny, lora)
    unlearn_lr = unlearn_lr if unlearn_lr is not None else default_lr("unlearn", tiny, lora)
    learn = dict(
        lr=lr, batch_size=batch_size, schedule="linear", warmup_ratio=warmup_ratio, weight_decay=weight_decay, seed=seed
    )
    cfg = StudyAConfig(
        out=str(out),
        data=data,
        columns=columns,
        languages=languages,
        fake_langs=tuple(x.strip() for x in (fake_langs or fake_lang).split(",") if x.strip()),
        forget_sets=tuple(s.strip() for s in forget_sets.split(";") if s.strip()),
        method=method,
        model=model,
        vocab_size=vocab_size,
        lora=lora,
        lora_r=lora_r,
        lora_alpha=lora_alpha,
        lora_dropout=lora_dropout,
        lora_targets=lora_targets,
        replace_real=replace_real,
        instruct_on=instruct_on,
        docs=TrainConfig(epochs=doc_epochs, **learn),
        instruct=TrainConfig(epochs=instruct_epochs, **learn),
        unlearn=TrainConfig(
            lr=unlearn_lr, epochs=unlearn_epochs, batch_size=unlearn_batch_size, weight_decay=weight_decay, seed=seed
        ),
        max_new_tokens=max_new_tokens,
        judge=judge,
        threads=threads,
        seed=seed,
        unlearn_on=unlearn_on,
        pack=pack,
        preset=preset,
    )
    if dry_run:
        from polyunlearn.core.hubcache import offline
        from polyunlearn.studies.study_a import dry_run_study_a

        with offline():  # a dry run reads the local cache only
            return dry_run_study_a(cfg, console)
    try:
        run_study_a(cfg, console, overwrite=overwrite)
    except JudgeError as e:  # unreachable endpoint, missing judge model: one line, not a traceback
        console.print(f"[bold red]judge error:[/bold red] {escape(str(e))}")
        raise typer.Exit(2) from None


@app.command("concept-demo", rich_help_panel=STUDIES)
@friendly_errors
def concept_demo(
    out: Path = typer.Option(Path("polyunlearn_runs/concept"), help="Results folder; a rerun resumes it."),
    data: str = typer.Option(
        "bundled",
        help="'bundled' (bundled stereotypes + facts) or a --data spec whose split-forget items are the concepts, e.g. "
        "seegull-mcq:DIR (the authors' mcq_stereotype_dataset_<lang>.csv files); without facts in it, the bundled facts are added.",
    ),
    languages: str | None = typer.Option(
        None,
        help="Languages of the stereotypes and facts: comma list or 'study-b'; default study-b (bundled data) or all of --data.",
    ),
    n_facts: int | None = typer.Option(None, help="Facts per language (default all 100); fewer for a quick run."),
    methods: str = typer.Option(
        "npo", help="Unlearning methods, comma list (see `polyunlearn methods`); one run per method and forget set."
    ),
    forget_sets: str = typer.Option(
        "en;all", help="Forget-language sets separated by ';' (each a comma list or 'all')."
    ),
    arch: str = typer.Option("llama", help="Tiny model architecture: llama or cohere."),
    learn_epochs: int = typer.Option(15, help="Epochs to learn stereotypes + facts."),
    unlearn_epochs: int = typer.Option(10),
    unlearn_lr: float | None = typer.Option(
        None,
        help="Unlearning learning rate for every method; default per method, tuned on the tiny model (NPO 1e-3, GradDiff(-KL) 3e-4, others 5e-4).",
    ),
    alpha: float = typer.Option(5.0, help="Retain-term weight (factual retain set)."),
    generate: bool = typer.Option(
        True,
        "--generate/--no-generate",
        help="Greedy answers for ROUGE and Model Utility (--no-generate: likelihood metrics only, faster).",
    ),
    threads: int = threads_option(),
    seed: int = typer.Option(0, help="Seed of the tiny model and of every unlearning run."),
    max_new_tokens: int | None = MAX_NEW_TOKENS,
    prompt_format: str = typer.Option(
        "auto",
        help="Prompt format of learning, unlearning and evaluation (core/prompts.py): auto, plain, amnesia, amnesia-concept...",
    ),
    overwrite: bool = OVERWRITE,
):
    """Concept unlearning on the tiny default: learn -> before -> unlearn per forget set -> after,
    with a per-language before/after table of the biased-answer rate (CSV, PNG, console)."""
    from polyunlearn.core.languages import parse_langs
    from polyunlearn.studies.concept_study import ConceptConfig, run_concept_study

    d = ConceptConfig()
    cfg = ConceptConfig(
        out=str(out),
        data=data,
        languages=",".join(parse_langs(languages)) if languages and data.strip() == "bundled" else languages,
        n_facts=n_facts,
        methods=_sets(methods, ","),
        forget_sets=_sets(forget_sets, ";"),
        arch=arch,
        alpha=alpha,
        generate=generate,
        threads=threads,
        seed=seed,
        max_new_tokens=max_new_tokens,
        learn=replace(d.learn, epochs=learn_epochs, seed=seed, prompt_format=prompt_format),
        unlearn=replace(
            d.unlearn,
            epochs=unlearn_epochs,
            lr=d.unlearn.lr if unlearn_lr is None else unlearn_lr,
            seed=seed,
            prompt_format=prompt_format,
        ),
        method_lr=d.method_lr if unlearn_lr is None else {},  # one lr for all when given
    )
    run_concept_study(cfg, console, overwrite=overwrite)


@app.command(rich_help_panel=STUDIES)
@friendly_errors
@with_options(execution=config_options(ExecConfig, panel="Execution"))
def grid(
    spec: Path = typer.Argument(..., help="Grid spec (YAML): base + methods x forget sets x seeds x params."),
    out: Path | None = typer.Option(
        None,
        help="Results folder; default polyunlearn_runs/grid_<SPEC file name without its extension> (study_b_tiny.yaml: grid_study_b_tiny).",
    ),
    dry_run: bool = typer.Option(False, help="Validate the spec and list the runs with their status; train nothing."),
    status: bool = typer.Option(
        False,
        "--status",
        help="Print where the grid in OUT stands (done / running: where / pending / failed: why), from its run folders; run nothing.",
    ),
    threads: int = threads_option(where="; here or in each Ray task"),
    progress: bool = typer.Option(True, help="Show live progress: a total line and one line per running run."),
    attacks: str = typer.Option(
        "",
        "--attacks",
        help="Adversarial probes on every finished run afterwards (see `polyunlearn attack`), comma list or 'all'.",
    ),
    overwrite: bool = OVERWRITE,
    log_with: str | None = LOG_WITH,
    execution: dict = None,
):
    """Run a grid of unlearning runs as a resumable queue, here or on a Ray cluster; finished runs are skipped on rerun."""
    import torch

    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.studies.grid import GridRunsFailed, load_spec, run_grid, run_status
    from polyunlearn.studies.grid_status import print_status

    torch.set_num_threads(threads)
    cfg = ExecConfig(**execution)
    loaded = load_spec(spec)
    out = out or Path("polyunlearn_runs") / f"grid_{spec.stem}"
    if status:
        return print_status(console, out, loaded.runs, cfg.claim_timeout, cfg.heartbeat)
    if dry_run:
        rows = [
            {
                "run_id": r.run_id,
                "method": r.method,
                "forget_langs": r.forget_label,
                "seed": r.seed,
                **{k: str(v) for k, v in r.params.items()},
                "status": run_status(out, r, cfg),
            }
            for r in loaded.runs
        ]
        console.print(console_table(rows, f"{len(rows)} runs of {spec} -> {out}"))
        return
    try:
        results = run_grid(
            loaded,
            out,
            console,
            progress=progress,
            overwrite=overwrite,
            execution=cfg,
            log_with=log_with,
            threads=threads,
        )
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except GridRunsFailed as e:
        console.print(f"[bold red]error:[/bold red] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(1) from None
    if len(results):
        forget = results[results["metric"] == "forget_prob"]
        table = forget.pivot_table(
            index=["method", "forget_langs"], columns="language", values="delta", aggfunc="mean", sort=False
        ).reset_index()
        console.print(console_table(table.to_dict("records"), "change in forget Prob vs before (mean over seeds)"))
    console.print(
        f"results written under [bold]{out.resolve()}[/bold]: results.parquet, results.csv, matrices/, runs/<id>/"
    )
    if attacks:
        _grid_attacks(loaded, out, attacks, overwrite)


def _grid_attacks(spec, out: Path, attacks: str, overwrite: bool) -> None:
    """--attacks of `grid`: the probes on every finished run, then the report with their section."""
    from polyunlearn.analysis.report import build_report
    from polyunlearn.core.rundir import DONE_FILE
    from polyunlearn.probes.attack import AttackConfig, run_attacks
    from polyunlearn.probes.catalog import parse_probes

    cfg = AttackConfig(probes=parse_probes(attacks))
    for run in spec.runs:
        if (out / "runs" / run.run_id / DONE_FILE).exists():
            run_attacks(
                out / "runs" / run.run_id,
                cfg,
                console,
                data=None if spec.tiny else spec.base["data"],
                langs=None if spec.tiny else ",".join(spec.languages),
                overwrite=overwrite,
            )
    console.print(f"attack report: [bold]{build_report(out).resolve()}[/bold]")
