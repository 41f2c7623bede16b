"""Tests of polyunlearn.data.tofu on a tiny fake TOFU folder with TOFU's real file names and
column names (hub files are <config>.json in JSON Lines), and on a monkeypatched hub."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyunlearn.data.loaders import save_items
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.data.tofu import load_tofu, load_tofu_config, normalize_forget


def _perturbed_row(i: int, who: str) -> dict:
    # The columns of TOFU's forgetNN_perturbed / retain_perturbed configs.
    return {
        "question": f"Where was {who} {i} born?",
        "answer": f"{who} {i} was born in Town{i}.",
        "paraphrased_answer": f"Town{i} is where {who} {i} was born.",
        "paraphrased_question": f"What is the birthplace of {who} {i}?",
        "perturbed_answer": [f"{who} {i} was born in Other{i}{k}." for k in range(3)],
    }


def _general_row(i: int) -> dict:
    # real_authors_perturbed / world_facts_perturbed also carry the multiple-choice options.
    return {
        "question": f"Who wrote book {i}?",
        "option1": "A",
        "option2": "B",
        "option3": "C",
        "option4": "D",
        "answer": "A",
        "perturbed_answer": ["B", "C", "D"],
    }


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture()
def fake_tofu(tmp_path: Path) -> Path:
    d = tmp_path / "tofu"
    d.mkdir()
    _jsonl(d / "forget10_perturbed.json", [_perturbed_row(i, "Forgotten") for i in range(4)])
    _jsonl(d / "forget05_perturbed.jsonl", [_perturbed_row(i, "Forgotten") for i in range(2)])
    _jsonl(d / "retain_perturbed.json", [_perturbed_row(i, "Kept") for i in range(3)])
    _jsonl(d / "retain90.json", [{"question": f"rq{i}", "answer": f"ra{i}"} for i in range(5)])
    _jsonl(d / "retain95.json", [{"question": f"rq{i}", "answer": f"ra{i}"} for i in range(6)])
    _jsonl(d / "real_authors_perturbed.json", [_general_row(i) for i in range(2)])
    _jsonl(d / "world_facts_perturbed.json", [_general_row(i) for i in range(2)])
    return d


def test_load_tofu_from_folder(fake_tofu: Path) -> None:
    items = load_tofu("forget10", language="en", source=fake_tofu)
    # TOFU's two general-knowledge sets stay two splits (Model Utility takes each separately).
    by_split = {
        s: [it for it in items if it.split == s] for s in ("forget", "retain", "real_authors", "world_facts", "general")
    }
    assert [len(v) for v in by_split.values()] == [4, 3, 2, 2, 0]
    f0 = by_split["forget"][0]
    assert f0 == QAItem(
        id="tofu-forget10:0",
        language="en",
        question="Where was Forgotten 0 born?",
        answer="Forgotten 0 was born in Town0.",
        paraphrased_answer="Town0 is where Forgotten 0 was born.",
        perturbed_answer=[
            "Forgotten 0 was born in Other00.",
            "Forgotten 0 was born in Other01.",
            "Forgotten 0 was born in Other02.",
        ],
        split="forget",
    )
    assert [it.id for it in by_split["retain"]] == ["tofu-retain:0", "tofu-retain:1", "tofu-retain:2"]
    assert [it.id for it in by_split["real_authors"]] == ["tofu-real_authors:0", "tofu-real_authors:1"]
    assert [it.id for it in by_split["world_facts"]] == ["tofu-world_facts:0", "tofu-world_facts:1"]
    assert by_split["real_authors"][0].perturbed_answer == ["B", "C", "D"]
    assert len({it.key for it in items}) == len(items)


def test_retain_train_and_options(fake_tofu: Path) -> None:
    items = load_tofu(5, source=fake_tofu, retain="train", general=False, use_paraphrased_question=True)
    assert len(items) == 2 + 6
    assert items[0].question == "What is the birthplace of Forgotten 0?"
    retain = [it for it in items if it.split == "retain"]
    assert retain[0].id == "tofu-retain95:0" and retain[0].perturbed_answer == []
    with pytest.raises(DataError, match="retain is 'both'"):
        load_tofu(source=fake_tofu, retain="both")


def test_translated_copy_with_language_column(tmp_path: Path, fake_tofu: Path) -> None:
    # A translated TOFU: same file layout, a language column, same row order -> same ids.
    fr = tmp_path / "tofu_fr"
    fr.mkdir()
    rows = [dict(_perturbed_row(i, "Oublié"), language="fr") for i in range(4)]
    _jsonl(fr / "forget10_perturbed.jsonl", rows)
    fr_items = load_tofu_config("forget10_perturbed", language="en", source=fr, split="forget")
    en_items = load_tofu_config("forget10_perturbed", source=fake_tofu, split="forget")
    assert {it.language for it in fr_items} == {"fr"}
    assert [it.id for it in fr_items] == [it.id for it in en_items]


def test_parquet_config_file(tmp_path: Path) -> None:
    d = tmp_path / "pq"
    d.mkdir()
    save_items([QAItem("k1", "ru", "вопрос?", "ответ.", "", ["нет."], "retain")], d / "retain_perturbed.parquet")
    items = load_tofu_config("retain_perturbed", source=d, split="retain")
    assert items[0].id == "k1" and items[0].language == "ru"


def test_errors(fake_tofu: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"TOFU config 'forget01_perturbed' not found in .*forget01_perturbed\.jsonl"):
        load_tofu("forget01", source=fake_tofu)
    with pytest.raises(DataError, match="TOFU source folder not found"):
        load_tofu(source=str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="unknown TOFU forget set 'forget20'"):
        load_tofu("forget20", source=fake_tofu)
    _jsonl(fake_tofu / "world_facts_perturbed.json", [_general_row(0), {"question": "q"}])
    with pytest.raises(DataError, match=r"world_facts_perturbed\.json: line 2: missing or empty field 'answer'"):
        load_tofu(source=fake_tofu, strict=True)
    skipped = []
    assert len(load_tofu(source=fake_tofu, skipped=skipped)) == 4 + 3 + 2 + 1
    assert len(skipped) == 1 and skipped[0].where.endswith("world_facts_perturbed.json: line 2")


@pytest.mark.parametrize(
    ("given", "expected"),
    [("forget10", "forget10"), ("forget05_perturbed", "forget05"), ("1", "forget01"), (10, "forget10")],
)
def test_normalize_forget(given: str | int, expected: str) -> None:
    assert normalize_forget(given) == expected


def test_hub_configs(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, config: str | None = None, split: str | None = None) -> list[dict]:
        calls.append((name, config, split))
        return [_general_row(0)] if "authors" in config or "world" in config else [_perturbed_row(0, config)]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = load_tofu("forget01", language="en")
    # TOFU's protocol: evaluated configs, then the training copies (forget01 + retain99 = full).
    assert calls == [
        ("locuslab/TOFU", "forget01_perturbed", "train"),
        ("locuslab/TOFU", "retain_perturbed", "train"),
        ("locuslab/TOFU", "real_authors_perturbed", "train"),
        ("locuslab/TOFU", "world_facts_perturbed", "train"),
        ("locuslab/TOFU", "forget01", "train"),
        ("locuslab/TOFU", "retain99", "train"),
    ]
    assert [it.split for it in items] == [
        "forget",
        "retain",
        "real_authors",
        "world_facts",
        "forget_train",
        "retain_train",
    ]
    assert [it.id for it in items[-2:]] == ["tofu-forget01-train:0", "tofu-retain99:0"]
    calls.clear()
    assert [it.split for it in load_tofu("forget01", train_sets=False)] == [
        "forget",
        "retain",
        "real_authors",
        "world_facts",
    ]


def test_holdout_from_folder_when_present(fake_tofu: Path) -> None:
    assert not [it for it in load_tofu(source=fake_tofu) if it.split == "holdout"]  # no file: none
    _jsonl(
        fake_tofu / "holdout10.json",
        [{"question": f"Where was Unseen {i} born?", "answer": f"In Far{i}."} for i in range(3)],
    )
    items = load_tofu(source=fake_tofu)
    held = [it for it in items if it.split == "holdout"]
    assert [it.id for it in held] == ["tofu-holdout10:0", "tofu-holdout10:1", "tofu-holdout10:2"]
    assert held[2].answer == "In Far2." and held[0].perturbed_answer == []
    assert not [it for it in load_tofu(source=fake_tofu, holdout=False) if it.split == "holdout"]
    with pytest.raises(DataError, match="TOFU config 'holdout05' not found"):
        load_tofu("forget05", source=fake_tofu, holdout=True)


def test_hub_holdout_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, config: str | None = None, split: str | None = None) -> list[dict]:
        calls.append(config)
        return [_perturbed_row(0, config)]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = load_tofu("forget05", general=False, holdout=True, train_sets=False)
    assert calls == ["forget05_perturbed", "retain_perturbed", "holdout05"]
    assert [it.split for it in items] == ["forget", "retain", "holdout"]
