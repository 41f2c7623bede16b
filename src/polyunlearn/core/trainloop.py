"""The one generic training loop, used by both phases: learning (loss = NLL of the answers) and
unlearning (loss = a registered method on a forget batch and a cycled retain batch).

Built on Hugging Face Accelerate, so the same loop runs on one CPU, one GPU, or many processes
(DDP, FSDP, DeepSpeed: `accelerate launch --config_file ...`). It checkpoints at every epoch end
(accelerate state: model in safetensors, optimizer, scheduler, RNG), resumes from the last
checkpoint, and stops with a clear message when the loss turns NaN or explodes.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, DistributedType, set_seed
from torch.utils.data import DataLoader

from polyunlearn.core import tracking
from polyunlearn.core.atomic import read_json, write_json
from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.encoding import Encoded, collate
from polyunlearn.core.prompts import PROMPT_FORMATS, check_prompt_format

# loss_fn(model, batch, paired_batch) -> (loss, numbers to log). It receives the model as
# prepared by Accelerate (DDP/FSDP wrapped), which is the one whose forward syncs gradients.
LossFn = Callable[[torch.nn.Module, dict, dict | None], tuple[torch.Tensor, dict[str, float]]]


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf or exploded. The message says which epoch was the last good one;
    `model` holds that epoch's weights (None when no epoch had finished, or under FSDP/ZeRO-3)."""

    def __init__(self, message: str, model: torch.nn.Module | None = None, epoch: int | None = None):
        super().__init__(message)
        self.model = model
        self.epoch = epoch


class CheckpointError(ValueError):
    """A checkpoint cannot be resumed from; the message names it (CLI: exit 2)."""


class CheckpointDiskFull(CheckpointError):
    """The disk filled up while a checkpoint was written: one line naming the file, the space
    free and the checkpoint kept (CLI: exit 2)."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (learning or unlearning), checked when built."""

    lr: float = setting(
        1e-5, "learning rate (> 0); the commands default it per model kind (see pipeline.phases.default_lr)"
    )
    epochs: int = setting(5, "passes over the training (for unlearning: forget) set (>= 1)")
    batch_size: int = setting(8, "examples per batch and process (>= 1)")
    grad_accum: int = setting(1, "gradient accumulation: one optimizer step every N batches (>= 1)")
    weight_decay: float = setting(0.01, "AdamW weight decay (>= 0)")
    max_grad_norm: float = setting(1.0, "gradient clipping norm (> 0)")
    warmup_ratio: float = setting(0.0, "share of the steps with a linear learning-rate warmup (0 to 1)")
    schedule: str = setting(
        "constant",
        "learning-rate schedule after warmup: constant or linear (decay to 0)",
        choices=("constant", "linear"),
    )
    seed: int = setting(0, "random seed (data order, initialisation of anything random)")
    mixed_precision: str = setting(
        "no", "compute precision: no (as the weights) or bf16 (autocast)", choices=("no", "bf16")
    )
    loss_limit: float = setting(
        1e3,
        "a step whose |loss| exceeds this (or is NaN/inf) counts as diverged: the run stops and keeps the last good epoch",
    )
    prompt_format: str = setting(
        "auto",
        "how question and answer are framed: auto (chat template if any, else plain), chat, plain, amnesia (per-language tags, no template), amnesia-concept, text (core/prompts.py)",
        choices=PROMPT_FORMATS,
    )

    def __post_init__(self) -> None:
        check_number("lr", self.lr, minimum=0, strict=True)
        check_number("epochs", self.epochs, minimum=1, integer=True)
        check_number("batch_size", self.batch_size, minimum=1, integer=True)
        check_number("grad_accum", self.grad_accum, minimum=1, integer=True)
        check_number("weight_decay", self.weight_decay, minimum=0)
        check_number("max_grad_norm", self.max_grad_norm, minimum=0, strict=True)
        check_number("warmup_ratio", self.warmup_ratio, minimum=0)
        if self.warmup_ratio > 1:
            raise ValueError(f"warmup_ratio must be <= 1, got {self.warmup_ratio:g}")
        check_choice("schedule", self.schedule, ("constant", "linear"))
        check_number("seed", self.seed, minimum=0, integer=True)
        check_choice("mixed_precision", self.mixed_precision, ("no", "bf16"))
        check_number("loss_limit", self.loss_limit, minimum=0, strict=True)
        check_prompt_format(self.prompt_format)


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
    on_epoch_end: EpochHook | None = None,
) -> tuple[torch.nn.Module, list[dict]]:
    """Run `cfg.epochs` passes over `data`; each batch is paired with the next batch of `paired`
    (cycled) when given. Returns the unwrapped trained model and the per-step history (losses
    averaged over processes). In a multi-process run `cfg.batch_size` is per process; under
    FSDP / ZeRO-3 the main process gets a plain model with the gathered weights.

    `on_epoch_end(epoch, model)` runs on the main process after each epoch's checkpoint (e.g. an
    evaluation during unlearning), with the unwrapped model in eval mode; training resumes after.
    A run resumed from a checkpoint first calls it again for the checkpoint's epoch, with that
    epoch's weights, so that a hook interrupted mid-way completes: hooks must be idempotent
    (pipeline/epoch_eval.py reuses what it saved).
    A diverging loss raises TrainingDiverged carrying the last good epoch's weights."""
    if len(data) == 0:
        raise ValueError(f"{desc}: no training examples")
    set_seed(cfg.seed)
    run = _prepare(model, data, cfg, pad_id, paired, accelerator)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    start_epoch, history = _resume(run, ckpt, cfg)
    run.model.train()
    bar = _progress(progress and run.acc.is_main_process, desc, run.total_steps, start_epoch * run.steps_per_epoch)
    try:
        if start_epoch:
            _epoch_hook(run, on_epoch_end, start_epoch)
        for epoch in range(start_epoch, cfg.epochs):
            _run_epoch(run, loss_fn, cfg, epoch, history, ckpt, desc, bar)
            if ckpt:
                _save_checkpoint(run.acc, ckpt, epoch + 1, history, cfg)
            _epoch_hook(run, on_epoch_end, epoch + 1)
    finally:
        if bar is not None:
            bar[0].stop()
    model = _finish(run)
    model.eval()
    return model, history


