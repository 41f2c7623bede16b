"""The `--data` resolver (polyunlearn.data.resolve) and the CLI's use of it: bundled data, the
concept benchmark, TOFU from a local folder in TOFU's own file layout (a translated copy with a
`language` column plugs in) or from the hub (monkeypatched), SeeGULL CSVs, plain files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.cli.root import load_data as _load_data
from polyunlearn.data.loaders import save_items
from polyunlearn.data.resolve import parse_tofu_spec, resolve_data
from polyunlearn.data.schema import DataError, QAItem


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def _row(i: int, who: str, lang: str | None = None) -> dict:
    # TOFU's *_perturbed columns; a translated copy adds `language`.
    row = {
        "question": f"Where was {who} {i} born?",
        "answer": f"{who} {i} was born in Town{i}.",
        "paraphrased_answer": f"Town{i} is where {who} {i} was born.",
        "paraphrased_question": f"What is the birthplace of {who} {i}?",
        "perturbed_answer": [f"{who} {i} was born in Other{i}{k}." for k in range(3)],
    }
    return {**row, "language": lang} if lang else row


@pytest.fixture()
def translated_tofu(tmp_path: Path) -> Path:
    """A local TOFU folder holding an English and a French copy of every row (hub file names:
    <config>.json in JSON Lines), told apart by a `language` column."""
    d = tmp_path / "tofu_en_fr"
    d.mkdir()
    for config, who, n in (
        ("forget05_perturbed", "Forgotten", 2),
        ("forget10_perturbed", "Forgotten", 3),
        ("retain_perturbed", "Kept", 4),
    ):
        _jsonl(
            d / f"{config}.json",
            [_row(i, who, "en") for i in range(n)] + [_row(i, who + "-fr", "fr") for i in range(n)],
        )
    general = {
        "question": "Who wrote Hamlet?",
        "answer": "Shakespeare",
        "perturbed_answer": ["Marlowe", "Milton"],
        "option1": "a",
        "language": "en",
    }
    for config in ("real_authors_perturbed", "world_facts_perturbed"):
        _jsonl(d / f"{config}.json", [general])
    return d


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("forget10", (None, "forget10", "en")),
        ("5", (None, "forget05", "en")),
        ("forget01:fr", (None, "forget01", "fr")),
        # A local folder's language comes from its files or folder names, never from a default.
        ("data/tofu_fr:forget05", ("data/tofu_fr", "forget05", None)),
        ("data/tofu_fr:forget05:ja", ("data/tofu_fr", "forget05", "ja")),
        ("data/tofu_he:forget05:iw", ("data/tofu_he", "forget05", "he")),  # legacy code accepted
        ("data/tofu_fr", ("data/tofu_fr", "forget10", None)),
        ("C:/tofu:forget01", ("C:/tofu", "forget01", None)),  # ':' inside the folder survives
    ],
)
def test_parse_tofu_spec(spec: str, expected: tuple) -> None:
    assert parse_tofu_spec(spec) == expected


def test_local_translated_tofu_with_language_column(translated_tofu: Path) -> None:
    items = resolve_data(f"tofu:{translated_tofu}:forget05")
    by = {
        (it.split, it.language): [i for i in items if (i.split, i.language) == (it.split, it.language)] for it in items
    }
    assert {k: len(v) for k, v in by.items()} == {
        ("forget", "en"): 2,
        ("forget", "fr"): 2,
        ("retain", "en"): 4,
        ("retain", "fr"): 4,
        ("real_authors", "en"): 1,
        ("world_facts", "en"): 1,
    }
    fr = by[("forget", "fr")][0]
    assert fr.question == "Where was Forgotten-fr 0 born?" and len(fr.perturbed_answer) == 3
    assert all(it.id.startswith("tofu-forget05:") for it in by[("forget", "en")])
    only_fr = resolve_data(f"tofu:{translated_tofu}:forget10", "fr")
    assert {it.language for it in only_fr} == {"fr"} and sum(it.split == "forget" for it in only_fr) == 3
    # The CLI's loader is the resolver.
    assert _load_data(f"tofu:{translated_tofu}:forget05", "fr") == resolve_data(
        f"tofu:{translated_tofu}:forget05", "fr"
    )


def test_local_tofu_without_language_column_takes_the_spec_language(tmp_path: Path) -> None:
    d = tmp_path / "tofu_ja"
    d.mkdir()
    _jsonl(d / "forget01_perturbed.jsonl", [_row(0, "忘れ")])
    _jsonl(d / "retain_perturbed.jsonl", [_row(0, "残り"), _row(1, "残り")])
    for config in ("real_authors_perturbed", "world_facts_perturbed"):
        _jsonl(d / f"{config}.jsonl", [{"question": "q", "answer": "a", "perturbed_answer": ["b"]}])
    items = resolve_data(f"tofu:{d}:forget01:ja")
    assert {it.language for it in items} == {"ja"}
    assert [it.split for it in items] == ["forget", "retain", "retain", "real_authors", "world_facts"]
    # One folder per language keeps TOFU's row-index ids, so they match the English ones (parallel).
    assert [it.id for it in items[:3]] == ["tofu-forget01:0", "tofu-retain:0", "tofu-retain:1"]


def test_tofu_hub_id_goes_to_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, config: str | None = None, split: str | None = None) -> list[dict]:
        calls.append((name, config))
        return [_row(0, config)]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = resolve_data("tofu:forget01")
    assert calls[0] == ("locuslab/TOFU", "forget01_perturbed") and len(calls) == 6
    assert [it.split for it in items] == [
        "forget",
        "retain",
        "real_authors",
        "world_facts",
        "forget_train",
        "retain_train",
    ]
    assert {it.language for it in items} == {"en"}  # the hub set is English


def test_tofu_errors(tmp_path: Path, translated_tofu: Path) -> None:
    with pytest.raises(DataError, match="TOFU source folder not found"):
        resolve_data(f"tofu:{tmp_path / 'nowhere'}:forget10")
    with pytest.raises(DataError, match="forget01_perturbed' not found in"):
        resolve_data(f"tofu:{translated_tofu}:forget01")
    with pytest.raises(DataError, match="empty TOFU spec"):
        resolve_data("tofu:")
    with pytest.raises(ValueError, match="language 'ja' is not available here; available: en, fr"):
        resolve_data(f"tofu:{translated_tofu}:forget05", "ja")


def test_bundled_concept_and_files(tmp_path: Path) -> None:
    bundled = resolve_data("bundled", "en,ko")
    assert {it.language for it in bundled} == {"en", "ko"} and len(bundled) == 240
    concept = resolve_data("concept", "en")
    assert sum(it.split == "forget" for it in concept) == 20  # the stereotypes only
    assert all(it.id.startswith("stereo-") for it in concept if it.split == "forget")
    path = save_items([QAItem("a", "en", "q?", "x"), QAItem("a", "de", "q?", "y")], tmp_path / "two.jsonl")
    assert [it.language for it in resolve_data(str(path), "de")] == ["de"]
    with pytest.raises(DataError, match="file not found"):
        resolve_data(str(tmp_path / "missing.jsonl"))


def test_seegull_spec(tmp_path: Path) -> None:
    header = "identity,attribute"
    rows = ["Quorlish,lazy", "Brannite,loud", "Ormundi,punctual", "Velsh,stingy"]
    path = tmp_path / "sg.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="language unknown"):
        resolve_data(f"seegull:{path}")  # no :LANG and no code in the file name: never English by default
    items = resolve_data(f"seegull:{path}:en")
    assert len(items) == 4 and {it.language for it in items} == {"en"} and {it.split for it in items} == {"forget"}
    assert all(len(it.perturbed_answer) == 3 for it in items)
    with pytest.raises(DataError, match="no SeeGULL question template for language 'hy'"):
        resolve_data(f"seegull:{path}:hy")


def test_command_help_documents_the_syntax() -> None:
    res = runner.invoke(app, ["learn", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "tofu:DIR:FORGET" in res.output and "seegull:" in res.output
