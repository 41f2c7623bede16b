"""`polyunlearn study-a`: the Study A misinformation study (learn real + fake news, measure the
spread of the fake claims per query language, unlearn them in language combinations) in one
resumable command. The work is in polyunlearn.study_a; this module only maps options to it.

    polyunlearn study-a                                   # tiny default: 9 languages, fake news in ru
    polyunlearn study-a --fake-langs en,zh,ru --out runs/sa
    polyunlearn study-a --languages en,ru,zh --forget-sets "en;source;all" --method grad_diff
    polyunlearn study-a --judge openai:http://127.0.0.1:8000/v1,my-judge
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyunlearn.cli import app, console, friendly_errors


@app.command("study-a")
@friendly_errors
def study_a(
    out: Path = typer.Option(Path("polyunlearn_runs/study_a"), help="Results folder; a rerun resumes it."),
    fake_lang: str = typer.Option("ru", help="Language the fake news documents are written in."),
    fake_langs: Optional[str] = typer.Option(None, help="Several fake languages (comma list): one contaminated model each; overrides --fake-lang."),
    languages: str = typer.Option("study-a", help="Corpus and query languages: comma list, 'study-a' (9) or 'all' (in the data)."),
    data: str = typer.Option("bundled", help="'bundled' or a news file (JSONL/CSV/Parquet with a 'kind' column, see data/news.py)."),
    forget_sets: str = typer.Option("en;source;en+source;all", help="Forget-language sets separated by ';': 'en', 'source' (= the fake language), 'en+source', 'all', 'de+fr'..."),
    method: str = typer.Option("npo", help="Unlearning method (see `polyunlearn methods`)."),
    model: str = typer.Option("tiny", help="'tiny' / 'tiny-cohere' (built here) or a HF model id / local path."),
    lora: bool = typer.Option(False, help="Train LoRA adapters in every phase (merged after learning) instead of all weights."),
    lora_r: int = typer.Option(8),
    replace_real: bool = typer.Option(False, help="In the fake language the fake document replaces the real one (default: both are there)."),
    instruct_on: str = typer.Option("real-only", help="Q&A instruction tuning on 'real-only' stories (fake-story questions held out) or 'all' (real answers)."),
    doc_epochs: int = typer.Option(20, help="Phase 1 epochs (documents)."),
    instruct_epochs: int = typer.Option(20, help="Phase 2 epochs (Q&A)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate of both learning phases; default 3e-3 (tiny), 1e-4 (LoRA), 1e-5 (full)."),
    unlearn_epochs: int = typer.Option(5),
    unlearn_lr: Optional[float] = typer.Option(None, help="Default 5e-4 (tiny), 1e-4 (LoRA), 1e-5 (full)."),
    batch_size: int = typer.Option(32, help="Learning batch size (unlearning uses 8)."),
    vocab_size: int = typer.Option(4096, help="Tiny model tokenizer vocabulary."),
    judge: Optional[str] = typer.Option(None, help="Judge model: hf:PATH or openai:URL,MODEL (default: answer keys + likelihood, no model)."),
    max_new_tokens: int = typer.Option(32, help="Greedy answer length."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    seed: int = typer.Option(0),
):
    """Study A: fake news in one language -> OF/QR in every language -> unlearning per language set."""
    from polyunlearn.judge import JudgeError
    from polyunlearn.study_a import StudyAConfig, run_study_a
    from polyunlearn.train import TrainConfig

    tiny = model in ("tiny", "tiny-cohere")
    lr = lr or (3e-3 if tiny else 1e-4 if lora else 1e-5)
    unlearn_lr = unlearn_lr or (5e-4 if tiny else 1e-4 if lora else 1e-5)
    learn = dict(lr=lr, batch_size=batch_size, schedule="linear", warmup_ratio=0.05, seed=seed)
    cfg = StudyAConfig(
        out=str(out), data=data, languages=languages,
        fake_langs=tuple(x.strip() for x in (fake_langs or fake_lang).split(",") if x.strip()),
        forget_sets=tuple(s.strip() for s in forget_sets.split(";") if s.strip()),
        method=method, model=model, vocab_size=vocab_size, lora=lora, lora_r=lora_r, replace_real=replace_real,
        instruct_on=instruct_on, docs=TrainConfig(epochs=doc_epochs, **learn), instruct=TrainConfig(epochs=instruct_epochs, **learn),
        unlearn=TrainConfig(lr=unlearn_lr, epochs=unlearn_epochs, batch_size=8, seed=seed),
        max_new_tokens=max_new_tokens, judge=judge, threads=threads, seed=seed,
    )
    try:
        run_study_a(cfg, console)
    except JudgeError as e:  # unreachable endpoint, missing judge model: one line, not a traceback
        console.print(f"[bold red]judge error:[/bold red] {e}")
        raise typer.Exit(2)
