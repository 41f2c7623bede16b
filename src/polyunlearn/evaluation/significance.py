"""Is a cell of a transfer matrix a real change or noise? Paired tests per evaluation language.

A cell of the forget-languages x eval-languages matrix is the change of a per-language mean
(e.g. forget Prob) between the model before unlearning and after. Both models answer the same
items, so the test is paired by item (id, language): the Wilcoxon signed-rank test on the
per-item differences (scipy.stats.wilcoxon, two-sided; exact for small n without ties). It
makes no normality assumption, which matters for probabilities piled up near 0 or 1.

With 10 forget items per language the smallest possible p is 2 / 2^10 = 0.002 (all 10 move
the same way), so the test can resolve a consistent change but not a subtle one. A matrix is
many tests at once: `transfer_pvalues` also returns Benjamini-Hochberg q-values over all its
cells (scipy.stats.false_discovery_control), and the heatmaps star cells with q < 0.05.

    from polyunlearn.evaluation.significance import paired_change, transfer_pvalues
    table = paired_change(before_records, after_records, "prob", split="forget")
    p, q = transfer_pvalues(before_records, {"en": en_records, "all": all_records}, "prob", "forget")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from polyunlearn.core.atomic import write_table

ALPHA = 0.05  # q below this gets a star in the heatmaps


def wilcoxon_p(differences: Sequence[float]) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences. Zero differences carry
    no sign and are dropped (Wilcoxon's own convention); none left means nothing moved: p = 1.
    When every |difference| is the same (0/1 outcomes such as "stated the fake claim") all
    ranks tie and the test reduces to the sign test, computed exactly (binomial; = McNemar's
    exact test) rather than by scipy's normal approximation for ties."""
    d = np.asarray([float(x) for x in differences], dtype=np.float64)
    if np.isnan(d).any():
        raise ValueError("differences contain NaN")
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    if np.all(np.abs(d) == np.abs(d[0])):
        return float(stats.binomtest(int((d > 0).sum()), int(d.size), 0.5).pvalue)
    return float(stats.wilcoxon(d, alternative="two-sided").pvalue)


def _by_item(records: Sequence[dict], metric: str, split: str) -> pd.DataFrame:
    df = pd.DataFrame(records)
    if metric not in df:
        raise KeyError(f"metric {metric!r} not in the records; have: {', '.join(df.columns)}")
    df = df[df["split"] == split]
    return df.set_index(["language", "id"])[metric].astype(float)


def paired_change(
    before: Sequence[dict], after: Sequence[dict], metric: str = "prob", split: str = "forget"
) -> pd.DataFrame:
    """One row per language present in both: n paired items, mean change (after - before) and
    the Wilcoxon p-value. Items are paired by (language, id); unpaired ones are left out."""
    b, a = _by_item(before, metric, split), _by_item(after, metric, split)
    both = pd.concat({"before": b, "after": a}, axis=1, join="inner").dropna()
    rows = []
    for lang, g in both.groupby(level="language", sort=False):
        diff = (g["after"] - g["before"]).to_numpy()
        rows.append({"language": lang, "n": len(diff), "mean_change": float(diff.mean()), "p_value": wilcoxon_p(diff)})
    return pd.DataFrame(rows, columns=["language", "n", "mean_change", "p_value"])


def transfer_pvalues(
    before: Sequence[dict],
    runs: Mapping[str, Sequence[dict]],
    metric: str = "prob",
    split: str = "forget",
    languages: Sequence[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(p, q) matrices shaped like `matrices.transfer_matrix`: rows = run labels, columns = eval
    languages (`languages` order, default first seen), p = per-cell Wilcoxon p-value, q = the
    Benjamini-Hochberg adjustment over every cell of the matrix."""
    tables = {
        label: paired_change(before, recs, metric, split).set_index("language")["p_value"]
        for label, recs in runs.items()
    }
    p = pd.DataFrame(tables).T
    if languages is not None:
        p = p.reindex(columns=[lang for lang in languages if lang in p.columns])
    p = p.rename_axis(index="forget_langs", columns="eval_lang")
    flat = p.to_numpy(dtype=float).ravel()
    ok = ~np.isnan(flat)
    q_flat = np.full_like(flat, np.nan)
    if ok.any():
        q_flat[ok] = stats.false_discovery_control(flat[ok], method="bh")
    q = pd.DataFrame(q_flat.reshape(p.shape), index=p.index, columns=p.columns)
    return p, q


def write_pq(stem: str | Path, p: pd.DataFrame, q: pd.DataFrame, rows: Sequence[str] | None = None) -> list[Path]:
    """`<stem>_p.csv` and `<stem>_q.csv` (atomic), rows in the order of `rows` when given (that
    of the matrix they annotate)."""
    stem = Path(stem)
    if rows is not None:
        p, q = p.reindex(index=list(rows)), q.reindex(index=list(rows))
    return [write_table(stem.with_name(f"{stem.name}_{kind}.csv"), t, index=True) for kind, t in (("p", p), ("q", q))]