EpochHook = Callable[[int, torch.nn.Module], None]


def _epoch_hook(run: _Run, hook: EpochHook | None, epoch: int) -> None:
    """hook(epoch, unwrapped model in eval mode) on the main process; back to train mode after."""
    if hook is None or not run.acc.is_main_process:
        return
    inner = run.acc.unwrap_model(run.model)
    inner.eval()
    hook(epoch, inner)
    run.model.train()


@dataclass
class _Run:
    """The prepared pieces of one training run (what Accelerate wrapped)."""

    acc: Accelerator
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    loader: DataLoader
    paired: Iterator[dict] | None
    params: list[torch.nn.Parameter]
    steps_per_epoch: int
    total_steps: int
    sharded: bool


def _prepare(
    model: torch.nn.Module,
    data: Sequence[Encoded],
    cfg: TrainConfig,
    pad_id: int,
    paired: Sequence[Encoded] | None,
    accelerator: Accelerator | None,
) -> _Run:
    """Accelerator, loaders, AdamW and the warmup/decay schedule, all prepared by Accelerate."""
    if accelerator is None:
        # AcceleratorState is a process-wide singleton that refuses a mixed_precision other than
        # the first Accelerator's ("already initialized"); every train() call builds its own
        # Accelerator, so forget the previous settings. The distributed setup (PartialState,
        # the process group) is kept.
        AcceleratorState._reset_state(reset_partial_state=False)
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
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg, total))
    sharded = acc.distributed_type in (DistributedType.FSDP, DistributedType.DEEPSPEED)
    if sharded and hasattr(model, "peft_config"):
        # The LoRA reference runs the unwrapped model with adapters off, which cannot see
        # sharded weights; LoRA needs no sharding anyway (an 8B model fits one GPU).
        raise ValueError(
            "LoRA runs use one GPU or data parallelism (configs/accelerate/ddp.yaml); FSDP / DeepSpeed configs are for full fine-tuning"
        )
    model, optimizer, loader, scheduler = acc.prepare(model, optimizer, loader, scheduler)
    # FSDP replaces the parameters while wrapping; clipping must see the wrapped model's own
    # list, or Accelerate falls back to clipping stale tensors.
    params = [p for p in model.parameters() if p.requires_grad]
    paired_iter = _cycle(acc.prepare(paired_loader)) if paired_loader is not None else None
    return _Run(acc, model, optimizer, scheduler, loader, paired_iter, params, steps_per_epoch, total, sharded)


