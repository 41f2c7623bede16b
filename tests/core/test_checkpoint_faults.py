"""Crash consistency of the training checkpoints: the k-th file operation of a save (write,
rename, replace, unlink, rmtree) fails, for every k, with a Ctrl-C or a full disk; the rerun
then ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import errno
import os
import shutil

import accelerate.checkpointing
import pytest
import torch

from polyunlearn.core import trainloop
from polyunlearn.core.encoding import Encoder
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.models import build_tiny_model
from polyunlearn.core.trainloop import CheckpointDiskFull, TrainConfig, train
from polyunlearn.methods.reference import forward_logits

CFG = TrainConfig(lr=1e-3, epochs=3, batch_size=4)


def _loss(m, batch, _):
    return mean_nll(forward_logits(m, batch), batch["labels"]), {}


@pytest.fixture(scope="module")
def data(tokenizer, items):
    enc = Encoder(tokenizer)
    return [enc.encode(it.question, it.answer) for it in items[:4]]


def _train(tokenizer, data, ckpt=None):
    model, _ = train(
        build_tiny_model(tokenizer, seed=1),
        _loss,
        data,
        CFG,
        tokenizer.pad_token_id,
        checkpoint_dir=ckpt,
        progress=False,
    )
    return model


@pytest.fixture(scope="module")
def reference(tokenizer, data):
    return _train(tokenizer, data)


class Faults:
    """Wraps the file operations a save uses; only inside _save_checkpoint are they counted, and
    the k-th raises `fault` (once). A failing write leaves a truncated file behind, a failing
    rmtree a half-deleted tree: what a real interruption leaves."""

    def __init__(self, monkeypatch, k: int | None, fault):
        self.k, self.fault, self.n, self.active, self.kinds = k, fault, 0, False, []
        real_save = trainloop._save_checkpoint

        def save(*a, **kw):
            self.active = True
            try:
                return real_save(*a, **kw)
            finally:
                self.active = False

        monkeypatch.setattr(trainloop, "_save_checkpoint", save)
        for owner, name, kind in (
            (os, "rename", "rename"),
            (os, "replace", "replace"),
            (os, "unlink", "unlink"),
            (shutil, "rmtree", "rmtree"),
            (accelerate.checkpointing, "save", "write"),
            (torch, "save", "write"),
            (trainloop, "write_json", "write"),
        ):
            monkeypatch.setattr(owner, name, self._wrap(getattr(owner, name), kind))

    def _wrap(self, real, kind):
        def op(*a, **kw):
            if self.active:
                self.n += 1
                self.kinds.append(kind)
                if self.n == self.k:
                    self._damage(kind, a)
                    raise self.fault
            return real(*a, **kw)

        return op

    @staticmethod
    def _damage(kind, args):
        if kind == "write":  # (obj, path) or (path, obj): a truncated file
            path = next((a for a in args if isinstance(a, (str, os.PathLike))), None)
            if path is not None:
                with open(path, "wb") as f:
                    f.write(b"\0" * 7)
        elif kind == "rmtree":  # half-deleted: the biggest file goes first
            files = [p for p in os.scandir(args[0]) if p.is_file()] if os.path.isdir(args[0]) else []
            if files:
                os.remove(max(files, key=lambda p: p.stat().st_size).path)


def _assert_same(a, b):
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def _ops(monkeypatch, tokenizer, data, tmp_path) -> list[str]:
    with monkeypatch.context() as m:
        faults = Faults(m, None, None)
        _train(tokenizer, data, tmp_path / "count")
    return faults.kinds


@pytest.mark.parametrize(
    "fault",
    [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
    ids=["ctrl-c", "enospc"],
)
def test_every_interrupted_save_resumes_to_the_same_weights(monkeypatch, tokenizer, data, reference, tmp_path, fault):
    kinds = _ops(monkeypatch, tokenizer, data, tmp_path)
    assert {"write", "rename", "replace", "unlink", "rmtree"} <= set(kinds), kinds
    expected = KeyboardInterrupt if isinstance(fault, KeyboardInterrupt) else CheckpointDiskFull
    for k in range(1, len(kinds) + 1):
        ckpt = tmp_path / f"k{k}"
        with monkeypatch.context() as m:
            Faults(m, k, fault)
            try:
                _train(tokenizer, data, ckpt)
            except expected:
                pass
            # else: the fault hit a step whose failure a save tolerates (deleting state.old/)
        resumed = _train(tokenizer, data, ckpt)
        _assert_same(reference, resumed)
        left = sorted(p.name for p in ckpt.iterdir())
        assert left == ["state"], (k, kinds[k - 1], left)
    print(f"{type(fault).__name__}: {len(kinds)} fault points, all resumed to the same weights")


def _stopped_after(tokenizer, data, ckpt, epoch: int) -> None:
    """A run stopped (Ctrl-C) right after epoch `epoch`'s checkpoint."""

    def hook(e, _model):
        if e == epoch:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(
            build_tiny_model(tokenizer, seed=1),
            _loss,
            data,
            CFG,
            tokenizer.pad_token_id,
            checkpoint_dir=ckpt,
            progress=False,
            on_epoch_end=hook,
        )


