"""Robustness of runs, end to end through the CLI:

- an exploding loss (a real one: gradient ascent at a huge learning rate) or a NaN stops the run
  with a clear message and a non-zero exit, and keeps the last good epoch checkpoint;
- Ctrl-C (KeyboardInterrupt) during training, while saving the model, or while writing the
  results leaves no half-written result: no model folder, no summary.csv, no temp files;
- a rerun resumes from the last epoch checkpoint instead of starting over, and refuses a
  checkpoint written with other training settings.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest
import transformers

from helpers.cli import invoke as cli_invoke
from polyunlearn.core.atomic import read_json
from polyunlearn.core.rundir import check_run_folder

# 60 items (en + fr) in batches of 16: 4 steps per epoch.
STEPS_PER_EPOCH = 4


@pytest.fixture(scope="module")
def files(learned_folder):
    """The test data as a JSONL file, and the learned tiny model saved like `learn` saves it."""
    return learned_folder("robust")


def invoke(args: list) -> tuple[int, str]:
    return cli_invoke(*args)


def learn_args(files: Path, out: Path, epochs: int, *extra) -> list:
    return [
        "learn",
        "--model",
        "tiny",
        "--data",
        files / "items.jsonl",
        "--epochs",
        epochs,
        "--batch-size",
        16,
        "--out",
        out,
        *extra,
    ]


def leftovers(out: Path) -> list[str]:
    """Temp files/folders of the atomic writers: model.tmp, state.tmp, .name.tmp<pid>."""
    return [str(p.relative_to(out)) for p in out.rglob("*") if ".tmp" in p.name]


def ckpt_state(out: Path) -> dict:
    return read_json(out / "ckpt" / "state" / "trainer_state.json")


class CountingNLL:
    """Stands in for pipeline.mean_nll (the learning loss): counts calls, and from call
    `fail_at` on returns NaN or raises KeyboardInterrupt."""

    def __init__(self, fail_at: int | None = None, failure: str = "nan"):
        from polyunlearn.core.logprobs import mean_nll

        self.real, self.calls, self.fail_at, self.failure = mean_nll, 0, fail_at, failure

    def __call__(self, logits, labels):
        self.calls += 1
        loss = self.real(logits, labels)
        if self.fail_at is not None and self.calls >= self.fail_at:
            if self.failure == "interrupt":
                raise KeyboardInterrupt
            return loss * float("nan")
        return loss


def test_exploding_loss_stops_and_keeps_last_good_checkpoint(files, tmp_path):
    """Gradient ascent with lr 1 makes -NLL run away quadratically; it passes the |loss| limit
    (1e3) after a few epochs, each of which was checkpointed. The last good epoch is kept as a
    loadable model folder, not only as an Accelerate state."""
    out = tmp_path / "ga"
    code, text = invoke(
        [
            "unlearn",
            "--model",
            files / "learned",
            "--data",
            files / "items.jsonl",
            "--method",
            "grad_ascent",
            "--forget-langs",
            "en",
            "--lr",
            1,
            "--epochs",
            8,
            "--batch-size",
            4,
            "--out",
            out,
            "--no-evaluate",
        ]
    )
    assert code == 3, text
    assert "training stopped" in text and "Lower the learning rate" in text
    m = re.search(r"loss is (\S+) at epoch (\d+), step (\d+) \(limit \|loss\| <= 1000\)", text)
    assert m, text
    loss, epoch = float(m.group(1)), int(m.group(2))
    assert abs(loss) > 1e3 and epoch >= 2
    assert (
        f"last good epoch: {epoch - 1}" in text and f"saved as a loadable model: {out / 'diverged' / 'model'}" in text
    )
    state = ckpt_state(out)
    assert state["epoch"] == epoch - 1  # the last complete epoch, every loss in it finite and in range
    assert all(math.isfinite(h["loss"]) and abs(h["loss"]) <= 1e3 for h in state["history"])
    assert read_json(out / "diverged" / "diverged.json")["last_good_epoch"] == epoch - 1
    kept = transformers.AutoModelForCausalLM.from_pretrained(out / "diverged" / "model", use_safetensors=True)
    assert kept is not None and not (out / "model").exists() and not leftovers(out)
    code, text = invoke(
        [
            "eval",
            "--model",
            out / "diverged" / "model",
            "--data",
            files / "items.jsonl",
            "--no-generate",
            "--out",
            tmp_path / "ev",
        ]
    )
    assert code == 0, text


def test_nan_stops_then_rerun_resumes(files, tmp_path, monkeypatch):
    import polyunlearn.pipeline.phases as pipeline

    out = tmp_path / "learn"
    bad = CountingNLL(fail_at=STEPS_PER_EPOCH + 2, failure="nan")  # 2nd step of epoch 2
    monkeypatch.setattr(pipeline, "mean_nll", bad)
    code, text = invoke(learn_args(files, out, 3, "--no-evaluate"))
    assert code == 3, text
    assert "training stopped: learn: loss is nan at epoch 2, step 6" in text
    assert ckpt_state(out)["epoch"] == 1 and not (out / "model").exists() and not leftovers(out)

    # Rerun, the NaN gone: epochs 2 and 3 only, from the epoch-1 checkpoint.
    good = CountingNLL()
    monkeypatch.setattr(pipeline, "mean_nll", good)
    code, text = invoke(learn_args(files, out, 3, "--no-evaluate"))
    assert code == 0, text
    assert good.calls == 2 * STEPS_PER_EPOCH
    history = read_json(out / "history.json")
    assert [h["step"] for h in history] == list(range(1, 3 * STEPS_PER_EPOCH + 1)) and {
        h["epoch"] for h in history
    } == {1, 2, 3}
    assert (out / "model" / "model.safetensors").exists() and not leftovers(out)
    assert not (out / "ckpt").exists() and check_run_folder(out) == []  # done: the checkpoint is gone


def _interrupt_in_training(monkeypatch):
    import polyunlearn.pipeline.phases as pipeline

    monkeypatch.setattr(pipeline, "mean_nll", CountingNLL(fail_at=STEPS_PER_EPOCH + 2, failure="interrupt"))


def _interrupt_while_saving_model(monkeypatch):
    real = transformers.PreTrainedModel.save_pretrained

    def save_then_interrupt(self, *args, **kwargs):
        real(self, *args, **kwargs)  # the weights are on disk (in the temp folder) ...
        raise KeyboardInterrupt  # ... and the tokenizer is not yet

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", save_then_interrupt)


def _interrupt_while_writing_summary(monkeypatch):
    real = pd.DataFrame.to_csv

    def half_then_interrupt(self, path=None, *args, **kwargs):
        # The atomic writer's temp name keeps the stem and suffix: .summary.<pid>-<id>.tmp.csv
        if path is not None and Path(path).name.startswith(".summary.") and str(path).endswith(".csv"):
            Path(path).write_text("language,forget_prob\nen,0.")  # half a table
            raise KeyboardInterrupt
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_interrupt)


@pytest.mark.parametrize("where", ["training", "saving the model", "writing the summary"])
def test_ctrl_c_leaves_no_half_written_result(where, files, tmp_path, monkeypatch):
    {
        "training": _interrupt_in_training,
        "saving the model": _interrupt_while_saving_model,
        "writing the summary": _interrupt_while_writing_summary,
    }[where](monkeypatch)
    out = tmp_path / "run"
    code, text = invoke(learn_args(files, out, 2))
    assert code == 130, text  # typer answers KeyboardInterrupt like a shell: 128 + SIGINT
    assert not leftovers(out), leftovers(out)
    assert not (out / "eval" / "summary.csv").exists()
    if where == "writing the summary":
        # The model was finished before the interrupt: complete and loadable.
        assert transformers.AutoModelForCausalLM.from_pretrained(out / "model") is not None
    else:
        assert not (out / "model").exists()
    # Epoch 1 (and, past training, epoch 2) was checkpointed completely.
    assert ckpt_state(out)["epoch"] == (1 if where == "training" else 2)


def test_rerun_refuses_checkpoint_with_other_settings(files, tmp_path):
    out = tmp_path / "run"
    code, text = invoke(learn_args(files, out, 1, "--no-evaluate"))
    assert code == 0, text
    code, text = invoke(learn_args(files, out, 1, "--no-evaluate", "--lr", 0.01))
    assert code == 2
    assert "made with other settings (train.lr: 0.003 -> 0.01)" in text and "--overwrite" in text
