"""Cross-lingual analysis on hand-made effect matrices whose statistics are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from polyunlearn.analysis import correlation as analysis
from polyunlearn.analysis.correlation import (
    correlate_distances,
    group_by_resource,
    scatter_distance_effect,
    transfer_asymmetry,
)

LANGS = ["en", "fr", "ja"]


def sym(langs: list[str], d: dict[tuple[str, str], float]) -> pd.DataFrame:
    m = pd.DataFrame(0.0, index=langs, columns=langs)
    for (a, b), v in d.items():
        m.loc[a, b] = m.loc[b, a] = v
    return m


@pytest.fixture()
def effect() -> pd.DataFrame:
    # rows = forget language, columns = eval language; the diagonal is ignored by the analysis.
    return pd.DataFrame([[1.0, 0.9, 0.2], [0.7, 1.0, 0.5], [0.1, 0.6, 1.0]], index=LANGS, columns=LANGS)


@pytest.fixture()
def distances() -> dict[str, pd.DataFrame]:
    return {
        "syntactic": sym(LANGS, {("en", "fr"): 0.1, ("en", "ja"): 0.5, ("fr", "ja"): 0.3}),
        "genetic": sym(LANGS, {("en", "fr"): 0.3, ("en", "ja"): 0.1, ("fr", "ja"): 0.5}),
    }


def test_spearman_worked_by_hand(effect, distances):
    # Off-diagonal cells (forget->eval): en>fr, en>ja, fr>en, fr>ja, ja>en, ja>fr
    #   syntactic d = 0.1, 0.5, 0.1, 0.3, 0.5, 0.3 -> ranks 1.5, 5.5, 1.5, 3.5, 5.5, 3.5 (ties averaged)
    #   effect   e = 0.9, 0.2, 0.7, 0.5, 0.1, 0.6 -> ranks 6,   2,   5,   3,   1,   4
    # Both rank vectors have mean 3.5; deviations:
    #   d: -2, 2, -2, 0, 2, 0          (sum of squares 16)
    #   e: 2.5, -1.5, 1.5, -0.5, -2.5, 0.5  (sum of squares 17.5)
    # Cross products: -5 - 3 - 3 + 0 - 5 + 0 = -16  ->  rho = -16 / sqrt(16 * 17.5) = -16 / sqrt(280) = -0.9562
    # genetic d = 0.3, 0.1, 0.3, 0.5, 0.1, 0.5 -> rank deviations 0, -2, 0, 2, -2, 2
    # Cross products: 0 + 3 + 0 - 1 + 5 + 1 = 8  ->  rho = 8 / sqrt(280) = 0.4781
    out = correlate_distances(effect, distances).set_index("kind")
    assert list(out.columns) == analysis.RESULT_COLUMNS[1:]
    assert out.loc["syntactic", "spearman_rho"] == pytest.approx(-16 / math.sqrt(280))
    assert out.loc["genetic", "spearman_rho"] == pytest.approx(8 / math.sqrt(280))
    assert (out["n_pairs"] == 6).all()
    assert out.loc["syntactic", "rank"] == 1 and out.loc["genetic", "rank"] == 2
    d = [0.1, 0.5, 0.1, 0.3, 0.5, 0.3]
    e = [0.9, 0.2, 0.7, 0.5, 0.1, 0.6]
    assert out.loc["syntactic", "pearson_r"] == pytest.approx(np.corrcoef(d, e)[0, 1])
    assert 0 < out.loc["syntactic", "spearman_p"] < 0.05 and 0 < out.loc["syntactic", "pearson_p"] < 1


def test_exact_permutation_p_by_hand(effect, distances):
    # With 3 languages, relabelling permutes the 3 pair distances over the pairs {en-fr, en-ja, fr-ja}.
    # Summed effect-rank deviations per pair: en-fr 2.5+1.5 = 4, en-ja -1.5-2.5 = -4, fr-ja -0.5+0.5 = 0.
    # The 3! = 6 ways to place distance-rank deviations (-2, 0, 2) give cross products
    # -16, -8, 8, -8, 16, 8: two of six reach |rho| = 16/sqrt(280). 6 <= 999, so all are enumerated: p = 2/6.
    out = correlate_distances(effect, distances).set_index("kind")
    assert out.loc["syntactic", "permutation_p"] == pytest.approx(1 / 3)


def _monotone(langs: list[str]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    pos = dict(zip(langs, [0, 1, 3, 7, 15, 31, 63][: len(langs)]))
    d = sym(langs, {(a, b): abs(pos[a] - pos[b]) / 63 for a in langs for b in langs if a < b})
    return -d, {"syntactic": d}  # effect falls strictly as distance grows: rho = -1


def test_perfectly_monotone_relation_has_small_permutation_p():
    effect, d = _monotone(["en", "fr", "de", "ru", "ja", "ko"])  # 6! = 720 <= 999: exact
    out = correlate_distances(effect, d)
    assert out.loc[0, "spearman_rho"] == pytest.approx(-1.0)
    assert out.loc[0, "permutation_p"] < 0.01
    effect7, d7 = _monotone(["en", "fr", "de", "ru", "ja", "ko", "hi"])  # 7! > 999: Monte Carlo, seeded
    a = correlate_distances(effect7, d7, n_permutations=199, seed=3)
    b = correlate_distances(effect7, d7, n_permutations=199, seed=3)
    assert a.loc[0, "permutation_p"] == b.loc[0, "permutation_p"] <= 0.01


def test_default_distances_come_from_the_shipped_table():
    langs = ["en", "fr", "ja", "ar"]
    rng = np.random.default_rng(0)
    effect = pd.DataFrame(rng.random((4, 4)), index=langs, columns=langs)
    out = correlate_distances(effect, n_permutations=99)
    assert sorted(out["kind"]) == sorted(analysis.DISTANCE_KINDS)
    assert (out["n_pairs"] == 12).all()
    assert sorted(out["rank"].dropna()) == sorted(out["spearman_rho"].abs().rank(ascending=False, method="min"))


def test_constant_effect_gives_nan_not_a_crash(distances):
    flat = pd.DataFrame(0.5, index=LANGS, columns=LANGS)
    out = correlate_distances(flat, distances)
    assert out["spearman_rho"].isna().all() and out["rank"].isna().all()


def test_bad_input_is_rejected(effect, distances):
    with pytest.raises(ValueError, match="at least 3"):
        correlate_distances(effect.loc[["en", "fr"], ["en", "fr"]], distances)  # only 2 off-diagonal cells
    with pytest.raises(ValueError, match="DataFrame"):
        correlate_distances(effect.to_numpy(), distances)
    with pytest.raises(ValueError, match="'ko'"):
        correlate_distances(effect.rename(index={"ja": "ko"}, columns={"ja": "ko"}), distances)
    with pytest.raises(ValueError, match="featural"):
        correlate_distances(effect, distances, kinds=["featural"])
    with pytest.raises(ValueError, match="xx"):
        group_by_resource({"en": 1.0, "xx": 2.0})


def test_group_by_resource():
    out = group_by_resource({"en": 1.0, "fr": 3.0, "ha": 0.5, "jv": 1.5})  # en, fr high; ha, jv low
    assert out.loc["high", "mean"] == 2.0 and out.loc["high", "std"] == pytest.approx(math.sqrt(2))
    assert out.loc["low", "mean"] == 1.0 and out.loc["low", "std"] == pytest.approx(math.sqrt(0.5))
    assert out.loc["high", "n"] == out.loc["low", "n"] == 2
    assert out.loc["low", "languages"] == "ha,jv"
    assert group_by_resource(pd.Series({"ar": 0.2})).loc["high", "n"] == 1


def test_transfer_asymmetry(effect):
    out = transfer_asymmetry(effect).set_index(["lang1", "lang2"])
    assert len(out) == 3
    assert out.loc[("en", "fr"), "asymmetry"] == pytest.approx(0.9 - 0.7)
    assert out.loc[("en", "ja"), "asymmetry"] == pytest.approx(0.2 - 0.1)
    assert out.loc[("fr", "ja"), "asymmetry"] == pytest.approx(0.5 - 0.6)
    one_way = effect.loc[["en"], :]  # only forget=en: no pair is measured both ways
    assert transfer_asymmetry(one_way).empty


def test_scatter_writes_png(tmp_path, effect, distances):
    path = scatter_distance_effect(effect, "syntactic", tmp_path / "plots" / "syn.png", distance=distances["syntactic"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    default = scatter_distance_effect(effect, "genetic", tmp_path / "gen.png")  # shipped URIEL+ table
    assert default.stat().st_size > 1000
