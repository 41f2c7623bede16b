"""The tiny defaults (learning rate) follow the model itself, not its name: a saved tiny model
under any folder name gets them, a big one does not (core.models.is_tiny_model)."""

from __future__ import annotations

import json
import struct

import pandas as pd

from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.core.models import TINY_MAX_PARAMETERS, build_tiny_model, is_tiny_model, save_model
from polyunlearn.pipeline.phases import TINY_LR
from polyunlearn.pipeline.runs import ModelChoice


def _fake_safetensors(path, shapes: dict[str, list[int]]) -> None:
    """A safetensors file with this header (only the header is read to count parameters)."""
    header = json.dumps({k: {"dtype": "F32", "shape": v, "data_offsets": [0, 0]} for k, v in shapes.items()})
    path.write_bytes(struct.pack("<Q", len(header)) + header.encode())


def test_saved_tiny_model_gets_tiny_lr_under_any_name(tmp_path, tokenizer):
    folder = tmp_path / "my-renamed-run" / "weights"
    save_model(build_tiny_model(tokenizer), tokenizer, folder)
    assert is_tiny_model(str(folder))
    assert ModelChoice(str(folder)).train_config("unlearn", {}).lr == TINY_LR["unlearn"]
    assert ModelChoice(str(folder)).train_config("learn", {}).lr == TINY_LR["learn"]
    assert ModelChoice(str(folder), lora_r=4).train_config("unlearn", {}).lr == TINY_LR["unlearn"]
    assert ModelChoice(str(folder)).train_config("unlearn", {"lr": 1e-3}).lr == 1e-3  # --lr still wins
    assert not ModelChoice(str(folder)).tiny  # loaded from the folder, not built in-process


def test_tiny_rule_by_parameter_count(tmp_path):
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    _fake_safetensors(small / "model.safetensors", {"w": [1000, 1000]})
    _fake_safetensors(big / "model-00001-of-00002.safetensors", {"a": [TINY_MAX_PARAMETERS // 2]})
    _fake_safetensors(big / "model-00002-of-00002.safetensors", {"b": [TINY_MAX_PARAMETERS // 2]})
    assert is_tiny_model(str(small)) and not is_tiny_model(str(big))  # shards add up
    assert ModelChoice(str(big)).train_config("unlearn", {}).lr == 1e-5
    assert ModelChoice(str(big), lora_r=4).train_config("unlearn", {}).lr == 1e-4
    # a peft adapter folder is as its base model
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(small)}))
    assert is_tiny_model(str(adapter))
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(big)}))
    assert not is_tiny_model(str(adapter))
    # names: the in-process builders are tiny; a hub id or an empty folder is not
    assert is_tiny_model("tiny") and is_tiny_model("tiny-cohere")
    assert not is_tiny_model("meta-llama/Llama-3.2-1B") and not is_tiny_model(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    assert not is_tiny_model(str(tmp_path / "empty"))


def test_learn_then_unlearn_at_the_defaults_forgets(tmp_path):
    """README's two-command path (English only, to be quick): the unlearn default follows the
    learned tiny model, so forget Prob falls below half of the learned model's."""
    learned, unlearned = tmp_path / "L", tmp_path / "U"
    res = runner.invoke(app, ["learn", "--model", "tiny", "--langs", "en", "--out", str(learned), "--threads", "1"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["unlearn", "--model", str(learned / "model"), "--method", "npo", "--forget-langs", "en"]
        + ["--out", str(unlearned), "--threads", "1"],
    )
    assert res.exit_code == 0, res.output
    run = json.loads((unlearned / "run.json").read_text())
    assert '"lr": 0.0005' in json.dumps(run)
    before = pd.read_csv(learned / "eval" / "summary.csv").set_index("language").loc["en", "forget_prob"]
    after = pd.read_csv(unlearned / "eval" / "summary.csv").set_index("language").loc["en", "forget_prob"]
    assert after < before / 2, (before, after)
