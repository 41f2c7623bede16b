"""Experiment tracking (core/tracking.py, Accelerate's trackers): `learn` and `unlearn` with
--log-with tensorboard write every step's loss terms and the evaluation per language under
OUT/tracking, with the run's identity as the config, and the run folder still passes the
layout check; a tracker that is unknown or not installed is one line before any work; a stop
request ends training at the next step (the lost-claim path of a grid run). The grid's runs are
tracked in tests/e2e/test_grid_ray.py (on Ray workers)."""

from __future__ import annotations

import importlib.util

import pandas as pd
import pytest
import torch
import yaml

from helpers.cli import runner
from helpers.items import small_items
from polyunlearn.cli import app
from polyunlearn.core import tracking
from polyunlearn.core.atomic import read_json
from polyunlearn.core.rundir import check_run_folder
from polyunlearn.core.trainloop import TrainConfig, train
from polyunlearn.data.loaders import save_items


def _events(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder / "tracking" / "tensorboard"))
    acc.Reload()
    return acc


def _check_logged(out, terms):
    events = _events(out)
    history = read_json(out / "history.json")
    for term in terms:
        logged = events.Scalars(f"train/{term}")
        assert [e.step for e in logged] == [h["step"] for h in history]
        assert [e.value for e in logged] == pytest.approx([h[term] for h in history], rel=1e-5)
    summary = pd.read_csv(out / "eval" / "summary.csv").set_index("language")
    for lang in summary.index:
        (fp,) = events.Scalars(f"eval/forget_prob/{lang}")
        assert fp.step == len(history) and fp.value == pytest.approx(summary.loc[lang, "forget_prob"], rel=1e-5)
    assert not any(t.startswith("eval/forget_n") for t in events.Tags()["scalars"])  # counts are not metrics
    (hparams,) = (out / "tracking" / "tensorboard").glob("*/hparams.yml")
    return yaml.safe_load(hparams.read_text()), history


def test_learn_and_unlearn_log_to_tensorboard(tmp_path):
    data = save_items(small_items(("en", "fr")), tmp_path / "data.jsonl")
    learned = tmp_path / "learned"
    res = runner.invoke(app, ["learn", "--out", str(learned), "--data", str(data), "--epochs", "2", "--vocab-size", "400",
                              "--log-with", "tensorboard", "--threads", "1"], catch_exceptions=False)  # fmt: skip
    assert res.exit_code == 0, res.output
    config, _ = _check_logged(learned, ["loss", "lr"])
    identity = read_json(learned / "run.json")["identity"]
    assert config["train.lr"] == identity["train"]["lr"] == 3e-3 and config["kind"] == "learn"
    assert config["data"] == identity["data"] and config["languages"] == '["en", "fr"]'
    assert check_run_folder(learned) == []

    out = tmp_path / "npo"
    res = runner.invoke(app, ["unlearn", "--model", str(learned / "model"), "--out", str(out), "--data", str(data), "--method", "npo",
                              "--forget-langs", "en", "--epochs", "1", "--log-with", "tensorboard"], catch_exceptions=False)  # fmt: skip
    assert res.exit_code == 0, res.output
    history = read_json(out / "history.json")
    terms = [k for k in history[0] if k not in ("epoch", "step")]
    assert {"loss", "lr", "forget_term", "retain_term"} <= set(terms)  # NPO's own loss terms, as the method logs them
    config, _ = _check_logged(out, terms)
    assert config["unlearn.method"] == "npo" and config["unlearn.forget_langs"] == "en"
    assert check_run_folder(out) == []


@pytest.mark.parametrize("name, message", [("nope", "--log-with is 'nope'; choose from tensorboard, wandb, trackio, mlflow"),
                                           *[(n, f"--log-with {n} needs the {n} package") for n in ("wandb", "mlflow", "trackio") if importlib.util.find_spec(n) is None]])  # fmt: skip
def test_unknown_or_missing_tracker_is_one_line(tmp_path, name, message):
    res = runner.invoke(app, ["learn", "--out", str(tmp_path / "o"), "--log-with", name])
    assert res.exit_code == 2 and message in " ".join(res.output.split())
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_no_tracker_by_default(tmp_path):
    with tracking.run(tmp_path, {"a": 1}, "x") as tracker:
        assert tracker is None
    assert not (tmp_path / "tracking").exists()


def test_flat_config():
    ident = {
        "unlearn": {"method": "npo", "train": {"lr": 1e-3}},
        "languages": ["en", "fr"],
        "lora_r": None,
        "bf16": False,
    }
    assert tracking.flat_config(ident) == {
        "unlearn.method": "npo",
        "unlearn.train.lr": 1e-3,
        "languages": '["en", "fr"]',
        "lora_r": None,
        "bf16": False,
    }


def test_stop_request_ends_training_at_the_next_step(tokenizer):
    """What a grid run does when its claim was taken over: the step under way is the last."""
    from polyunlearn.core.encoding import Encoder
    from polyunlearn.core.models import build_tiny_model

    enc = Encoder(tokenizer)
    data = [enc.encode(f"q{k}", f"a{k}") for k in range(16)]
    steps = []

    def loss_fn(m, batch, _):
        steps.append(1)
        return torch.nn.functional.cross_entropy(
            m(input_ids=batch["input_ids"]).logits[:, :-1].flatten(0, 1), batch["input_ids"][:, 1:].flatten()
        ), {}

    stop = tracking.stop_when(lambda: "claim lost" if len(steps) >= 3 else None)
    with stop, pytest.raises(tracking.StopRequested, match="claim lost"):
        train(
            build_tiny_model(tokenizer),
            loss_fn,
            data,
            TrainConfig(lr=1e-4, epochs=2, batch_size=2),
            tokenizer.pad_token_id,
            progress=False,
        )
    assert len(steps) == 3
    assert tracking.progress()["step"] == 3 and tracking.progress()["total"] == 16
