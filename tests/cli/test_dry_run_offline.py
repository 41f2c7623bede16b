"""--dry-run downloads nothing: the hub is offline while it checks (core/hubcache), a hub model
or data set is looked up in the local cache only and reported as cached (with its commit) or
"will download at run time", and prompt format 'chat' is checked without loading weights. Every
test here runs with an empty cache and with any network connection refused."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from helpers.cli import invoke


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty HF cache (hub and datasets), hub offline mode OFF (the dry run must switch it on
    itself), and any socket connection an error."""
    import datasets.config
    import huggingface_hub.constants as hub

    cache = tmp_path / "hf"
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError(f"a dry run opened a network connection: {args[:1]}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return cache


def run(*args) -> tuple[int, str]:
    return invoke(*args, env={"COLUMNS": "400"})


def test_learn_preset_dry_run_says_what_it_could_not_check(no_network: Path, tmp_path: Path) -> None:
    import huggingface_hub.constants as hub

    code, out = run("learn", "--preset", "amnesia", "--dry-run", "--out", tmp_path / "learn")
    assert code == 0, out
    assert "model CohereLabs/aya-expanse-8b: not in the local cache: will download at run time" in out
    assert "not checked: the data tofu:forget01 (its languages, splits and items): not in the local cache" in out
    assert "dry run: every input checked is valid" in out and "new: would run" in out
    assert hub.HF_HUB_OFFLINE is False  # offline only while the dry run ran


def test_unlearn_and_eval_preset_dry_runs_stay_offline(no_network: Path, tmp_path: Path) -> None:
    model = "CohereLabs/aya-expanse-8b"
    code, out = run(
        "unlearn", "--preset", "amnesia", "--dry-run", "--model", model, "--forget-langs", "en", "--out", tmp_path / "u"
    )
    assert code == 0, out
    assert f"model {model}: not in the local cache" in out and "not checked: the data tofu:forget01" in out
    code, out = run("eval", "--preset", "amnesia", "--dry-run", "--model", model, "--out", tmp_path / "e")
    assert code == 0, out
    assert "--max-length 200" in out and "not checked: the data tofu:forget01" in out


def test_kl_text_set_is_not_downloaded_by_a_dry_run(no_network: Path, tmp_path: Path) -> None:
    code, out = run(
        "unlearn",
        "--method",
        "grad_diff_kl_text",
        "--kl-text",
        "truthfulqa/truthful_qa",
        "--model",
        "tiny",
        "--langs",
        "en",
        "--dry-run",
        "--out",
        tmp_path / "kl",
    )
    assert code == 0, out
    assert (
        "not checked: general text set (KL term) truthfulqa/truthful_qa (generation): not in the local cache: "
        "will download at run time"
    ) in out
    assert '"kl_text": null' in out


def test_a_cached_hub_model_is_reported_with_its_commit(no_network: Path, tmp_path: Path) -> None:
    import huggingface_hub.constants as hub

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(hub.HF_HUB_CACHE) / "models--org--cached-model"
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}", encoding="utf-8")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit, encoding="utf-8")
    code, out = run("eval", "--model", "org/cached-model", "--langs", "en", "--dry-run", "--out", tmp_path / "e")
    assert code == 0, out
    assert f"model org/cached-model: in the local cache (commit {commit})" in out


def test_chat_prompt_format_is_refused_by_the_dry_run_as_by_the_run(no_network: Path, tmp_path: Path) -> None:
    message = "prompt format 'chat': the tokenizer has no chat template (use auto, plain or amnesia)"
    code, out = run(
        "learn", "--model", "tiny", "--langs", "en", "--prompt-format", "chat", "--dry-run", "--out", tmp_path / "c"
    )
    assert code == 2 and message in out, out
    # a hub model whose tokenizer is not cached: said, not downloaded
    code, out = run(
        "eval",
        "--model",
        "org/absent",
        "--langs",
        "en",
        "--prompt-format",
        "chat",
        "--dry-run",
        "--out",
        tmp_path / "h",
    )
    assert code == 0, out
    assert "not checked: prompt format 'chat' against the tokenizer of org/absent: not in the local cache" in out


def test_a_preset_value_given_again_is_not_an_override(no_network: Path, tmp_path: Path) -> None:
    code, out = run(
        "learn",
        "--preset",
        "amnesia",
        "--model",
        "tiny",
        "--data",
        "bundled",
        "--langs",
        "en",
        "--seed",
        42,
        "--batch-size",
        12,
        "--dry-run",
        "--out",
        tmp_path / "p",
    )
    assert code == 0, out
    assert "your options win over the preset: --model tiny (preset: CohereLabs/aya-expanse-8b), --data bundled" in out
    assert "(preset: 42)" not in out and "(preset: 12)" not in out
