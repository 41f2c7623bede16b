"""TOFU's aggregate numbers (Model Utility of 9 values, Truth Ratio, Forget Quality) recomputed by
polyunlearn from per-sample logs written here in TOFU's eval-log JSON shape (eval_log.json,
eval_log_forget.json, eval_real_author_wo_options.json, eval_real_world_wo_options.json: keys
avg_gt_loss, avg_paraphrased_loss, average_perturb_loss, rougeL_recall, generated_text), by
hand and against TOFU's published formulas; `polyunlearn tofu-aggregate`; the exports in
open-unlearning's and TOFU's naming."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.cli import runner
from helpers.tofu_logs import _log, _write_logs, hand_logs, retain_model_logs
from polyunlearn.cli import app
from polyunlearn.data.schema import DataError
from polyunlearn.evaluation.export import TOFU_COLUMNS, open_unlearning_summary, write_reference_exports
from polyunlearn.evaluation.metrics import rouge_l_recall
from polyunlearn.evaluation.tofu_logs import read_tofu_logs, reaggregate

LN2, LN4, LN8 = math.log(2), math.log(4), math.log(8)


def test_tofu_aggregate_from_logs_by_hand(tmp_path):
    """Model Utility = HM(0.75, 0.75, 0.625, 17/36, 0.5, 0.5, 0.8, 1, 0.75): reciprocals sum to
    4/3 * 3 + 1.6 + 36/17 + 2 + 2 + 1.25 + 1 = 4749/340 -> MU = 9 * 340 / 4749 = 3060/4749.
    Forget Quality: tr 0.5, 1 vs the retain model's 2, 4, fully separated -> exact KS p = 2/C(4,2) = 1/3."""
    logs = _write_logs(tmp_path / "model", hand_logs())
    retain = _write_logs(tmp_path / "retain", retain_model_logs())
    summary, tofu = reaggregate(logs, retain)
    got = tofu.iloc[0]
    expected = {
        "Prob. Forget": 0.375,
        "Truth Ratio Forget": 0.75,
        "ROUGE Forget": 0.75,
        "Prob. Retain": 0.75,
        "Truth Ratio Retain": 0.625,
        "ROUGE Retain": 0.75,
        "Prob. Real Authors": 17 / 36,
        "ROUGE Real Authors": 0.5,
        "Truth Ratio Real Authors": 0.5,
        "Prob. Real World": 0.8,
        "ROUGE Real World": 1.0,
        "Truth Ratio Real World": 0.75,
        "Model Utility": 3060 / 4749,
        "Forget Quality": 1 / 3,
    }
    assert list(tofu.columns) == ["language", *TOFU_COLUMNS]
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key
    assert summary.iloc[0]["model_utility_n"] == 9
    # The logged ROUGE is what rouge-score with the stemmer gives on the logged texts, and so ours.
    for rec in read_tofu_logs(logs):
        if "generated" in rec:
            assert rouge_l_recall(rec["generated"], rec["reference"], "en") == rec["rouge_l"]
    # TOFU's eval_log_aggregated.json (the four logs under their file names) reads the same.
    (tmp_path / "agg.json").write_text(json.dumps(hand_logs()), encoding="utf-8")
    assert reaggregate(tmp_path / "agg.json", retain)[1].equals(tofu)


def tofu_reference(logs: dict, retain_logs: dict) -> dict:
    """TOFU's aggregate numbers written from its published definitions (aggregate_eval_stat.py):
    Prob = mean exp(-avg_gt_loss) (retain/forget) or mean p_true / (p_true + sum p_perturbed)
    (general sets); ROUGE = mean rougeL_recall; with s = exp(mean perturbed loss - paraphrased
    loss), Truth Ratio = mean min(s, 1/s) on forget, mean max(0, 1 - 1/s) elsewhere; Model
    Utility = scipy hmean of the 9 non-forget numbers; Forget Quality = KS p of s vs the retain
    model's s on the forget set."""
    out, ratios = {}, {}
    for name, label in (
        ("eval_real_author_wo_options.json", "Real Authors"),
        ("eval_real_world_wo_options.json", "Real World"),
        ("eval_log.json", "Retain"),
        ("eval_log_forget.json", "Forget"),
    ):
        log = logs[name]
        gt = np.array(list(log["avg_gt_loss"].values()))
        pert = np.array(list(log["average_perturb_loss"].values()))
        s = np.exp(pert.mean(-1) - np.array(list(log["avg_paraphrased_loss"].values())))
        ratios[name] = s
        out[f"ROUGE {label}"] = np.mean(list(log["rougeL_recall"].values()))
        out[f"Prob. {label}"] = (
            np.exp(-gt).mean() if "eval_log" in name else np.mean(np.exp(-gt) / (np.exp(-gt) + np.exp(-pert).sum(-1)))
        )
        out[f"Truth Ratio {label}"] = (
            np.mean(np.minimum(s, 1 / s)) if label == "Forget" else np.mean(np.maximum(0, 1 - 1 / s))
        )
    out["Model Utility"] = stats.hmean([v for k, v in out.items() if "Forget" not in k])
    retain_s = np.exp(
        np.array(list(retain_logs["eval_log_forget.json"]["average_perturb_loss"].values())).mean(-1)
        - np.array(list(retain_logs["eval_log_forget.json"]["avg_paraphrased_loss"].values()))
    )
    out["Forget Quality"] = stats.ks_2samp(ratios["eval_log_forget.json"], retain_s).pvalue
    return out


