"""Tests of polyunlearn.data.loaders: round trips through every file format, the column rules
(ids, language, perturbed_answer encodings), error messages that name file/record/field, and
the hub path (datasets.load_dataset monkeypatched: no network)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from polyunlearn.data import loaders
from polyunlearn.data.loaders import load_items, looks_like_path, parse_perturbed, save_items
from polyunlearn.data.schema import DataError, QAItem, SkippedRow, SkippedRowsWarning

ITEMS = [
    QAItem(
        "a1", "en", "Who wrote X?", "Ann wrote X.", "X was written by Ann.", ["Bob wrote X.", "Cy wrote X."], "forget"
    ),
    QAItem("a1", "ja", "Xを書いたのは誰？", "アンです。", "書いたのはアン。", ["ボブです。", "サイです。"], "forget"),
    QAItem("b2", "ar", "من كتب Y؟", "كتبها سامي.", "", [], "retain"),
    QAItem(
        "c3",
        "fr",
        "Qui a écrit « Z » ?",
        'Zoé, dite "la plume" | poète.',
        "Zoé l'a écrit.",
        ["Léa, a|b", "Max"],
        "general",
    ),
]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.mark.parametrize("name", ["items.jsonl", "items.json", "items.csv", "items.parquet", "items.ndjson"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = save_items(ITEMS, tmp_path / "sub" / name)
    assert path.is_file()
    assert load_items(path) == ITEMS
    # The write is atomic: no temporary file is left next to the target.
    assert [p.name for p in path.parent.iterdir()] == [name]


def test_csv_keeps_pipes_inside_json_lists(tmp_path: Path) -> None:
    # Written CSV encodes the list as JSON, so a '|' inside an answer is not a separator.
    path = save_items(ITEMS[3:], tmp_path / "x.csv")
    assert load_items(path)[0].perturbed_answer == ["Léa, a|b", "Max"]


def test_save_overwrites_and_failure_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_items(ITEMS[:1], tmp_path / "x.jsonl")
    save_items(ITEMS, path)
    assert len(load_items(path)) == 4

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        save_items(ITEMS[:1], path)
    assert len(load_items(path)) == 4  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.jsonl"]  # and the temp file is gone


def test_csv_perturbed_encodings_and_index_ids(tmp_path: Path) -> None:
    # TOFU-like columns: no id, no language, no split.
    path = _write_csv(
        tmp_path / "tofu_like.csv",
        ["question", "answer", "paraphrased_answer", "perturbed_answer"],
        [
            ["q0", "a0", "p0", '["w1", "w2"]'],
            ["q1", "a1", "p1", "w1 | w2|w3"],
            ["q2", "a2", "p2", r"""['it\'s', "b's"]"""],  # what pandas writes for a list cell
            ["q3", "a3", "", "single wrong answer"],
            ["q4", "a4", "", ""],
        ],
    )
    items = load_items(path, language="hi", split="forget")
    assert [it.id for it in items] == ["0", "1", "2", "3", "4"]
    assert {it.language for it in items} == {"hi"} and {it.split for it in items} == {"forget"}
    assert items[0].perturbed_answer == ["w1", "w2"]
    assert items[1].perturbed_answer == ["w1", "w2", "w3"]
    assert items[2].perturbed_answer == ["it's", "b's"]
    assert items[3].perturbed_answer == ["single wrong answer"]
    assert items[4].perturbed_answer == []


def test_language_column_wins_over_argument(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    rows = [{"question": "q", "answer": "a", "language": "ko"}, {"question": "q2", "answer": "a2"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    items = load_items(path, language="en")
    assert [it.language for it in items] == ["ko", "en"]


def test_tofu_json_is_json_lines(tmp_path: Path) -> None:
    # TOFU's hub files are named .json but hold one object per line.
    path = tmp_path / "forget01.json"
    path.write_text('{"question": "q1", "answer": "a1"}\n\n{"question": "q2", "answer": "a2"}\n', encoding="utf-8")
    assert [it.answer for it in load_items(path, language="en")] == ["a1", "a2"]


def test_json_object_with_data_list(tmp_path: Path) -> None:
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"meta": 1, "data": [{"id": 7, "question": "q", "answer": "a"}]}), encoding="utf-8")
    assert load_items(path, language="id")[0].id == "7"


# ----------------------------------------------------------------------------- errors


def test_empty_answer_is_skipped_and_reported_with_its_line(tmp_path: Path) -> None:
    path = _write_csv(
        tmp_path / "bad.csv",
        ["question", "answer", "language"],
        [["q", "a", "en"], ["q2", "", "en"], ["q3", "c", "en"]],
    )
    skipped: list[SkippedRow] = []
    items = load_items(path, skipped=skipped)
    # The skipped row keeps its index: the row after it is still id "2" (parallel ids stay aligned).
    assert [it.id for it in items] == ["0", "2"]
    assert [(r.where.endswith("bad.csv: line 3"), r.reason) for r in skipped] == [
        (True, "missing or empty field 'answer'")
    ]
    with pytest.warns(
        SkippedRowsWarning, match=r"1 row skipped: .*bad\.csv: line 3 \(missing or empty field 'answer'\)"
    ):
        load_items(path)  # no sink given: a warning, never silence
    with pytest.raises(DataError, match=r"bad\.csv: line 3: missing or empty field 'answer'"):
        load_items(path, strict=True)


def test_missing_answer_in_jsonl_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n{"question": "q2"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: missing or empty field 'answer'"):
        load_items(path, language="en", strict=True)
    path.write_text('{"question": "q", "reply": "a"}\n', encoding="utf-8")
    with pytest.raises(
        DataError, match=r"bad\.jsonl: line 1: no column 'answer' in this source \(columns: question, reply\)"
    ):
        load_items(path, language="en")  # a column no row has is always an error
    path.write_text('{"question": "q", "answer": ""}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"no usable row: all 1 rows skipped"):
        load_items(path, language="en", skipped=[])


def test_multilanguage_file_without_ids_numbers_rows_per_language(tmp_path: Path) -> None:
    """A file with a language column and no id column: row k of each language is id k, so the
    same fact shares its id across languages (before the fix ids ran over the whole file)."""
    rows = [["q0", "a0", "en"], ["q1", "a1", "en"], ["fq0", "fa0", "fr"], ["iq0", "ia0", "iw"], ["fq1", "fa1", "fr"]]
    path = _write_csv(tmp_path / "multi.csv", ["question", "answer", "language"], rows)
    items = load_items(path)
    assert [(it.language, it.id) for it in items] == [("en", "0"), ("en", "1"), ("fr", "0"), ("he", "0"), ("fr", "1")]


def test_unknown_language_in_column(tmp_path: Path) -> None:
    path = save_items(ITEMS[:1], tmp_path / "x.parquet")
    import pyarrow.parquet as pq

    table = pq.read_table(path).to_pylist()
    table[0]["language"] = "xx"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(table), encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.json: row 1: field 'language'.*'xx'"):
        load_items(bad)


def test_bad_arguments(tmp_path: Path) -> None:
    path = save_items(ITEMS, tmp_path / "x.jsonl")
    with pytest.raises(DataError, match="language argument.*'zz'"):
        load_items(path, language="zz")
    with pytest.raises(DataError, match="split argument is 'test'"):
        load_items(path, split="test")


@pytest.mark.parametrize("missing", ["data/nope.jsonl", "nope.csv", "./nope", "/abs/dir/x", "a/b/c", "~/nope.parquet"])
def test_missing_local_path_is_not_a_hub_call(missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(loaders, "_read_hub", lambda *a: pytest.fail("hub called for a local path"))
    with pytest.raises(DataError, match="file not found: "):
        load_items(missing, language="en")


def test_invalid_json_line_and_duplicate_ids(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n{oops\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"x\.jsonl: line 2: invalid JSON"):
        load_items(path, language="en")
    path.write_text(
        '{"id": 1, "question": "q", "answer": "a"}\n{"id": "1", "question": "q2", "answer": "a2"}\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"line 2: field 'id': duplicate id '1'"):
        load_items(path, language="en")


def test_id_column_requires_every_row(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "ids.csv", ["id", "question", "answer"], [["x", "q", "a"], ["", "q2", "a2"]])
    with pytest.raises(DataError, match=r"line 3: missing field 'id'"):
        load_items(path, language="en")


def test_bad_perturbed_answer() -> None:
    with pytest.raises(DataError, match="r9: field 'perturbed_answer'"):
        parse_perturbed("[1, 2", "r9")
    with pytest.raises(DataError, match="every element must be a string"):
        parse_perturbed([1, 2], "r9")
    with pytest.raises(DataError, match="expected a list of strings"):
        parse_perturbed(3, "r9")


def test_unsupported_extension_and_directory(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi", encoding="utf-8")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_items(tmp_path / "x.txt")
    with pytest.raises(DataError, match="is a directory"):
        load_items(tmp_path)


# ----------------------------------------------------------------------------- hub ids


def test_hub_id_goes_to_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name: str, config: str | None = None, split: str | None = None) -> list[dict]:
        calls.append((name, config, split))
        return [{"question": "q", "answer": "a", "perturbed_answer": ["w"]}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    items = load_items("someone/Translated-TOFU", language="fa", split="forget", hf_config="forget10_perturbed")
    assert calls == [("someone/Translated-TOFU", "forget10_perturbed", "train")]
    assert items == [QAItem("0", "fa", "q", "a", "", ["w"], "forget")]


def test_hub_failure_is_a_data_error(monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")

    def fail(*a: object, **k: object) -> None:
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", fail)
    with pytest.raises(DataError, match="not a local file.*ConnectionError: offline"):
        load_items("someone/nothing", language="en")


@pytest.mark.parametrize(
    ("s", "expected"),
    [
        ("locuslab/TOFU", False),
        ("TOFU", False),
        ("org/name.v2", False),
        ("data/x.jsonl", True),
        ("x.CSV", True),
        ("./x", True),
        ("/x", True),
        ("~/x", True),
        ("a/b/c", True),
        ("C:\\data\\x", True),
    ],
)
def test_looks_like_path(s: str, expected: bool) -> None:
    assert looks_like_path(s) is expected
