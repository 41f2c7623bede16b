"""The shared base of the tiny-model studies (the demo, a grid on model 'tiny'): the benchmark
file, a tokenizer trained on it, the learned and retain tiny models and their evaluations, each a
run folder of its own (pipeline/step.py), so a rerun skips what is done.

    from polyunlearn.pipeline.base import BaseConfig, prepare_base
    base = prepare_base(Path("out"), BaseConfig(), Console())
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.languages import parse_langs
from polyunlearn.core.models import build_tiny_model, load_model
from polyunlearn.core.rundir import data_fingerprint, model_fingerprint
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.loaders import load_items, save_items
from polyunlearn.data.schema import QAItem
from polyunlearn.evaluation.records import EvalConfig
from polyunlearn.evaluation.settings import budget_setting
from polyunlearn.pipeline.phases import TINY_LR, item_texts, select, tokenizer_for
from polyunlearn.pipeline.runs import RETAIN_MODEL_SPLITS
from polyunlearn.pipeline.step import evaluation_step, learn_step, standard_evaluation, standard_learning

TINY_ARCHS = ("llama", "cohere")


def tiny_learning() -> TrainConfig:
    """How the tiny base learns the facts (the demo, the concept study and a tiny grid base)."""
    return TrainConfig(lr=TINY_LR["learn"], epochs=15, batch_size=32, schedule="linear", warmup_ratio=0.05)


def tiny_unlearning() -> TrainConfig:
    """Each unlearning run from the tiny base, as tuned for it (the demo and a tiny grid)."""
    return TrainConfig(lr=3e-4, epochs=10, batch_size=8)


# The retain-term weight on the tiny base: the tiny model needs a strong retain term to stay selective.
TINY_ALPHA = 5.0


@dataclass(frozen=True)
class BaseConfig:
    """The tiny base's settings: which benchmark languages, which tiny model, how it learns."""

    languages: str | None = setting(
        None, "benchmark languages (comma list, 'study-b' or 'all'); default study-b (bundled) or all of --data"
    )
    arch: str = setting("llama", "tiny model architecture", choices=TINY_ARCHS)
    vocab_size: int = setting(2048, "BPE vocabulary of the tokenizer trained on the benchmark")
    seed: int = setting(0, "seed of the tiny model's initialisation")
    learn: TrainConfig = setting(default_factory=tiny_learning, help="learning the facts", cli=False)
    max_new_tokens: int | None = budget_setting()

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, TINY_ARCHS)
        check_number("vocab_size", self.vocab_size, minimum=300, integer=True)
        if self.max_new_tokens is not None:
            check_number("max_new_tokens", self.max_new_tokens, minimum=1, integer=True)


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

    def model_identity(self) -> dict:
        return {"model": model_fingerprint(str(self.learned_path)), "data": data_fingerprint(self.items)}


def prepare_base(
    out: Path,
    cfg: BaseConfig,
    console: Console,
    items: Sequence[QAItem] | None = None,
    ecfg: EvalConfig | None = None,
    overwrite: bool = False,
) -> Base:
    """Steps 1-3 of the demo, shared with `polyunlearn grid`: benchmark file (`items`, default the
    bundled one in cfg.languages), tokenizer, learned + retain tiny models, their evaluations.
    Each step is a run folder under `out`, skipped when done with the same identity."""
    # 1. data (bundled unless given; written once so every later step and the user read the same file)
    data_path = out / "data" / "benchmark.jsonl"
    if not data_path.exists():
        save_items(
            list(items) if items is not None else bundled_benchmark(parse_langs(cfg.languages or "study-b")), data_path
        )
    items = load_items(str(data_path))
    langs = list(dict.fromkeys(it.language for it in items))
    console.print(f"benchmark: {len(items)} items in {len(langs)} languages ({', '.join(langs)}) -> {data_path}")

    # 2. tokenizer trained on all benchmark text
    tok = tokenizer_for(item_texts(items), out / "tokenizer", cfg.vocab_size)

    # 3. the learned model (all splits) and the retain model (never sees the forget split)
    build = lambda: build_tiny_model(tok, cfg.arch, seed=cfg.seed)  # noqa: E731
    ident = {
        "model": {"builder": "tiny", "arch": cfg.arch, "seed": cfg.seed, "vocab_size": cfg.vocab_size},
        "data": data_fingerprint(items),
        "languages": langs,
        "train": cfg.learn,
    }
    retain_items = select(items, RETAIN_MODEL_SPLITS)
    for name, train_items, what in (
        ("learned", items, "learn (all facts)"),
        ("retain", retain_items, "learn (retain model)"),
    ):
        learn_step(
            out / "models" / name,
            build=build,
            train_fn=standard_learning(tok, train_items, cfg.learn, what),
            identity=ident | {"retain_only": name == "retain"},
            tokenizer=tok,
            what=what,
            console=console,
            overwrite=overwrite,
        )

    ecfg = ecfg or EvalConfig(max_new_tokens=cfg.max_new_tokens)
    evals = {}
    for name, model_dir, retain in (
        ("retain_model", out / "models" / "retain" / "model", None),
        ("before", out / "models" / "learned" / "model", "retain_model"),
    ):
        retain_records = evals[retain][0] if retain else None
        evals[name] = evaluation_step(
            out / "eval" / name,
            load=lambda d=model_dir: load_model(str(d)),
            identity={"model": model_fingerprint(str(model_dir)), "data": data_fingerprint(items)},
            tokenizer=tok,
            evaluation=standard_evaluation(items, ecfg, retain_records),
            what=f"eval ({name.replace('_', ' ')})",
            console=console,
            overwrite=overwrite,
        )
    (retain_records, retain_summary), (before_records, before) = evals["retain_model"], evals["before"]
    return Base(
        items, langs, tok, out / "models" / "learned" / "model", retain_records, before, before_records, retain_summary
    )
