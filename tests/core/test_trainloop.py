"""The generic loop: NaN/explosion stops with a clear message; a run interrupted after an epoch
resumes from its checkpoint and ends with the same weights as an uninterrupted run."""

from __future__ import annotations

import pytest
import torch

from polyunlearn.core.encoding import Encoder
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.models import build_tiny_model
from polyunlearn.core.trainloop import TrainConfig, TrainingDiverged, train
from polyunlearn.methods.reference import forward_logits


def _data(tokenizer, items):
    enc = Encoder(tokenizer)
    return [enc.encode(it.question, it.answer) for it in items[:12]]


def nll_loss(m, batch, _):
    return mean_nll(forward_logits(m, batch), batch["labels"]), {}


def test_nan_loss_stops_with_message(tokenizer, items, tmp_path):
    model = build_tiny_model(tokenizer)
    calls = {"n": 0}

    def bad_loss(m, batch, other):
        calls["n"] += 1
        loss, logs = nll_loss(m, batch, other)
        return (loss * float("nan") if calls["n"] > 3 else loss), logs

    cfg = TrainConfig(lr=1e-3, epochs=3, batch_size=4)
    with pytest.raises(TrainingDiverged, match=r"loss is nan at epoch 2, step 4.*last good epoch: 1"):
        train(
            model,
            bad_loss,
            _data(tokenizer, items),
            cfg,
            tokenizer.pad_token_id,
            checkpoint_dir=tmp_path / "ck",
            progress=False,
        )
    assert (tmp_path / "ck" / "state" / "trainer_state.json").exists()


def test_resume_matches_uninterrupted_run(tokenizer, items, tmp_path):
    data = _data(tokenizer, items)
    cfg = TrainConfig(lr=1e-3, epochs=2, batch_size=4)
    full, hist_full = train(
        build_tiny_model(tokenizer, seed=1), nll_loss, data, cfg, tokenizer.pad_token_id, progress=False
    )

    # Simulate a crash during epoch 2: stop the loss function there, after epoch 1 was saved.
    calls = {"n": 0}

    def crashing(m, batch, other):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return nll_loss(m, batch, other)

    ck = tmp_path / "ck"
    with pytest.raises(KeyboardInterrupt):
        train(
            build_tiny_model(tokenizer, seed=1),
            crashing,
            data,
            cfg,
            tokenizer.pad_token_id,
            checkpoint_dir=ck,
            progress=False,
        )
    resumed, hist = train(
        build_tiny_model(tokenizer, seed=1),
        nll_loss,
        data,
        cfg,
        tokenizer.pad_token_id,
        checkpoint_dir=ck,
        progress=False,
    )
    assert [h["step"] for h in hist] == [h["step"] for h in hist_full]
    for a, b in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_config_validation():
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine")
