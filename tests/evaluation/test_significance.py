"""Paired per-item tests behind the transfer matrices (significance.py), against p-values
worked out by hand from the exact Wilcoxon signed-rank distribution."""

from __future__ import annotations

import pandas as pd
import pytest

from polyunlearn.analysis.matrices import write_matrices
from polyunlearn.evaluation.significance import paired_change, transfer_pvalues, wilcoxon_p


def test_wilcoxon_exact_by_hand():
    # Six differences, all negative: W+ = 0, and only the empty subset of ranks {1..6} sums to
    # 0, so P(W+ <= 0) = 1/64; two-sided p = 2/64.
    assert wilcoxon_p([-1, -2, -3, -4, -5, -6]) == pytest.approx(2 / 64)
    # One positive difference with rank 4: W+ = 4. Subsets of {1..6} with sum <= 4: {}, {1},
    # {2}, {3}, {4}, {1,2}, {1,3} = 7, so p = 2 * 7/64.
    assert wilcoxon_p([-1, -2, -3, 4, -5, -6]) == pytest.approx(14 / 64)
    assert wilcoxon_p([0, 0, -1, -2, -3, -4, -5, -6]) == pytest.approx(2 / 64)  # zeros carry no sign
    assert wilcoxon_p([0.0, 0.0]) == 1.0  # nothing moved
    # 0/1 outcomes: every rank ties, so it is the exact sign test. 4 of 5 up: P(X >= 4) =
    # (5 + 1)/32, two-sided 12/32; all 6 up: 2/64, as the signed-rank test gives.
    assert wilcoxon_p([1, 1, 1, 1, -1, 0]) == pytest.approx(12 / 32)
    assert wilcoxon_p([1.0] * 6) == pytest.approx(2 / 64)
    with pytest.raises(ValueError, match="NaN"):
        wilcoxon_p([float("nan"), 1.0])


def _records(lang: str, values: list[float], split: str = "forget", first: int = 0) -> list[dict]:
    return [{"id": f"f{first + k}", "language": lang, "split": split, "prob": v} for k, v in enumerate(values)]


BEFORE = _records("en", [0.9] * 6) + _records("fr", [0.8] * 6) + _records("en", [0.7], split="retain")
# Unlearned in en: every en item falls by 0.1 * (k + 1) (distinct ranks), fr unchanged.
AFTER_EN = _records("en", [0.9 - 0.1 * (k + 1) for k in range(6)]) + _records("fr", [0.8] * 6)
# Unlearned in all: en as above; fr falls except item 3 (rank 4) which rises.
AFTER_ALL = (
    AFTER_EN[:6]
    + _records("fr", [0.8 - 0.01, 0.8 - 0.02, 0.8 - 0.03, 0.8 + 0.04, 0.8 - 0.05, 0.8 - 0.06])
    + _records("en", [0.1], first=99)
)


def test_paired_change_by_hand():
    t = paired_change(BEFORE, AFTER_ALL, "prob", "forget").set_index("language")
    assert list(t.index) == ["en", "fr"] and list(t["n"]) == [6, 6]  # the unpaired en item f99 is left out
    assert t.loc["en", "mean_change"] == pytest.approx(-0.35)  # -(0.1 + ... + 0.6) / 6
    assert t.loc["fr", "mean_change"] == pytest.approx((-0.01 - 0.02 - 0.03 + 0.04 - 0.05 - 0.06) / 6)
    assert t.loc["en", "p_value"] == pytest.approx(2 / 64) and t.loc["fr", "p_value"] == pytest.approx(14 / 64)


def test_transfer_pvalues_and_bh_by_hand():
    p, q = transfer_pvalues(BEFORE, {"en": AFTER_EN, "all": AFTER_ALL}, "prob", "forget", languages=["fr", "en"])
    assert list(p.index) == ["en", "all"] and list(p.columns) == ["fr", "en"]
    assert p.loc["en", "fr"] == 1.0 and p.loc["all", "fr"] == pytest.approx(14 / 64)
    # BH over the 4 cells, p sorted: 2/64, 2/64, 14/64, 1 -> p * 4 / rank: 0.125, 0.0625,
    # 0.2917, 1; then the running minimum from the top: 0.0625, 0.0625, 0.2917, 1.
    assert q.loc["en", "en"] == pytest.approx(0.0625) and q.loc["all", "en"] == pytest.approx(0.0625)
    assert q.loc["all", "fr"] == pytest.approx(14 / 64 * 4 / 3) and q.loc["en", "fr"] == 1.0


def test_write_matrices_with_records_writes_p_and_q(tmp_path):
    def summary(recs):
        df = pd.DataFrame(recs)
        return (
            df[df.split == "forget"].groupby("language", sort=False)["prob"].mean().rename("forget_prob").reset_index()
        )

    written = write_matrices(
        tmp_path, summary(BEFORE), {"en": summary(AFTER_EN)}, "npo", {"en": ["en"]}, (BEFORE, {"en": AFTER_EN})
    )
    assert {"npo_forget_prob.csv", "npo_forget_prob_p.csv", "npo_forget_prob_q.csv", "npo_forget_prob.png"} <= {
        w.name for w in written
    }
    p = pd.read_csv(tmp_path / "npo_forget_prob_p.csv", index_col=0)
    assert p.loc["en", "en"] == pytest.approx(2 / 64) and p.loc["en", "fr"] == 1.0