def _lr_lambda(cfg: TrainConfig, total: int) -> Callable[[int], float]:
    warmup = int(cfg.warmup_ratio * total)

    def lr_lambda(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        if cfg.schedule == "linear":
            return max(0.0, (total - step) / max(1, total - warmup))
        return 1.0

    return lr_lambda


def _resume(run: _Run, ckpt: Path | None, cfg: TrainConfig) -> tuple[int, list[dict]]:
    """(first epoch to run, history so far): from the checkpoint's last complete epoch, if any."""
    acc = run.acc
    if ckpt and acc.is_main_process:
        _tidy(ckpt)  # finish or undo a save that was interrupted
    acc.wait_for_everyone()
    if not (ckpt and (ckpt / "state" / "trainer_state.json").exists()):
        return 0, []
    state = read_json(ckpt / "state" / "trainer_state.json")
    _check_same_config(ckpt / "state", state.get("config", {}), cfg)
    try:
        acc.load_state(str(ckpt / "state"))
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign checkpoint: one line naming it
        raise CheckpointError(
            f"checkpoint {ckpt / 'state'} cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "remove it (or rerun with --overwrite) to start the run afresh"
        ) from None
    start_epoch, history = state["epoch"], state["history"]
    if run.paired is not None:  # keep the retain stream aligned with an uninterrupted run
        for _ in range(start_epoch * len(run.loader)):
            next(run.paired)
    return start_epoch, history


def _run_epoch(
    run: _Run, loss_fn: LossFn, cfg: TrainConfig, epoch: int, history: list[dict], ckpt: Path | None, desc: str, bar
) -> None:
    acc, model = run.acc, run.model
    run.loader.set_epoch(epoch)
    for batch in run.loader:
        other = next(run.paired) if run.paired is not None else None
        with acc.accumulate(model):
            loss, logs = loss_fn(model, batch, other)
            # Mean over processes: every process sees the same value, so a divergence stops all of
            # them together (one process raising alone would leave the others waiting in the
            # gradient all-reduce).
            value = float(acc.reduce(loss.detach(), reduction="mean"))
            if not math.isfinite(value) or abs(value) > cfg.loss_limit:
                _diverged(run, ckpt, desc, value, epoch, len(history), cfg)
            acc.backward(loss)
            if acc.sync_gradients:
                acc.clip_grad_norm_(run.params, cfg.max_grad_norm)
            run.optimizer.step()
            run.scheduler.step()
            run.optimizer.zero_grad()
        if acc.sync_gradients:
            history.append(
                {
                    "epoch": epoch + 1,
                    "step": len(history) + 1,
                    "loss": value,
                    "lr": run.scheduler.get_last_lr()[0],
                    **logs,
                }
            )
            if acc.is_main_process:  # live progress, the --log-with tracker, stop requests (core/tracking.py)
                tracking.on_step(history[-1], run.total_steps)
            if bar is not None:
                bar[0].update(bar[1], advance=1, description=f"{desc} loss {value:.3f}")


def _diverged(run: _Run, ckpt: Path | None, desc: str, value: float, epoch: int, step: int, cfg: TrainConfig) -> None:
    """Stop: restore the last checkpointed epoch (every loss in it was finite and within
    cfg.loss_limit) into the model, and raise TrainingDiverged carrying it, so the caller can
    save it as a loadable model folder."""
    good = ckpt is not None and (ckpt / "state" / "trainer_state.json").exists()
    last_epoch = None
    model = None
    if good:
        run.acc.load_state(str(ckpt / "state"))
        last_epoch = read_json(ckpt / "state" / "trainer_state.json")["epoch"]
        model = run.acc.unwrap_model(run.model) if not run.sharded else None
    where = f"last good epoch: {last_epoch} (checkpoint {ckpt / 'state'})" if good else "no epoch finished before it"
    raise TrainingDiverged(
        f"{desc}: loss is {value} at epoch {epoch + 1}, step {step + 1} (limit |loss| <= {cfg.loss_limit:g}); stopped; {where}. "
        "Lower the learning rate or the forget weight gamma.",
        model=model,
        epoch=last_epoch,
    )


def _finish(run: _Run) -> torch.nn.Module:
    """The trained model as a plain module on the main process."""
    acc = run.acc
    if not run.sharded:
        return acc.unwrap_model(run.model)
    # FSDP and ZeRO-3 keep every weight in pieces across the processes, but what callers do next
    # (save, evaluate) runs on the main process alone (pipeline.phases.main_process_continues).
    # So gather the whole weights (every process takes part; ZeRO-3 needs
    # zero3_save_16bit_model: true) into a plain CPU model on the main process, after dropping the
    # optimizer state to make room. The caller moves it to the GPU.
    full = acc.get_state_dict(run.model)
    like = acc.unwrap_model(run.model)
    run.optimizer = run.scheduler = run.params = None  # type: ignore[assignment]
    acc.free_memory()
    return rebuild(like, full) if acc.is_main_process else like


def resume_point(checkpoint_dir: str | Path | None) -> tuple[int, list[dict]]:
    """(finished epochs, per-step history) that train() with this checkpoint_dir resumes from;
    (0, []) when there is no checkpoint. Lets a caller restore what its loss function keeps across
    steps (e.g. a method's Context.state) before train() starts."""
    if not checkpoint_dir:
        return 0, []
    ckpt = Path(checkpoint_dir)
    # What _resume will load once _tidy has run: state/, else a complete state.old/ (a save
    # interrupted between its two renames), else state/ as it is (its load then says what is wrong).
    state = _complete(ckpt / STATE) or _complete(ckpt / OLD)
    if state is None and (ckpt / STATE / "trainer_state.json").is_file():
        state = read_json(ckpt / STATE / "trainer_state.json")
    return (int(state["epoch"]), list(state["history"])) if state else (0, [])


def rebuild(like: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A fresh model of `like`'s class and config holding `state_dict` (no random init of the
    big weights; transformers also restores tied weights and non-persistent buffers)."""
    dtype = next(iter(state_dict.values())).dtype
    return type(like).from_pretrained(None, config=like.config, state_dict=state_dict, dtype=dtype)


def _check_same_config(where: Path, saved: dict, cfg: TrainConfig) -> None:
    """Resuming a checkpoint written with other settings would silently mix two runs."""
    now = asdict(cfg)
    diff = {k: (saved[k], now[k]) for k in now if k != "loss_limit" and k in saved and saved[k] != now[k]}
    if diff:
        shown = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items())
        raise ValueError(
            f"checkpoint {where} was written with other training settings ({shown}); delete it or use another output folder"
        )


# A checkpoint folder holds state/ (the current checkpoint) and, only while a save runs,
# state.tmp/ (the new one being written) and state.old/ (the previous one, being replaced).
STATE, OLD, TMP = "state", "state.old", "state.tmp"


def _complete(folder: Path) -> dict | None:
    """The trainer state of `folder` if it is a complete checkpoint, else None. trainer_state.json
    is written last, after every other file was synced, and lists them with their sizes, so a
    half-written or half-deleted folder is told apart (one written before the list existed counts
    as complete when its trainer_state.json is there)."""
    path = folder / "trainer_state.json"
    if not path.is_file():
        return None
    try:
        state = read_json(path)
        for name, size in (state.get("files") or {}).items():
            if (folder / name).stat().st_size != size:
                return None
    except (OSError, ValueError, AttributeError):
        return None
    return state if isinstance(state, dict) and "epoch" in state else None


def _tidy(ckpt: Path) -> dict | None:
    """Recover from a save interrupted at any instant (main process only); returns the current
    checkpoint's trainer state, or None when there is no complete one.

    state/ complete: leftovers of the save (state.old/, half-deleted or not; state.tmp/) go.
    state/ missing or incomplete and state.old/ complete (stopped between the two renames):
    state.old/ is the current checkpoint again. A half-written state.tmp/ always goes."""
    if not ckpt.is_dir():
        return None
    cur, old, tmp = ckpt / STATE, ckpt / OLD, ckpt / TMP
    state = _complete(cur)
    if state is None and (previous := _complete(old)) is not None:
        if cur.exists():
            shutil.rmtree(cur)
        old.rename(cur)
        _fsync(ckpt, directory=True)
        state = previous
    for leftover in (old, tmp):
        if leftover.exists():
            shutil.rmtree(leftover)
    return state


def _fsync(path: Path, directory: bool = False) -> None:
    """Flush a file (or a folder's entries) to the disk, so a rename never exposes data that a
    power cut could still lose. Folders that cannot be opened or synced (some systems) are skipped."""
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    if directory and not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(path, flags)
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)


def _save_checkpoint(acc: Accelerator, ckpt: Path, epoch: int, history: list[dict], cfg: TrainConfig) -> None:
    """Safe at every instant: leftovers of an interrupted save are cleaned first (_tidy); the new
    state is written to state.tmp/, synced, sealed by its trainer_state.json (written last), then
    switched in by two renames (state -> state.old, state.tmp -> state) and state.old/ deleted. At
    any moment state/ (or, between the renames, state.old/) is one complete epoch, which _resume
    finds. A full disk raises CheckpointDiskFull (one line); the previous checkpoint is kept.

    Called on every process: Accelerate writes the weights/optimizer from the main process but
    each process's RNG state from that process, and FSDP/ZeRO-3 gather shards collectively. The
    folder moves are the main process's job alone."""
    tmp = ckpt / TMP
    writing: Path | None = None  # the file being written, when known (else: the newest in tmp)
    if acc.is_main_process:
        ckpt.mkdir(parents=True, exist_ok=True)
        _tidy(ckpt)
    acc.wait_for_everyone()
    try:
        acc.save_state(str(tmp), safe_serialization=True)
        acc.wait_for_everyone()
        if acc.is_main_process:
            files = sorted(p for p in tmp.rglob("*") if p.is_file())
            for f in files:
                writing = f
                _fsync(f)
            writing = tmp / "trainer_state.json"
            sizes = {f.relative_to(tmp).as_posix(): f.stat().st_size for f in files}
            write_json(writing, {"epoch": epoch, "history": history, "config": asdict(cfg), "files": sizes})
            _fsync(writing)
            _fsync(tmp, directory=True)
            writing = None
            _rotate(ckpt)
    except BaseException as e:
        # Ctrl-C or a full disk mid-save: drop the partial folder; the previous checkpoint stays.
        if not acc.is_main_process:
            raise
        full = _disk_full(e)
        if full:
            writing = writing or _newest_file(tmp) or tmp
        shutil.rmtree(tmp, ignore_errors=True)
        if full:
            raise CheckpointDiskFull(_disk_full_message(ckpt, writing)) from None
        raise
    acc.wait_for_everyone()


def _rotate(ckpt: Path) -> None:
    """Switch the complete state.tmp/ in as state/ (see _save_checkpoint)."""
    cur, old, tmp = ckpt / STATE, ckpt / OLD, ckpt / TMP
    if old.exists():  # _tidy removed it; a stray one must never block the rename
        shutil.rmtree(old)
    if cur.exists():
        cur.rename(old)
    tmp.rename(cur)
    _fsync(ckpt, directory=True)
    # state/ is complete from here on; a state.old/ left half-deleted is removed by the next _tidy.
    shutil.rmtree(old, ignore_errors=True)


def _disk_full(e: BaseException | None) -> bool:
    """Whether `e` (or what caused it) says the disk is full: ENOSPC / EDQUOT, or the text
    safetensors ("No space left on device") and torch (inline_container ... unexpected pos) give."""
    for _ in range(8):
        if e is None:
            return False
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return True
        text = str(e)
        if "No space left on device" in text or "Disk quota exceeded" in text:
            return True
        if "inline_container" in text and "unexpected pos" in text:
            return True
        e = e.__cause__ or e.__context__
    return False


def _newest_file(folder: Path) -> Path | None:
    try:
        files = [p for p in folder.rglob("*") if p.is_file()]
        return max(files, key=lambda p: p.stat().st_mtime_ns) if files else None
    except OSError:
        return None


def _disk_full_message(ckpt: Path, writing: Path) -> str:
    try:
        n = shutil.disk_usage(ckpt).free
        free = f"{_size(n)} ({n:,} bytes) free"
    except OSError:
        free = "free space unknown"
    kept = _complete(ckpt / STATE) or _complete(ckpt / OLD)
    if kept:
        what = f"the last complete checkpoint, epoch {kept['epoch']}, is kept ({ckpt / STATE}); free space and rerun to resume"
    else:
        what = "no epoch had been checkpointed yet; free space and rerun (training starts over)"
    return f"no space left on device while writing checkpoint file {writing} ({free}); {what}"


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


def _progress(enabled: bool, desc: str, total: int, done: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    )
    bar.start()
    task = bar.add_task(desc, total=total, completed=done)
    return bar, task
