"""The three phases as library calls, shared by the CLI commands and the demo:
learn (fine-tune until the facts are known), unlearn (a registered method on the forget set of
chosen languages), evaluate (records + per-language summary written atomically)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from polyunlearn.batching import Encoder
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.evaluate import EvalConfig, score_items, summarize
from polyunlearn.io import read_jsonl, write_json, write_jsonl, write_table
from polyunlearn.languages import parse_langs
from polyunlearn.logprobs import mean_nll
from polyunlearn.methods import Context, Reference, forward_logits, get_method, needs_reference
from polyunlearn.train import TrainConfig, train


def select(items: Sequence[QAItem], splits: Sequence[str], languages: Sequence[str] | None = None) -> list[QAItem]:
    langs = set(languages) if languages is not None else None
    return [it for it in items if it.split in splits and (langs is None or it.language in langs)]


def item_languages(items: Sequence[QAItem]) -> list[str]:
    return list(dict.fromkeys(it.language for it in items))


def learn(
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "learn",
) -> tuple[torch.nn.Module, list[dict]]:
    """Fine-tune on question -> answer of `items` (loss = NLL of the answer tokens only)."""
    if not items:
        raise DataError(f"{desc}: no items to train on")
    enc = Encoder(tokenizer)
    data = [enc.encode(it.question, it.answer) for it in items]

    def loss_fn(m, batch, _):
        return mean_nll(forward_logits(m, batch), batch["labels"]), {}

    return train(model, loss_fn, data, cfg, tokenizer.pad_token_id, checkpoint_dir=checkpoint_dir, desc=desc, progress=progress)


@dataclass
class UnlearnConfig:
    method: str = "npo"
    forget_langs: str = "en"  # comma list, or "all"
    retain_langs: str = "same"  # "same" = the forget languages; or a comma list / "all"
    gamma: float = 1.0  # weight of the forget term
    alpha: float = 1.0  # weight of the retain term
    beta: float = 0.1  # NPO temperature
    retain_loss: str = "nll"  # retain term for methods where it is a choice (NPO): nll or kl
    train: TrainConfig = field(default_factory=lambda: TrainConfig(lr=1e-5, epochs=5))

    def to_dict(self) -> dict:
        return asdict(self)


def unlearn_sets(items: Sequence[QAItem], cfg: UnlearnConfig) -> tuple[list[QAItem], list[QAItem], list[str]]:
    """The forget set (forget split in the chosen languages) and retain set; clear errors when
    a language is unknown or a set comes out empty."""
    available = item_languages(items)
    forget_langs = parse_langs(cfg.forget_langs, available)
    retain_langs = forget_langs if cfg.retain_langs == "same" else parse_langs(cfg.retain_langs, available)
    forget = select(items, ["forget"], forget_langs)
    if not forget:
        raise DataError(f"empty forget set: no items with split 'forget' in language(s) {', '.join(forget_langs)}")
    retain = select(items, ["retain"], retain_langs)
    return forget, retain, forget_langs


def unlearn(
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: UnlearnConfig,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
) -> tuple[torch.nn.Module, list[dict]]:
    method = get_method(cfg.method)
    forget, retain, langs = unlearn_sets(items, cfg)
    enc = Encoder(tokenizer)
    f_data = [enc.encode(it.question, it.answer) for it in forget]
    r_data = [enc.encode(it.question, it.answer) for it in retain] or None
    # The reference is made before the first update: a frozen copy, or (LoRA) the adapters off.
    ref = Reference(model) if needs_reference(cfg.method, cfg.retain_loss) else None
    ctx = Context(model=model, reference=ref, gamma=cfg.gamma, alpha=cfg.alpha, beta=cfg.beta, retain_loss=cfg.retain_loss)

    def loss_fn(m, forget_batch, retain_batch):
        ctx.model = m
        return method(ctx, forget_batch, retain_batch)

    desc = f"unlearn {cfg.method} [{','.join(langs)}]"
    return train(model, loss_fn, f_data, cfg.train, tokenizer.pad_token_id, paired=r_data, checkpoint_dir=checkpoint_dir, desc=desc, progress=progress)


def evaluate_to(
    out_dir: str | Path,
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: EvalConfig | None = None,
    retain_model_records: Sequence[dict] | None = None,
):
    """Evaluate and write items.jsonl + summary.csv under out_dir; returns (records, summary).
    summary.csv is written last, so its presence marks a finished evaluation."""
    out = Path(out_dir)
    records = score_items(model, tokenizer, items, cfg)
    summary = summarize(records, retain_model_records)
    write_jsonl(out / "items.jsonl", records)
    write_table(out / "summary.csv", summary)
    return records, summary


def load_eval(out_dir: str | Path):
    import pandas as pd

    out = Path(out_dir)
    return read_jsonl(out / "items.jsonl"), pd.read_csv(out / "summary.csv")


def eval_done(out_dir: str | Path) -> bool:
    return (Path(out_dir) / "summary.csv").exists() and (Path(out_dir) / "items.jsonl").exists()


def save_config(path: str | Path, config: dict) -> None:
    """A run's config plus its software environment, saved beside its results."""
    import platform

    import transformers

    env = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__, "platform": platform.platform()}
    write_json(path, {"config": config, "environment": env})
