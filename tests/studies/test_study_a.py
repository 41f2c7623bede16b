"""Study A end to end through the CLI on a reduced run (2 languages, fake news in Russian, few
epochs), the OF/QR aggregation on hand-made records, the verdict path with stubbed model
outputs, forget-set resolution, document encoding, and bad input naming its culprit."""

from __future__ import annotations

import json
import socket

import pandas as pd
import pytest

from helpers.cli import cli
from polyunlearn.core.encoding import IGNORE, collate
from polyunlearn.data.news import NewsQA
from polyunlearn.evaluation.scoring import Score
from polyunlearn.studies import study_a as sa

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow

LANGS = ["en", "ru"]
REDUCED = [
    "study-a",
    "--languages",
    "en,ru",
    "--fake-lang",
    "ru",
    "--forget-sets",
    "en;source;all",
    "--doc-epochs",
    "20",
    "--instruct-epochs",
    "16",
    "--unlearn-epochs",
    "3",
    "--vocab-size",
    "800",
]


def run(*args: str):
    res = cli(*args, catch_exceptions=False)
    res.flat = " ".join(res.output.split())  # rich wraps long lines at the terminal width
    return res


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study_a") / "run"
    res = run(*REDUCED, "--out", str(out))
    assert res.exit_code == 0, res.output
    return out, res.output


def matrix(out, name: str) -> pd.DataFrame:
    return pd.read_csv(out / "matrices" / f"{name}.csv", index_col=0)


# --- End to end --------------------------------------------------------------------------------
def test_study_writes_records_summaries_and_matrices(study):
    out, output = study
    for name in ("clean", "fake-ru"):
        summary = pd.read_csv(out / "eval" / name / "summary.csv")
        assert list(summary["language"]) == LANGS
        assert {"OF", "QR", "OF_keys", "n_fake", "n_real"} <= set(summary.columns)
        # bundled corpus: 20 fake stories and 20 real-only stories, two questions each
        assert list(summary["n_fake"]) == [40, 40] and list(summary["n_real"]) == [40, 40]
    records = [json.loads(line) for line in (out / "unlearn" / "fake-ru" / "npo__en" / "eval" / "items.jsonl").open()]
    assert len(records) == 160 and {r["language"] for r in records} == set(LANGS)
    assert all(r["verdict"] in ("real", "fake", "both", "neither") for r in records)
    assert all((r["real_nll"] is not None) == r["has_fake"] for r in records)

    spread = matrix(out, "spread_OF")
    assert list(spread.index) == ["ru"] and list(spread.columns) == LANGS
    after = matrix(out, "after_fake-ru_npo_OF")
    # "all" = en+ru here, a distinct set from "en" and "ru": three runs plus the before row
    assert list(after.index) == ["before", "en", "ru", "all"] and list(after.columns) == LANGS
    assert after.loc["before"].tolist() == spread.loc["ru"].tolist()
    change = matrix(out, "after_fake-ru_npo_QR_change")
    assert list(change.index) == ["en", "ru", "all"]
    assert ((after >= 0) & (after <= 1)).all().all()
    for png in ("spread_OF", "spread_OF_vs_clean", "after_fake-ru_npo_OF", "after_fake-ru_npo_QR_change"):
        assert (out / "matrices" / f"{png}.png").stat().st_size > 1000
    # Paired per-question tests beside the change matrices: OF (0/1 items) and the NLL gap.
    for name in ("after_fake-ru_npo_OF_change", "after_fake-ru_npo_nll_gap_change", "spread_nll_gap_vs_clean"):
        p, q = matrix(out, f"{name}_p"), matrix(out, f"{name}_q")
        assert p.shape == q.shape == matrix(out, name).shape and ((p > 0) & (p <= 1)).all().all()
        assert (q.values >= p.values - 1e-12).all()
    assert not (out / "matrices" / "after_fake-ru_npo_QR_change_p.csv").exists()  # QR has no per-item test here
    result = json.loads((out / "study_a_result.json").read_text())
    assert result["forget_sets"]["ru"] == {"en": ["en"], "ru": ["ru"], "all": ["en", "ru"]}
    assert "OF (share of fake-story answers" in " ".join(output.split())
    assert not list(out.rglob("*.tmp*")) and not list(out.rglob("*.ckpt"))