def random_logs(rng: np.random.Generator, n: int, shift: float) -> dict:
    def one(size: int, k: int, para_same: bool) -> dict:
        gt = rng.uniform(0.05, 3.0, size) + shift
        para = gt if para_same else rng.uniform(0.05, 3.0, size) + shift
        pert = rng.uniform(0.5, 4.0, (size, k))
        return _log(gt.tolist(), para.tolist(), pert.tolist(), rng.choice([0.0, 0.25, 0.5, 1.0], size).tolist())

    return {
        "eval_log_forget.json": one(n, 5, False),
        "eval_log.json": one(n, 5, False),
        "eval_real_author_wo_options.json": one(n // 2, 3, True),
        "eval_real_world_wo_options.json": one(n // 2 + 3, 3, True),
    }


@pytest.mark.parametrize("seed", [0, 1])
def test_tofu_aggregate_equals_the_reference_formulas(tmp_path, seed):
    """40 random samples per file: every TOFU number polyunlearn recomputes equals the
    reference formula's value to 1e-9 (the issue asks 1e-6)."""
    rng = np.random.default_rng(seed)
    logs, retain_logs = random_logs(rng, 40, 0.0), random_logs(rng, 40, 0.7)
    _, tofu = reaggregate(_write_logs(tmp_path / "m", logs), _write_logs(tmp_path / "r", retain_logs))
    want = tofu_reference(logs, retain_logs)
    for key, value in want.items():
        assert tofu.iloc[0][key] == pytest.approx(value, abs=1e-9, rel=1e-9), key


def test_tofu_log_errors_name_the_file_and_field(tmp_path):
    logs = hand_logs()
    with pytest.raises(DataError, match="missing TOFU eval log.*eval_real_world_wo_options.json"):
        read_tofu_logs(_write_logs(tmp_path / "a", {k: v for k, v in logs.items() if "world" not in k}))
    broken = dict(
        logs, **{"eval_log.json": {k: v for k, v in logs["eval_log.json"].items() if k != "avg_paraphrased_loss"}}
    )
    with pytest.raises(DataError, match="eval_log.json has no per-sample field 'avg_paraphrased_loss'"):
        read_tofu_logs(_write_logs(tmp_path / "b", broken))
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="bad.json: cannot read"):
        read_tofu_logs(tmp_path / "bad.json")


def test_tofu_aggregate_cli(tmp_path):
    logs = _write_logs(tmp_path / "model", hand_logs())
    retain = _write_logs(tmp_path / "retain", retain_model_logs())
    res = runner.invoke(app, ["tofu-aggregate", str(logs), "--retain", str(retain), "--out", str(tmp_path / "agg.csv")])
    assert res.exit_code == 0, res.output
    assert "Model Utility" in res.output and "0.644" in res.output
    row = pd.read_csv(tmp_path / "agg.csv").iloc[0]
    assert list(row.index) == TOFU_COLUMNS and row["Forget Quality"] == pytest.approx(1 / 3)
    res = runner.invoke(app, ["tofu-aggregate", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "TOFU eval logs not found" in res.output


# --------------------------------------------------------------------------- exports
def test_tofu_aggregate_cli_prints_a_tiny_forget_quality_in_scientific_notation(tmp_path):
    # 20 forget items, tr = 0.5 for every one against tr = 2 for the retain model: the samples do not
    # overlap, so the KS p-value is 2 / C(40, 20) = 1.45e-11, which 3 decimals would show as 0.000.
    n = 20
    forget = _log([LN2] * n, [LN2] * n, [[LN4]] * n, [1.0] * n)
    retain_forget = _log([LN4] * n, [LN4] * n, [[LN2]] * n, [0.0] * n)
    logs = _write_logs(tmp_path / "model", dict(hand_logs(), **{"eval_log_forget.json": forget}))
    retain = _write_logs(tmp_path / "retain", dict(hand_logs(), **{"eval_log_forget.json": retain_forget}))
    res = runner.invoke(app, ["tofu-aggregate", str(logs), "--retain", str(retain)])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if "Forget Quality" in x)
    assert "1.45e-11" in line, line


def test_exports_use_the_reference_names(tmp_path):
    summary, _ = reaggregate(_write_logs(tmp_path / "m", hand_logs()), _write_logs(tmp_path / "r", retain_model_logs()))
    ou = open_unlearning_summary(summary)["en"]
    assert ou["forget_Q_A_Prob"] == pytest.approx(0.375) and ou["forget_truth_ratio"] == pytest.approx(0.75)
    assert ou["ra_Q_A_Prob_normalised"] == pytest.approx(17 / 36) and ou["wf_Truth_Ratio"] == pytest.approx(0.75)
    assert ou["model_utility"] == pytest.approx(3060 / 4749) and ou["forget_quality"] == pytest.approx(1 / 3)
    written = write_reference_exports(tmp_path / "out", summary)
    assert [p.name for p in written] == ["summary_open_unlearning.json", "tofu_aggregate.csv"]
    assert json.loads((tmp_path / "out" / "summary_open_unlearning.json").read_text())["en"]["retain_Q_A_ROUGE"] == 0.75
    # Bundled-style data (no real_authors / world_facts) gets no TOFU-shaped file.
    assert [
        p.name
        for p in write_reference_exports(tmp_path / "b", summary.drop(columns=["real_authors_n", "world_facts_n"]))
    ] == ["summary_open_unlearning.json"]
