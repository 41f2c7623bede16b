"""What users do: the CLI end to end on a reduced demo, and bad input giving a clear error that
names the culprit (unknown language, missing field, empty forget set, missing model path)."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from helpers.cli import cli, runner
from polyunlearn.cli import app

# Demo, grid and study runs on the tiny model: tens of seconds each on CPU.
pytestmark = pytest.mark.slow


def run(*args: str):
    return cli(*args, catch_exceptions=False)


@pytest.fixture(scope="module")
def demo_dir(demo_run):
    """The session's reduced demo (conftest.DEMO_ARGS: en, fr, ja; npo; forget sets en;all)."""
    return demo_run


def test_demo_writes_results_and_shows_forgetting(demo_dir):
    out, output = demo_dir
    assert "forgetting shown: yes" in output
    assert str(out.resolve()) in output.replace("\n", "")
    result = json.loads((out / "demo_result.json").read_text())
    assert result["forgetting_shown"] is True
    for check in result["checks"]:
        assert check["forget_prob_after"] < 0.5 * check["forget_prob_before"]
    before = pd.read_csv(out / "eval" / "before" / "summary.csv")
    assert set(before["language"]) == {"en", "fr", "ja"}
    assert {
        "forget_prob",
        "retain_prob",
        "retain_rouge_l",
        "forget_truth_ratio_score",
        "model_utility",
        "forget_quality",
    } <= set(before.columns)
    matrix = pd.read_csv(out / "matrices" / "npo_forget_prob.csv", index_col=0)
    assert list(matrix.index) == ["en", "all"] and list(matrix.columns) == ["en", "fr", "ja"]
    assert matrix.loc["en", "en"] < 0  # forget Prob fell in the unlearned language
    assert (out / "matrices" / "npo_forget_prob.png").stat().st_size > 1000
    # Each cell's paired per-item test: all 10 English forget items fell, so p = 2 / 2^10.
    p = pd.read_csv(out / "matrices" / "npo_forget_prob_p.csv", index_col=0)
    q = pd.read_csv(out / "matrices" / "npo_forget_prob_q.csv", index_col=0)
    assert p.shape == q.shape == matrix.shape and p.loc["en", "en"] == pytest.approx(2 / 2**10)
    assert (q.values >= p.values - 1e-12).all()  # BH never lowers a p-value
    records = [json.loads(line) for line in (out / "unlearn" / "npo__en" / "eval" / "items.jsonl").open()]
    assert {r["language"] for r in records} == {"en", "fr", "ja"}
    assert "<img" in (out / "report.html").read_text()  # the HTML report is written too
    # Per-epoch curves (the demo's default --eval-every 1): epochs 0-5 in every language, shown in the report.
    for run_dir in ("npo__en", "npo__all"):
        curves = pd.read_csv(out / "unlearn" / run_dir / "curves.csv", keep_default_na=False)
        assert sorted(set(curves["epoch"])) == list(range(6)) and set(curves["language"]) == {"en", "fr", "ja"}
        assert json.loads((out / "unlearn" / run_dir / "done.json").read_text())["selected_epoch"] == 5  # --select last
    page = (out / "report.html").read_text()
    assert page.index('id="headline-table"') < page.index('<nav class="toc">')
    assert len(re.findall(r"<figcaption>Per-epoch[^<]*the run&#x27;s result \(last", page)) == 2
    assert not list(out.rglob("*.tmp*")), "no temporary files may remain"


def test_demo_rerun_resumes_without_retraining(demo_dir):
    out, _ = demo_dir
    mtime = (out / "models" / "learned" / "model" / "model.safetensors").stat().st_mtime
    res = run(
        "demo",
        "--out",
        str(out),
        "--languages",
        "en,fr,ja",
        "--methods",
        "npo",
        "--forget-sets",
        "en;all",
        "--learn-epochs",
        "25",
        "--unlearn-epochs",
        "5",
        "--unlearn-lr",
        "1e-3",
    )
    assert res.exit_code == 0, res.output
    assert "skipping" in res.output
    assert (out / "models" / "learned" / "model" / "model.safetensors").stat().st_mtime == mtime


