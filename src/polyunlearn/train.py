"""The one generic training loop, used by both phases: learning (loss = NLL of the answers) and
unlearning (loss = a registered method on a forget batch and a cycled retain batch).

Built on Hugging Face Accelerate, so the same loop runs on one CPU, one GPU, or many processes
(DDP, FSDP, DeepSpeed: `accelerate launch --config_file ...`). It checkpoints at every epoch end
(accelerate state: model in safetensors, optimizer, scheduler, RNG), resumes from the last
checkpoint, and stops with a clear message when the loss turns NaN or explodes.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from accelerate import Accelerator
from accelerate.utils import DataLoaderConfiguration, set_seed
from torch.utils.data import DataLoader

from polyunlearn.batching import Encoded, collate
from polyunlearn.io import read_json, write_json

# loss_fn(model, batch, paired_batch) -> (loss, numbers to log). It receives the model as
# prepared by Accelerate (DDP/FSDP wrapped), which is the one whose forward syncs gradients.
LossFn = Callable[[torch.nn.Module, dict, dict | None], tuple[torch.Tensor, dict[str, float]]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or exploded; the message says where the last good checkpoint is."""


@dataclass
class TrainConfig:
    lr: float = 1e-5  # spec default for full fine-tuning; 1e-4 with LoRA
    epochs: int = 5
    batch_size: int = 8
    grad_accum: int = 1  # optimizer step every grad_accum batches
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    warmup_ratio: float = 0.0
    schedule: str = "constant"  # "constant" or "linear" decay after warmup
    seed: int = 0
    mixed_precision: str = "no"  # "no" or "bf16"
    loss_limit: float = 1e4  # |loss| above this counts as exploding

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("batch_size and grad_accum must be >= 1")
        if self.schedule not in ("constant", "linear"):
            raise ValueError(f"schedule must be 'constant' or 'linear', got {self.schedule!r}")
        if self.mixed_precision not in ("no", "bf16"):
            raise ValueError(f"mixed_precision must be 'no' or 'bf16', got {self.mixed_precision!r}")


def _cycle(loader: DataLoader) -> Iterator[dict]:
    epoch = 0
    while True:
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(10_000 + epoch)
        yield from loader
        epoch += 1


def train(
    model: torch.nn.Module,
    loss_fn: LossFn,
    data: Sequence[Encoded],
    cfg: TrainConfig,
    pad_id: int,
    paired: Sequence[Encoded] | None = None,
    checkpoint_dir: str | Path | None = None,
    desc: str = "train",
    progress: bool = True,
    accelerator: Accelerator | None = None,
) -> tuple[torch.nn.Module, list[dict]]:
    """Run `cfg.epochs` passes over `data`; each batch is paired with the next batch of `paired`
    (cycled) when given. Returns the unwrapped trained model and the per-step history."""
    if len(data) == 0:
        raise ValueError(f"{desc}: no training examples")
    set_seed(cfg.seed)
    acc = accelerator or Accelerator(
        gradient_accumulation_steps=cfg.grad_accum,
        mixed_precision=cfg.mixed_precision,
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True),
    )
    collate_fn = lambda batch: collate(batch, pad_id)  # noqa: E731
    loader = DataLoader(list(data), batch_size=cfg.batch_size, shuffle=True, collate_fn=collate_fn)
    paired_loader = (
        DataLoader(list(paired), batch_size=cfg.batch_size, shuffle=True, collate_fn=collate_fn) if paired else None
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(loader) / cfg.grad_accum)
    total = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_ratio * total)

    def lr_lambda(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "linear":
            return max(0.0, (total - step) / max(1, total - warmup))
        return 1.0

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    model, optimizer, loader, scheduler = acc.prepare(model, optimizer, loader, scheduler)
    if paired_loader is not None:
        paired_loader = acc.prepare(paired_loader)
    paired_iter = _cycle(paired_loader) if paired_loader is not None else None

    history: list[dict] = []
    start_epoch = 0
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    if ckpt and not (ckpt / "state").exists() and (ckpt / "state.old").exists():
        (ckpt / "state.old").rename(ckpt / "state")  # crashed between the two renames of a save
    if ckpt and (ckpt / "state" / "trainer_state.json").exists():
        state = read_json(ckpt / "state" / "trainer_state.json")
        acc.load_state(str(ckpt / "state"))
        start_epoch, history = state["epoch"], state["history"]
        if paired_iter is not None:  # keep the retain stream aligned with an uninterrupted run
            for _ in range(start_epoch * len(loader)):
                next(paired_iter)

    model.train()
    bar = _progress(progress and acc.is_main_process, desc, total, start_epoch * steps_per_epoch)
    step = start_epoch * steps_per_epoch
    try:
        for epoch in range(start_epoch, cfg.epochs):
            loader.set_epoch(epoch)
            for batch in loader:
                other = next(paired_iter) if paired_iter is not None else None
                with acc.accumulate(model):
                    loss, logs = loss_fn(model, batch, other)
                    value = float(loss.detach())
                    if not math.isfinite(value) or abs(value) > cfg.loss_limit:
                        where = f"last good checkpoint: {ckpt / 'state'}" if ckpt and (ckpt / "state").exists() else "no checkpoint was written yet"
                        raise TrainingDiverged(
                            f"{desc}: loss is {value} at epoch {epoch + 1}, step {step + 1} (limit {cfg.loss_limit}); "
                            f"stopped; {where}. Lower the learning rate or the forget weight gamma."
                        )
                    acc.backward(loss)
                    if acc.sync_gradients:
                        acc.clip_grad_norm_(params, cfg.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                if acc.sync_gradients:
                    step += 1
                    history.append({"epoch": epoch + 1, "step": step, "loss": value, "lr": scheduler.get_last_lr()[0], **logs})
                    if bar is not None:
                        bar[0].update(bar[1], advance=1, description=f"{desc} loss {value:.3f}")
            if ckpt and acc.is_main_process:
                _save_checkpoint(acc, ckpt, epoch + 1, history, cfg)
            acc.wait_for_everyone()
    finally:
        if bar is not None:
            bar[0].stop()
    model = acc.unwrap_model(model)
    model.eval()
    return model, history


def _save_checkpoint(acc: Accelerator, ckpt: Path, epoch: int, history: list[dict], cfg: TrainConfig) -> None:
    """Atomic: the new state (with its trainer_state.json) is written to state.tmp, then swapped
    in by rename, so `state/` is always one complete epoch."""
    ckpt.mkdir(parents=True, exist_ok=True)
    tmp = ckpt / "state.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    acc.save_state(str(tmp), safe_serialization=True)
    write_json(tmp / "trainer_state.json", {"epoch": epoch, "history": history, "config": asdict(cfg)})
    final = ckpt / "state"
    old = ckpt / "state.old"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def _progress(enabled: bool, desc: str, total: int, done: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False)
    bar.start()
    task = bar.add_task(desc, total=total, completed=done)
    return bar, task