def test_fake_claims_appear_in_the_fake_language(study):
    out, _ = study
    clean = pd.read_csv(out / "eval" / "clean" / "summary.csv").set_index("language")
    fake = pd.read_csv(out / "eval" / "fake-ru" / "summary.csv").set_index("language")
    # The contaminated model saw the fake Russian documents; the clean one never did. OF counts
    # verdicts on 40 questions, many decided by a small likelihood margin, so it is noisy on a
    # model this small; the mean NLL gap (real - fake) is the steadier reading of the same shift.
    assert fake.loc["ru", "OF"] > clean.loc["ru", "OF"], (clean["OF"].to_dict(), fake["OF"].to_dict())
    assert matrix(out, "spread_OF_vs_clean").loc["ru", "ru"] > 0
    rise = fake["nll_gap"] - clean["nll_gap"]
    assert rise["ru"] > 0.15 and rise["ru"] > rise["en"], rise.to_dict()
    # Both were instruction-tuned on the real-only questions (16 epochs here: most, not all,
    # answers learned; a wrong key is right by chance almost never).
    assert fake["QR"].min() > 0.5 and clean["QR"].min() > 0.5


def test_results_are_strict_json_and_folders_follow_the_layout(study):
    from polyunlearn.core.atomic import strict_json
    from polyunlearn.core.rundir import check_run_folder, run_folders

    out, _ = study
    strict_json((out / "study_a_result.json").read_text())  # OF of a language without fake items is null, not NaN
    folders = run_folders(out)
    assert len(folders) >= 6 and all(check_run_folder(f) == [] for f in folders), {
        f: check_run_folder(f) for f in folders
    }


