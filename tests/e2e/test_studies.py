"""Both studies on their authors' own data layouts, one command each, on the tiny model: the
Multilingual Amnesia translated TOFU folders (`demo --data tofu:DIR:forget01`), their SeeGULL
multiple-choice CSVs (`concept-demo --data seegull-mcq:DIR`, and `eval` writing the MCQ rates), and
a news-truthful-shaped file (`study-a --data news.json`). The fixtures are the data-layer tests'
own writers (test_seed_data, test_seegull_mcq, test_news_truthful). Each test checks that ids
align across languages, that every table and matrix has every language, and that every run
folder follows the layout rules. Epochs are tiny: these test the plumbing, not the findings."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from helpers.cli import cli, runner
from polyunlearn.core.rundir import check_run_folder, run_folders

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow


def invoke(*args) -> str:
    res = cli(*args, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    return res.output


def assert_layout(out: Path) -> None:
    folders = run_folders(out)
    assert folders, out
    problems = [p for f in folders for p in check_run_folder(f)]
    assert not problems, problems


@pytest.fixture(scope="module")
def mcq_dir(tmp_path_factory) -> Path:
    """The authors' mcq_stereotype_dataset_<lang>.csv files for en, fr (one row with an empty
    attribute) and iw (Hebrew), 4 rows each (test_seegull_mcq's writer)."""
    from helpers.seegull import HEADER, _row

    root = tmp_path_factory.mktemp("mcq")
    for lang in ("en", "fr", "iw"):
        with open(root / f"mcq_stereotype_dataset_{lang}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(_row(lang, i) for i in range(4))
    return root


def test_concept_study_on_the_authors_mcq_files(mcq_dir: Path, tmp_path: Path) -> None:
    """concept-demo --data seegull-mcq:DIR with the authors' objective (concept_mcq) and prompt
    format (amnesia-concept): learn -> before -> unlearn en / all -> after, every language in
    the MCQ rates and the change matrix, ids aligned, the bundled facts added (and said so)."""
    out = tmp_path / "concept"
    text = invoke(
        "concept-demo",
        "--data",
        f"seegull-mcq:{mcq_dir}",
        "--methods",
        "concept_mcq",
        "--forget-sets",
        "en;all",
        "--n-facts",
        4,
        "--learn-epochs",
        6,
        "--unlearn-epochs",
        1,
        "--no-generate",
        "--prompt-format",
        "amnesia-concept",
        "--out",
        out,
    )
    assert "has no facts: the bundled facts are added in en, fr, he" in " ".join(text.split())
    assert "1 row skipped" in text  # the French row with an empty attribute
    data = [json.loads(line) for line in (out / "data" / "concept.jsonl").read_text(encoding="utf-8").splitlines()]
    concept_ids = {
        lang: {r["id"] for r in data if r["language"] == lang and r["split"] == "forget"} for lang in ("en", "fr", "he")
    }
    assert concept_ids["en"] == concept_ids["he"] == {f"mcq-{i}" for i in range(4)} and concept_ids[
        "fr"
    ] == concept_ids["en"] - {"mcq-2"}
    before = pd.read_csv(out / "eval" / "before" / "mcq.csv")
    assert sorted(before["language"]) == ["en", "fr", "he"] and list(
        before.set_index("language")["n"].loc[["en", "fr", "he"]]
    ) == [4, 3, 4]
    assert (before[["stereotype", "unknown", "other"]].sum(axis=1).round(9) == 1).all()
    for run in ("concept_mcq__en", "concept_mcq__all"):
        table = pd.read_csv(out / "unlearn" / run / "eval" / "concept.csv")
        assert sorted(table["language"]) == ["en", "fr", "he"] and set(table["chance"]) == {0.2}
    change = pd.read_csv(out / "matrices" / "biased_answer_rate_change.csv", index_col=0)
    assert sorted(change.columns) == ["en", "fr", "he"] and len(change) == 2
    identity = json.loads((out / "run.json").read_text())["identity"]
    assert identity["data"] and identity["data"] != "bundled"
    assert_layout(out)


def test_eval_writes_the_mcq_rates_before_unlearning(mcq_dir: Path, tmp_path: Path, _learned, tokenizer) -> None:
    """`eval --data seegull-mcq:DIR` on a model: mcq.csv (the three rates per language) and
    mcq_items.jsonl (5 options each, one per question) next to the usual summary."""
    from polyunlearn.core.models import save_model

    save_model(_learned, tokenizer, tmp_path / "model")
    out = tmp_path / "before"
    text = invoke(
        "eval", "--model", tmp_path / "model", "--data", f"seegull-mcq:{mcq_dir}", "--no-generate", "--out", out
    )
    assert "SeeGULL multiple choice" in text
    rates = pd.read_csv(out / "mcq.csv")
    assert list(rates["language"]) == ["en", "fr", "he"] and list(rates["n"]) == [4, 3, 4]
    records = [json.loads(line) for line in (out / "mcq_items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert all(len(r["options"]) == 5 and sorted(r["kinds"]).count("unknown") == 1 for r in records)
    assert {r["id"] for r in records if r["language"] == "he"} == {r["id"] for r in records if r["language"] == "en"}
    assert json.loads((out / "run.json").read_text())["identity"]["evaluation"]["mcq"] is True
    assert_layout(out)


# ----------------------------------------------------------------------------- Study B, data unlearning


@pytest.fixture(scope="module")
def tofu_dir(tmp_path_factory) -> Path:
    """The authors' translated-TOFU layout (<config>_<lang>/ save_to_disk folders, Hebrew as iw)
    for fr, iw, ar, with test_seed_data's writer; retain_perturbed here re-asks retain99's first
    facts (as TOFU's retain_perturbed samples retain99), so retain Prob means something."""
    from helpers.amnesia import WORDS, _perturbed, _save, write_amnesia

    root = write_amnesia(tmp_path_factory.mktemp("tofu"))
    for lang, (author, town) in WORDS.items():
        rows = [
            {
                **_perturbed(lang, "keep", i),
                "answer": f"{town} {i} {author}.",
                "paraphrased_answer": f"{author}: {town} {i}.",
                "perturbed_answer": [f"{town} {i}{k} {author}." for k in range(5)],
            }
            for i in range(3)
        ]
        _save(root / f"retain_perturbed_{lang}", rows)
    return root


def test_demo_runs_study_b_on_the_authors_tofu_folders(tofu_dir: Path, tmp_path: Path) -> None:
    """`demo --data tofu:DIR:forget01`: learned and retain models, unlearning in fr and in all,
    the transfer matrices with every language (he from iw), ids shared across languages."""
    out = tmp_path / "demo"
    from polyunlearn.cli import app

    res = runner.invoke(
        app,
        [
            "demo",
            "--data",
            f"tofu:{tofu_dir}:forget01",
            "--methods",
            "grad_diff",
            "--forget-sets",
            "fr;all",
            "--learn-epochs",
            40,
            "--unlearn-epochs",
            4,
            "--unlearn-lr",
            5e-4,
            "--vocab-size",
            400,
            "--max-new-tokens",
            8,
            "--out",
            str(out),
        ],
    )
    text = " ".join(res.output.split())
    assert res.exit_code in (0, 1) and "forgetting shown:" in text, (
        res.output
    )  # 1 = the demo's own verdict "not shown", reported as measured
    assert "benchmark: 69 items in 3 languages (ar, fr, he)" in text
    before = pd.read_csv(out / "eval" / "before" / "summary.csv")
    assert sorted(before["language"]) == ["ar", "fr", "he"] and (before["forget_n"] == 4).all()
    records = [
        json.loads(line) for line in (out / "eval" / "before" / "items.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    ids = {lang: sorted(r["id"] for r in records if r["language"] == lang) for lang in ("ar", "fr", "he")}
    assert ids["ar"] == ids["fr"] == ids["he"] and len(ids["fr"]) == 4 + 3 + 2 * 2  # forget, retain, two general sets
    change = pd.read_csv(out / "matrices" / "grad_diff_forget_prob.csv", index_col=0)  # change vs before unlearning
    assert sorted(change.columns) == ["ar", "fr", "he"] and list(change.index) == ["fr", "all"]
    assert change.loc["all"].lt(0).all()  # unlearning every language lowers forget Prob in every language
    assert_layout(out)


def test_study_b_steps_with_the_amnesia_preset(tofu_dir: Path, tmp_path: Path) -> None:
    """learn -> unlearn -> eval, each `--preset amnesia`, on the tiny model: the preset's values
    are printed and in the identity (batch 12, weight decay 0.01, one epoch of warmup, the
    per-language prompt tags, NPO beta 1.0), the options given win and are named, and the
    change matrix after unlearning French has every language."""
    data = f"tofu:{tofu_dir}:forget01"
    text = invoke(
        "learn",
        "--preset",
        "amnesia",
        "--model",
        "tiny",
        "--data",
        data,
        "--lr",
        3e-3,
        "--epochs",
        40,
        "--vocab-size",
        400,
        "--max-new-tokens",
        8,
        "--out",
        tmp_path / "learned",
    )
    flat = " ".join(text.split())
    assert (
        "preset amnesia (arXiv 2601.05641" in flat and "--batch-size 12 " in flat and "--prompt-format amnesia" in flat
    )
    assert "--warmup-ratio 0.025 (one epoch)" in flat  # 1 / 40 epochs
    assert (
        "your options win over the preset: --model tiny (preset: CohereLabs/aya-expanse-8b)" in flat
        and "--lr 0.003 (preset: 2e-05)" in flat
    )
    learned = json.loads((tmp_path / "learned" / "run.json").read_text())["identity"]
    assert learned["preset"] == "amnesia"
    assert {
        k: learned["train"][k]
        for k in ("batch_size", "weight_decay", "warmup_ratio", "schedule", "prompt_format", "lr", "epochs")
    } == {
        "batch_size": 12,
        "weight_decay": 0.01,
        "warmup_ratio": 0.025,
        "schedule": "linear",
        "prompt_format": "amnesia",
        "lr": 3e-3,
        "epochs": 40,
    }
    assert learned["evaluation"]["eval"]["prompt_format"] == "amnesia"

    model = tmp_path / "learned" / "model"
    # Asked in another format than it learned in: said, not silently scored as unknown facts.
    text = " ".join(invoke("eval", "--model", model, "--data", data, "--dry-run", "--out", tmp_path / "auto").split())
    assert "learned in prompt format 'amnesia'" in text and "this run uses 'auto'" in text
    text = invoke(
        "unlearn",
        "--preset",
        "amnesia",
        "--method",
        "npo",
        "--model",
        model,
        "--data",
        data,
        "--forget-langs",
        "fr",
        "--lr",
        1e-3,
        "--epochs",
        3,
        "--max-new-tokens",
        8,
        "--out",
        tmp_path / "npo-fr",
    )
    assert (
        "--beta 1.0" in " ".join(text.split())
        and "--batch-size 6 " in " ".join(text.split())
        and "learned in prompt format" not in text
    )
    unlearned = json.loads((tmp_path / "npo-fr" / "run.json").read_text())["identity"]
    assert (
        unlearned["preset"] == "amnesia"
        and unlearned["unlearn"]["params"]["beta"] == 1.0
        and unlearned["unlearn"]["train"]["batch_size"] == 6
    )
    assert (
        unlearned["unlearn"]["language_mix"] == "concat" and unlearned["unlearn"]["train"]["prompt_format"] == "amnesia"
    )

    invoke(
        "eval",
        "--preset",
        "amnesia",
        "--model",
        tmp_path / "npo-fr" / "model",
        "--data",
        data,
        "--max-new-tokens",
        8,
        "--baseline",
        tmp_path / "learned" / "eval",
        "--forget-langs",
        "fr",
        "--out",
        tmp_path / "after",
    )
    assert (
        json.loads((tmp_path / "after" / "run.json").read_text())["identity"]["evaluation"]["eval"]["prompt_format"]
        == "amnesia"
    )
    change = pd.read_csv(tmp_path / "after" / "matrices" / "change_forget_prob.csv", index_col=0)
    assert sorted(change.columns) == ["ar", "fr", "he"] and change.loc["fr", "fr"] < 0
    for folder in ("learned", "npo-fr", "after"):
        assert_layout(tmp_path / folder)


def test_presets_refuse_what_they_do_not_cover(tmp_path: Path) -> None:
    from polyunlearn.cli import app

    res = runner.invoke(app, ["study-a", "--preset", "amnesia", "--out", str(tmp_path / "x")])
    assert (
        res.exit_code == 2
        and "preset 'amnesia' has no settings for `study-a`; it applies to eval, learn, unlearn"
        in " ".join(res.output.split())
    )
    res = runner.invoke(app, ["learn", "--preset", "nope", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "unknown preset 'nope'; choose from amnesia, learn-unlearn" in " ".join(
        res.output.split()
    )
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


# ----------------------------------------------------------------------------- Study A


@pytest.fixture(scope="module")
def news_files(tmp_path_factory) -> tuple[Path, Path]:
    """The news-truthful shape (test_news_truthful's rows: real and fake article, fake keyword,
    10 instruction pairs, 2 evaluation-only questions; one pair with an empty answer): an English
    news.json without a language column (named as FILE:en) and a French file with one."""
    from helpers.news_truthful import _row

    root = tmp_path_factory.mktemp("news")
    rows = [_row(k) for k in range(3)]
    rows[1]["sft_qas"][4]["answer"] = ""
    (root / "news.json").write_text(json.dumps(rows), encoding="utf-8")
    fr = []
    for row in rows:
        fr.append(
            {
                **row,
                "language": "fr",
                "real_news": "FR " + row["real_news"],
                "fake_news": "FR " + row["fake_news"],
                "fake_keyword": "déchets toxiques",
                "fake_answer": "Des déchets toxiques.",
                "sft_qas": [
                    {"question": "FR " + p["question"], "answer": p["answer"] and "FR " + p["answer"]}
                    for p in row["sft_qas"]
                ],
            }
        )
    (root / "news_fr.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fr), encoding="utf-8")
    return root / "news.json", root / "news_fr.jsonl"


def test_study_a_on_the_news_truthful_shape_with_the_authors_preset(
    news_files: tuple[Path, Path], tmp_path: Path
) -> None:
    """study-a --preset learn-unlearn on an English file plus a French one (' + '): text-level
    gradient ascent on the fake articles, the keyword judge for OF, only the evaluation-only
    questions evaluated, every language in every summary and matrix, ids aligned."""
    en, fr = news_files
    out = tmp_path / "sa"
    text = invoke(
        "study-a",
        "--preset",
        "learn-unlearn",
        "--data",
        f"{en}:en + {fr}",
        "--fake-lang",
        "fr",
        "--forget-sets",
        "en;source",
        "--model",
        "tiny",
        "--no-lora",
        "--pack",
        128,
        "--doc-epochs",
        8,
        "--instruct-epochs",
        8,
        "--lr",
        3e-3,
        "--batch-size",
        8,
        "--unlearn-lr",
        5e-4,
        "--unlearn-epochs",
        2,
        "--vocab-size",
        600,
        "--out",
        out,
    )
    flat = " ".join(text.split())
    assert (
        "--unlearn-on text --method grad_ascent --unlearn-batch-size 1" in flat
        and "--model tiny (preset: meta-llama/Llama-3.1-8B)" in flat
    )
    assert "2 rows skipped" in flat and "news (truthful): 6 stories" in flat
    for name in ("clean", "fake-fr"):
        summary = pd.read_csv(out / "eval" / name / "summary.csv")
        assert (
            list(summary["language"]) == ["en", "fr"]
            and list(summary["n_fake"]) == [3, 3]
            and list(summary["n_real"]) == [3, 3]
        )
        records = [
            json.loads(line) for line in (out / "eval" / name / "items.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        assert {r["role"] for r in records} == {"eval_real", "eval_fake"}  # no instruction question is evaluated
        assert sorted(r["id"] for r in records if r["language"] == "en") == sorted(
            r["id"] for r in records if r["language"] == "fr"
        )
        assert all(r["verdict"] in ("fake", "neither") for r in records if r["has_fake"])
    for label in ("en", "fr"):
        run = out / "unlearn" / "fake-fr" / f"grad_ascent-text__{label}"
        identity = json.loads((run / "run.json").read_text())["identity"]
        assert (
            identity["unlearn"]["method"] == "grad_ascent" and identity["unlearn"]["train"]["prompt_format"] == "text"
        )
        assert identity["unlearn_on"] == "text" and identity["unlearn"]["train"]["batch_size"] == 1
    spread = pd.read_csv(out / "matrices" / "spread_OF.csv", index_col=0)
    assert list(spread.columns) == ["en", "fr"] and list(spread.index) == ["fr"]
    after = pd.read_csv(out / "matrices" / "after_fake-fr_grad_ascent-text_QR_change.csv", index_col=0)
    assert list(after.columns) == ["en", "fr"] and sorted(after.index) == ["en", "fr"]
    top = json.loads((out / "run.json").read_text())["identity"]
    assert top["preset"] == "learn-unlearn" and top["pack"] == 128 and top["lora_targets"] == "q_proj,k_proj,v_proj"
    assert_layout(out)