def test_demo_rerun_with_other_settings_is_refused(demo_dir):
    """A rerun with other settings never reuses results made with the old ones, nor rewrites the
    report or run.json with settings the results were not made with."""
    out, _ = demo_dir
    stamps = {p: p.stat().st_mtime_ns for p in (out / "run.json", out / "report.html", out / "demo_result.json")}
    base = [
        "demo",
        "--out",
        str(out),
        "--languages",
        "en,fr,ja",
        "--methods",
        "npo",
        "--forget-sets",
        "en;all",
        "--learn-epochs",
        "25",
        "--unlearn-epochs",
        "5",
    ]
    res = runner.invoke(app, [*base, "--unlearn-lr", "2e-3"])
    flat = " ".join(res.output.split())
    assert res.exit_code == 2 and "unlearn.lr: 0.001 -> 0.002" in flat and "--overwrite" in flat, flat
    res = runner.invoke(app, [*base[:4], "en,fr", *base[5:], "--unlearn-lr", "1e-3"])
    assert res.exit_code == 2 and "languages: 'en,fr,ja' -> 'en,fr'" in " ".join(res.output.split())
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps


def test_demo_run_folders_follow_the_layout(demo_dir):
    from polyunlearn.core.rundir import check_run_folder, run_folders

    out, _ = demo_dir
    folders = run_folders(out)
    assert {f.relative_to(out).as_posix() for f in folders} >= {
        ".",
        "models/learned",
        "models/retain",
        "eval/before",
        "eval/retain_model",
        "unlearn/npo__en",
        "unlearn/npo__all",
    }
    assert all(check_run_folder(f) == [] for f in folders), {f: check_run_folder(f) for f in folders}


def test_eval_command_with_baseline(demo_dir, tmp_path):
    out, _ = demo_dir
    data = out / "data" / "benchmark.jsonl"
    res = run(
        "eval",
        "--model",
        str(out / "models" / "learned" / "model"),
        "--data",
        str(data),
        "--langs",
        "en,ja",
        "--out",
        str(tmp_path / "ev"),
        "--no-generate",
        "--baseline",
        str(out / "eval" / "before"),
    )
    assert res.exit_code == 0, res.output
    summary = pd.read_csv(tmp_path / "ev" / "summary.csv")
    assert list(summary["language"]) == ["en", "ja"]
    change = pd.read_csv(tmp_path / "ev" / "matrices" / "change_forget_prob.csv", index_col=0)
    assert abs(change.values).max() < 1e-4  # same model as the baseline: no change
    p = pd.read_csv(tmp_path / "ev" / "matrices" / "change_forget_prob_p.csv", index_col=0)
    assert list(p.columns) == ["en", "ja"] and (p.values > 0.05).all()  # and no significant one


def test_unknown_language_is_named():
    res = run("demo", "--languages", "en,xx")
    assert res.exit_code == 2
    assert "unknown language code 'xx'" in res.output


def test_unknown_forget_language_in_unlearn(tmp_path):
    res = run(
        "unlearn",
        "--model",
        str(tmp_path / "nope"),
        "--out",
        str(tmp_path / "o"),
        "--forget-langs",
        "klingon",
        "--langs",
        "en",
    )
    assert res.exit_code == 2
    assert "klingon" in res.output


def test_missing_field_is_named(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "1", "language": "en", "question": "Q?", "split": "forget"}) + "\n")
    res = run("learn", "--data", str(bad), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert "'answer'" in res.output and "bad.jsonl" in res.output


def test_empty_forget_set_is_named(tmp_path):
    only_retain = tmp_path / "retain.jsonl"
    only_retain.write_text(
        json.dumps({"id": "1", "language": "en", "question": "Q?", "answer": "A.", "split": "retain"}) + "\n"
    )
    res = run("unlearn", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--data", str(only_retain))
    assert res.exit_code == 2
    assert "empty forget set" in res.output and "en" in res.output


def test_missing_model_path_is_named(tmp_path):
    res = run("unlearn", "--model", str(tmp_path / "no_such_model"), "--out", str(tmp_path / "o"), "--langs", "en")
    assert res.exit_code == 2
    assert "model path not found" in res.output or "no_such_model" in res.output


def test_unknown_method_is_named(tmp_path):
    res = run("unlearn", "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--method", "forgetall")
    assert res.exit_code == 2
    assert "unknown unlearning method 'forgetall'" in res.output