def test_rerun_resumes_and_refuses_other_settings(study):
    out, _ = study
    mtime = (out / "models" / "fake-ru" / "model" / "model.safetensors").stat().st_mtime
    before = (out / "matrices" / "after_fake-ru_npo_OF.csv").read_text()
    res = run(*REDUCED, "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "Q&A (loss" not in res.output and "steps (" not in res.output  # nothing retrained
    assert (out / "models" / "fake-ru" / "model" / "model.safetensors").stat().st_mtime == mtime
    assert (out / "matrices" / "after_fake-ru_npo_OF.csv").read_text() == before
    res = run(*[a if a != "20" else "21" for a in REDUCED], "--out", str(out))
    assert res.exit_code == 2 and "other settings" in res.flat and "docs.epochs: 20 -> 21" in res.flat


# --- Aggregation and verdicts ------------------------------------------------------------------
def rec(
    lang: str,
    has_fake: bool,
    verdict: str,
    key_verdict: str,
    real_nll: float | None = None,
    fake_nll: float | None = None,
) -> dict:
    return {
        "language": lang,
        "has_fake": has_fake,
        "verdict": verdict,
        "key_verdict": key_verdict,
        "real_nll": real_nll,
        "fake_nll": fake_nll,
    }


def test_summarize_news_by_hand():
    records = [
        # en, fake-story questions: final verdicts fake, fake, real, both -> OF 2/4; keys alone 1/4
        # NLL gaps (real - fake): +1.0, +0.5, -2.0, 0.0 -> mean -0.125
        rec("en", True, "fake", "fake", 2.0, 1.0),
        rec("en", True, "fake", "neither", 1.5, 1.0),
        rec("en", True, "real", "real", 1.0, 3.0),
        rec("en", True, "both", "both", 1.0, 1.0),
        # en, real-only questions: real, neither, real -> QR 2/3
        rec("en", False, "real", "real"),
        rec("en", False, "neither", "neither"),
        rec("en", False, "real", "real"),
        # ru has real-only questions only: OF undefined (NaN), QR 1
        rec("ru", False, "real", "real"),
    ]
    s = sa.summarize_news(records).set_index("language")
    assert list(s.index) == ["en", "ru"]
    assert s.loc["en", "OF"] == 0.5 and s.loc["en", "OF_keys"] == 0.25
    assert s.loc["en", "real_share"] == 0.25 and s.loc["en", "both_share"] == 0.25
    assert s.loc["en", "QR"] == pytest.approx(2 / 3) and s.loc["en", "nll_gap"] == -0.125
    assert (s.loc["en", "n_fake"], s.loc["en", "n_real"]) == (4, 3)
    assert pd.isna(s.loc["ru", "OF"]) and pd.isna(s.loc["ru", "nll_gap"]) and s.loc["ru", "QR"] == 1.0


def test_evaluate_news_uses_keys_then_likelihood(monkeypatch):
    qas = [
        NewsQA("q1", "s1", "en", "Which company?", "By Kidava.", "By Kanibo.", "Kidava", "Kanibo"),
        NewsQA("q2", "s1", "en", "Which year?", "In 1994.", "In 1996.", "1994", "1996"),
        NewsQA("q3", "s2", "en", "How many?", "40 beds.", None, "40", None),
    ]
    # q1 names the fake key; q2's answer is garbled, so the NLLs decide: fake 0.5 < real 2.0
    monkeypatch.setattr(
        sa, "generate_answers", lambda m, e, qs, max_new_tokens: ["By Kanibo.", "In the summer.", "40 beds."]
    )
    scores = [
        Score(-3.0, 3, []),
        Score(-6.0, 3, []),
        Score(-4.0, 2, []),
        Score(-1.0, 2, []),
    ]  # real, fake per fake question
    monkeypatch.setattr(sa, "score_pairs", lambda m, e, pairs: scores[: len(pairs)])
    recs = sa.evaluate_news(None, _Tok(), qas, max_new_tokens=32)
    assert [r["key_verdict"] for r in recs] == ["fake", "neither", "real"]
    assert [r["verdict"] for r in recs] == ["fake", "fake", "real"]
    assert (recs[0]["real_nll"], recs[0]["fake_nll"]) == (1.0, 2.0) and (recs[1]["real_nll"], recs[1]["fake_nll"]) == (
        2.0,
        0.5,
    )
    assert recs[2]["real_nll"] is None
    s = sa.summarize_news(recs).iloc[0]
    assert (s["OF"], s["OF_keys"], s["QR"]) == (1.0, 0.5, 1.0)


class _Tok:
    """Encoder only stores the tokenizer; the stubbed model calls never use it."""


def test_forget_sets_resolution():
    langs = ["en", "de", "ru", "zh"]
    assert sa.resolve_forget_set("source", "ru", langs) == ("ru", ["ru"])
    assert sa.resolve_forget_set("en+source", "ru", langs) == ("en+ru", ["en", "ru"])
    assert sa.resolve_forget_set("all", "ru", langs) == ("all", langs)
    assert sa.resolve_forget_set("de,zh", "ru", langs) == ("de+zh", ["de", "zh"])
    # fake news in English: "en", "source" and "en+source" are one run
    assert sa.forget_sets(sa.FORGET_SETS, "en", langs) == [("en", ["en"]), ("all", langs)]
    with pytest.raises(ValueError, match="'ja'"):
        sa.resolve_forget_set("en+ja", "ru", langs)


def test_encode_text_scores_the_whole_document(tokenizer):
    enc = sa.encode_text(tokenizer, "Hello world.")
    ids = tokenizer("Hello world.", add_special_tokens=False)["input_ids"]
    assert enc.prompt == (tokenizer.bos_token_id,) and enc.answer == tuple(ids) + (tokenizer.eos_token_id,)
    labels = collate([enc], tokenizer.pad_token_id)["labels"][0].tolist()
    assert labels == [IGNORE] + ids + [tokenizer.eos_token_id]  # only BOS is unscored


# --- Bad input -------------------------------------------------------------------------------------
def test_unknown_fake_language_is_named(tmp_path):
    res = run("study-a", "--out", str(tmp_path / "o"), "--fake-lang", "xx")
    assert res.exit_code == 2
    assert "unknown language code 'xx'" in res.flat
    assert not (tmp_path / "o").exists()  # nothing ran


def test_fake_language_outside_the_study_is_named(tmp_path):
    res = run("study-a", "--out", str(tmp_path / "o"), "--languages", "en,ru", "--fake-langs", "ru,ja")
    assert res.exit_code == 2
    assert "'ja'" in res.flat and "en, ru" in res.flat


def test_unreachable_judge_stops_before_training(tmp_path):
    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = run(
        "study-a",
        "--out",
        str(tmp_path / "o"),
        "--languages",
        "en,ru",
        "--judge",
        f"openai:http://127.0.0.1:{port}/v1,judge",
    )
    assert res.exit_code == 2
    assert "unreachable" in res.flat and str(port) in res.flat
    res = run("study-a", "--out", str(tmp_path / "o"), "--languages", "en,ru", "--judge", "gpt4")
    assert res.exit_code == 2 and "bad --judge 'gpt4'" in res.flat