def test_leftovers_of_an_interrupted_rotation_are_cleaned(tokenizer, data, reference, tmp_path):
    """The reported wedge: state/ (new) beside a half-deleted state.old/ (its weights gone) and a
    stray state.tmp/; the rerun's save used to fail renaming onto state.old/."""
    ckpt = tmp_path / "ck"
    _stopped_after(tokenizer, data, ckpt, 2)
    shutil.copytree(ckpt / "state", ckpt / "state.old")
    (ckpt / "state.old" / "model.safetensors").unlink()
    shutil.copytree(ckpt / "state.old", ckpt / "state.tmp")
    assert trainloop.resume_point(ckpt)[0] == 2
    _assert_same(reference, _train(tokenizer, data, ckpt))
    assert sorted(p.name for p in ckpt.iterdir()) == ["state"]


def test_checkpoint_of_the_previous_layout_resumes(tokenizer, data, reference, tmp_path):
    """A trainer_state.json without the file list (written before it existed) still resumes;
    so does a state.old/ alone (stopped between the two renames)."""
    ckpt = tmp_path / "ck"
    _stopped_after(tokenizer, data, ckpt, 1)
    state = trainloop.read_json(ckpt / "state" / "trainer_state.json")
    del state["files"]
    trainloop.write_json(ckpt / "state" / "trainer_state.json", state)
    (ckpt / "state").rename(ckpt / "state.old")
    assert trainloop.resume_point(ckpt)[0] == 1
    _assert_same(reference, _train(tokenizer, data, ckpt))
    assert sorted(p.name for p in ckpt.iterdir()) == ["state"]


def test_full_disk_is_one_line_naming_file_space_and_kept_epoch(monkeypatch, tokenizer, data, tmp_path):
    ckpt = tmp_path / "ck"
    real = accelerate.checkpointing.save
    saves = {"n": 0}

    def full_on_second_save(obj, f, *a, **kw):
        if str(f).endswith("model.safetensors"):
            saves["n"] += 1
            if saves["n"] == 2:
                open(f, "wb").close()
                raise RuntimeError(
                    'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No space left on device" })'
                )
        return real(obj, f, *a, **kw)

    monkeypatch.setattr(accelerate.checkpointing, "save", full_on_second_save)
    with pytest.raises(CheckpointDiskFull) as err:
        _train(tokenizer, data, ckpt)
    text = str(err.value)
    assert isinstance(err.value, ValueError)  # the CLI prints it as one line, exit 2 (cli/root.py)
    assert "\n" not in text
    assert f"{ckpt / 'state.tmp' / 'model.safetensors'}" in text
    assert "bytes) free" in text
    assert "the last complete checkpoint, epoch 1, is kept" in text and "free space and rerun to resume" in text
    assert sorted(p.name for p in ckpt.iterdir()) == ["state"]


def test_torch_full_disk_message_is_recognised():
    assert trainloop._disk_full(RuntimeError("[enforce fail at inline_container.cc:595] . unexpected pos 64 vs 0"))
    assert trainloop._disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert not trainloop._disk_full(OSError(errno.EACCES, "Permission denied"))
