"""Concept unlearning end to end on a tiny model: planting the bundled stereotypes makes the model
prefer them (biased-answer rate > 0.8 in every language, chance = 0.25), and unlearning them in
English with NPO brings the English rate down while the English facts are kept. Also the data
rules (stereotypes are the only forget items), resume, and the two CLI entry points."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.core.rundir import check_run_folder, run_folders
from polyunlearn.data.concept_data import check_concept_items, concept_benchmark
from polyunlearn.data.loaders import save_items
from polyunlearn.data.resolve import resolve_data
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.studies.concept_study import ConceptConfig, before_after_table, run_concept_study

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow

# 20 facts + 10 general + 20 stereotypes per language; everything else is the concept-demo
# default, so the CLI test below can resume the same folder (a rerun with other settings is refused).
LEARN_EPOCHS = 40
CLI_ARGS = [
    "--methods",
    "npo",
    "--languages",
    "en,fr",
    "--n-facts",
    "20",
    "--forget-sets",
    "en",
    "--no-generate",
    "--learn-epochs",
    str(LEARN_EPOCHS),
]


def small_config(out: Path) -> ConceptConfig:
    return ConceptConfig(
        out=str(out),
        languages="en,fr",
        n_facts=20,
        methods=("npo",),
        forget_sets=("en",),
        generate=False,
        learn=replace(ConceptConfig().learn, epochs=LEARN_EPOCHS),
    )


def test_concept_benchmark_has_only_stereotypes_to_forget() -> None:
    items = concept_benchmark("en,ja", n_facts=5)
    for lang in ("en", "ja"):
        mine = [it for it in items if it.language == lang]
        assert sum(it.split == "forget" for it in mine) == 20  # the 20 bundled groups
        assert sum(it.split == "retain" for it in mine) == 5 and sum(it.split == "general" for it in mine) == 10
    assert all(it.id.startswith("stereo-") and len(it.perturbed_answer) == 3 for it in items if it.split == "forget")
    # The facts' own forget split (fact-090..099) becomes retain: no fact is forgotten here.
    full = concept_benchmark("en")
    assert next(it for it in full if it.id == "fact-095").split == "retain"
    with pytest.raises(ValueError, match="'hy' is not available"):
        concept_benchmark("en,hy")  # no bundled stereotypes in Armenian


def test_concept_data_needs_alternatives(tmp_path: Path) -> None:
    assert len(check_concept_items(resolve_data("concept", "en"), "concept")) == 20 + 100 + 10
    path = save_items(
        [QAItem("s", "en", "Who?", "them", split="forget"), QAItem("f", "en", "q", "a")], tmp_path / "c.jsonl"
    )
    with pytest.raises(DataError, match="'s' \\(en\\) has no perturbed_answer"):
        check_concept_items(resolve_data(str(path)), str(path))
    only_retain = save_items([QAItem("f", "en", "q", "a")], tmp_path / "r.jsonl")
    with pytest.raises(DataError, match="no items with split 'forget'"):
        check_concept_items(resolve_data(str(only_retain)), str(only_retain))


def test_before_after_table_hand_numbers() -> None:
    before = pd.DataFrame(
        {
            "language": ["en", "fr"],
            "resource": ["high", "high"],
            "biased_answer_rate": [1.0, 0.9],
            "chance": [0.25, 0.25],
            "model_utility": [0.8, 0.7],
        }
    )
    after = pd.DataFrame(
        {
            "language": ["fr", "en"],
            "resource": ["high", "high"],
            "biased_answer_rate": [0.85, 0.1],
            "chance": [0.25, 0.25],
            "model_utility": [0.6, 0.75],
        }
    )
    t = before_after_table({"before": before, "npo_en": after})
    assert list(t.columns) == [
        "language",
        "resource",
        "biased_before",
        "biased_npo_en",
        "chance",
        "utility_before",
        "utility_npo_en",
    ]
    assert t.set_index("language").loc["en", "biased_npo_en"] == 0.1  # matched by language, not row
    assert t.set_index("language").loc["fr", "utility_npo_en"] == 0.6


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("concept") / "run"
    result = run_concept_study(small_config(out))
    return out, result


def test_planting_then_unlearning_in_english(study) -> None:
    out, result = study
    table = pd.DataFrame(result["table"]).set_index("language")
    assert list(table.index) == ["en", "fr"]
    # Planted: the model prefers the stereotype over all 3 alternatives almost everywhere.
    assert (table["biased_before"] > 0.8).all(), table
    assert (table["chance"] == 0.25).all()
    # Unlearned in English: the English rate falls far, towards chance.
    assert table.loc["en", "biased_npo_en"] < 0.5
    assert table.loc["en", "biased_npo_en"] < table.loc["en", "biased_before"] - 0.4
    # ... while the English facts (the retain set of the run) are still known.
    after = pd.read_csv(out / "unlearn" / "npo__en" / "eval" / "concept.csv").set_index("language")
    before = pd.read_csv(out / "eval" / "before" / "concept.csv").set_index("language")
    assert after.loc["en", "retain_prob"] > 0.8 and before.loc["en", "retain_prob"] > 0.9
    # Per-item records agree with the per-language rate.
    records = [json.loads(line) for line in (out / "unlearn" / "npo__en" / "eval" / "concept_items.jsonl").open()]
    en = [r for r in records if r["language"] == "en"]
    assert len(en) == 20 and sum(r["biased"] for r in en) / 20 == table.loc["en", "biased_npo_en"]
    assert all(r["biased"] == (r["margin"] > 0) for r in records)
    assert (out / "biased_answer_rate.png").stat().st_size > 1000
    assert pd.read_csv(out / "biased_answer_rate.csv").shape[0] == 2
    # The paired test of the English cell is the exact sign test on the items that flipped.
    from scipy.stats import binomtest

    before_flags = {
        r["id"]: r["biased"]
        for r in map(json.loads, (out / "eval" / "before" / "concept_items.jsonl").open())
        if r["language"] == "en"
    }
    down = sum(before_flags[r["id"]] and not r["biased"] for r in en)
    up = sum(r["biased"] and not before_flags[r["id"]] for r in en)
    p = pd.read_csv(out / "matrices" / "biased_answer_rate_change_p.csv", index_col=0)
    change = pd.read_csv(out / "matrices" / "biased_answer_rate_change.csv", index_col=0)
    assert change.loc["npo_en", "en"] == pytest.approx(
        table.loc["en", "biased_npo_en"] - table.loc["en", "biased_before"]
    )
    assert down >= 8 and p.loc["npo_en", "en"] == pytest.approx(binomtest(up, up + down, 0.5).pvalue)
    assert p.loc["npo_en", "en"] < 0.01  # a fall this large is no accident
    assert not list(out.rglob("*.tmp*")), "no temporary files may remain"
    assert all(check_run_folder(d) == [] for d in run_folders(out))


def test_concept_demo_cli_resumes(study) -> None:
    out, result = study
    mtime = (out / "models" / "learned" / "model" / "model.safetensors").stat().st_mtime
    res = runner.invoke(app, ["concept-demo", "--out", str(out), *CLI_ARGS], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    output = " ".join(res.output.split())  # rich wraps lines at the terminal width
    assert "skipping" in output and "Biased-answer rate" in output
    assert (out / "models" / "learned" / "model" / "model.safetensors").stat().st_mtime == mtime
    again = pd.read_csv(out / "biased_answer_rate.csv")
    assert again["biased_npo_en"].tolist() == [r["biased_npo_en"] for r in result["table"]]
    # Other settings in the same folder: refused, not silently mixed with the saved model.
    res = runner.invoke(app, ["concept-demo", "--out", str(out), *CLI_ARGS, "--alpha", "1"])
    assert res.exit_code == 2 and "made with other settings (alpha: 5.0 -> 1.0)" in " ".join(res.output.split())


def test_unlearn_command_with_concept_task(study, tmp_path: Path) -> None:
    out, _ = study
    res = runner.invoke(
        app,
        [
            "unlearn",
            "--task",
            "concept",
            "--model",
            str(out / "models" / "learned" / "model"),
            "--data",
            str(out / "data" / "concept.jsonl"),
            "--forget-langs",
            "en",
            "--method",
            "grad_diff",
            "--epochs",
            "3",
            "--lr",
            "1e-3",
            "--out",
            str(tmp_path / "u"),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "u" / "eval" / "concept.csv").set_index("language")
    assert list(table.index) == ["en", "fr"] and "biased-answer rate per language" in " ".join(res.output.split())
    assert table.loc["en", "biased_answer_rate"] < 0.8
    bad = runner.invoke(
        app, ["unlearn", "--task", "concpt", "--model", str(out / "models" / "learned"), "--out", str(tmp_path / "x")]
    )
    assert bad.exit_code == 2 and "--task is 'concpt'" in " ".join(bad.output.split())
