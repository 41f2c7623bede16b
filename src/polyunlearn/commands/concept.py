"""`polyunlearn concept-demo`: the Study B concept-unlearning study (plant stereotypes next to a
factual benchmark, unlearn them in language sets, biased-answer rate per language before and
after) in one resumable command. The work is in polyunlearn.concept_task; this module only maps
options to it.

    polyunlearn concept-demo                                   # tiny default, 10 study-B languages
    polyunlearn concept-demo --languages en,fr,ja --n-facts 20 --out runs/concept-small
    polyunlearn concept-demo --methods npo,grad_diff --forget-sets "en;en,fr;all"
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli import app, console, friendly_errors


@app.command("concept-demo")
@friendly_errors
def concept_demo(
    out: Path = typer.Option(Path("polyunlearn_runs/concept"), help="Results folder; a rerun resumes it."),
    languages: str = typer.Option("study-b", help="Languages of the stereotypes and facts: comma list or 'study-b' (the 10 with bundled stereotypes)."),
    n_facts: Optional[int] = typer.Option(None, help="Facts per language (default all 100); fewer for a quick run."),
    methods: str = typer.Option("npo", help="Unlearning methods, comma list (see `polyunlearn methods`); one run per method and forget set."),
    forget_sets: str = typer.Option("en;all", help="Forget-language sets separated by ';' (each a comma list or 'all')."),
    arch: str = typer.Option("llama", help="Tiny model architecture: llama or cohere."),
    learn_epochs: int = typer.Option(15, help="Epochs to learn stereotypes + facts."),
    unlearn_epochs: int = typer.Option(10),
    unlearn_lr: Optional[float] = typer.Option(None, help="Unlearning learning rate for every method; default per method, tuned on the tiny model (NPO 1e-3, GradDiff(-KL) 3e-4, others 5e-4)."),
    alpha: float = typer.Option(5.0, help="Retain-term weight (factual retain set)."),
    generate: bool = typer.Option(True, "--generate/--no-generate", help="Greedy answers for ROUGE and Model Utility (--no-generate: likelihood metrics only, faster)."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    seed: int = typer.Option(0),
):
    """Concept unlearning on the tiny default: learn -> before -> unlearn per forget set -> after,
    with a per-language before/after table of the biased-answer rate (CSV, PNG, console)."""
    from polyunlearn.concept_task import ConceptConfig, run_concept_study
    from polyunlearn.languages import parse_langs
    from polyunlearn.methods import get_method

    names = tuple(m.strip() for m in methods.split(",") if m.strip())
    for m in names:
        get_method(m)  # fail before any training on a typo
    cfg = ConceptConfig(
        out=str(out), languages=",".join(parse_langs(languages)), n_facts=n_facts, methods=names,
        forget_sets=tuple(s.strip() for s in forget_sets.split(";") if s.strip()), arch=arch,
        alpha=alpha, generate=generate, threads=threads, seed=seed,
    )
    # replace() re-runs TrainConfig's validation (a bad --unlearn-lr fails here, not mid-run).
    cfg.learn = replace(cfg.learn, epochs=learn_epochs, seed=seed)
    cfg.unlearn = replace(cfg.unlearn, epochs=unlearn_epochs, lr=unlearn_lr or cfg.unlearn.lr, seed=seed)
    if unlearn_lr is not None:
        cfg.method_lr = {}  # one lr for all
    run_concept_study(cfg, console)
