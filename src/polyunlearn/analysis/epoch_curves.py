"""Per-epoch curves of an unlearning run (metric x epoch x language) and the rules that pick which
epoch's model is the run's result (`unlearn --eval-every N --select RULE`; the evaluation during
training is pipeline/epoch_eval.py's).

    table = curve_table({0: summary_0, 1: summary_1, 2: summary_2})   # epoch, language, split, metric, value
    means = forget_means(table, ["en"])                                 # per epoch, over the forget languages
    select_epoch("first-below-retain", means, retain_forget_prob=0.12)  # -> Selection(epoch=2, ...)

The rules (all look at epochs >= 1 only: epoch 0, the model before unlearning, is never a result):

- `last`: the last epoch, what an unlearning run returned before per-epoch evaluation existed.
- `first-below-retain` (MUSE's stopping rule): the first evaluated epoch whose mean forget Prob
  over the forget languages is at or below the retain model's (the model that never saw the
  forget set) over the same languages: forgotten as far as never having learned, no further.
  When no epoch reaches it, the last epoch, and the reason says so.
- `best-fq-mu`: the epoch maximizing the harmonic mean of mean Forget Quality and mean Model
  Utility over the forget languages; ties go to the earliest epoch (less training, same score).
  Why the harmonic mean and not open-unlearning #187's (FQ + MU) / 2: Forget Quality is a
  KS-test p-value that sits near 0 (1e-5 ... 1e-2) until the forget set looks like the retain
  model's, while Model Utility stays around 0.3-0.6. The arithmetic mean then ranks a model
  that forgot nothing (FQ 1e-4, MU 0.6: 0.30) with one that forgot well at some cost (FQ 0.3,
  MU 0.3: 0.30); the harmonic mean is high only when both are (2e-4 vs 0.30), as Model Utility
  itself is a harmonic mean of its parts for the same reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from polyunlearn.core.atomic import save_figure, write_table

SELECT_RULES = ("last", "first-below-retain", "best-fq-mu")
NEEDS_RETAIN = ("first-below-retain", "best-fq-mu")  # need the retain model's evaluation
CURVE_COLUMNS = ["epoch", "language", "split", "metric", "value"]
# Panels of curves.png, in order (a panel is drawn when the table has the metric).
PLOTTED = ("forget_prob", "retain_prob", "forget_truth_ratio_score", "forget_quality", "model_utility")


@dataclass(frozen=True)
class Selection:
    """Which epoch a rule picks, and why (recorded in done.json). `epoch` is None while no
    evaluated epoch qualifies (first-below-retain before its target is reached)."""

    rule: str
    epoch: int | None
    reason: str
    score: float | None = None  # the number the rule compared (mean forget Prob, HM(FQ, MU))


def split_of(column: str) -> tuple[str, str]:
    """(split, metric) of a summary column, e.g. forget_prob -> (forget, prob); a metric across
    splits (forget_quality, model_utility, the attacks) has split ''."""
    from polyunlearn.evaluation.metric_table import lookup

    try:
        split = lookup(column).split
    except KeyError:
        split = None
    return (split, column[len(split) + 1 :]) if split else ("", column)


def curve_table(summaries: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """The tidy curves: one row per epoch x language x metric of the per-epoch summaries
    (records.summarize): every numeric metric column, counts (`*_n`) left out."""
    rows = []
    for epoch in sorted(summaries):
        s = summaries[epoch]
        cols = [
            c
            for c in s.columns
            if c not in ("language", "resource") and not c.endswith("_n") and pd.api.types.is_numeric_dtype(s[c])
        ]
        for _, r in s.iterrows():
            for col in cols:
                if pd.notna(r[col]):
                    split, metric = split_of(col)
                    rows.append(
                        {
                            "epoch": int(epoch),
                            "language": r["language"],
                            "split": split,
                            "metric": metric,
                            "value": float(r[col]),
                        }
                    )
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def column_of(split: str, metric: str) -> str:
    return f"{split}_{metric}" if split else metric


def wide(table: pd.DataFrame) -> pd.DataFrame:
    """The curves as (epoch, language) rows x summary-column columns."""
    t = table.assign(column=[column_of(s, m) for s, m in zip(table["split"].fillna(""), table["metric"], strict=True)])
    return t.pivot_table(index=["epoch", "language"], columns="column", values="value", sort=False)


def forget_means(table: pd.DataFrame, forget_langs: Sequence[str]) -> pd.DataFrame:
    """Per evaluated epoch (index), each metric's mean over the forget languages."""
    w = wide(table).reset_index()
    missing = sorted(set(forget_langs) - set(w["language"]))
    if missing:
        raise ValueError(f"the curves have no rows for forget language(s) {', '.join(missing)}")
    return w[w["language"].isin(forget_langs)].drop(columns="language").groupby("epoch").mean().sort_index()


def harmonic(a: float, b: float) -> float:
    return 0.0 if a <= 0 or b <= 0 else 2 * a * b / (a + b)


def select_epoch(rule: str, means: pd.DataFrame, retain_forget_prob: float | None = None) -> Selection:
    """The epoch `rule` picks among the evaluated epochs >= 1 of `means` (forget_means: index
    epoch, columns forget_prob / forget_quality / model_utility). Pure: no files, no model."""
    if rule not in SELECT_RULES:
        raise ValueError(f"select is {rule!r}; choose from {', '.join(SELECT_RULES)}")
    m = means[means.index >= 1].sort_index()
    if m.empty:
        return Selection(rule, None, "no epoch evaluated yet")
    if rule == "last":
        return Selection(rule, int(m.index[-1]), "the last epoch")
    if rule == "first-below-retain":
        if retain_forget_prob is None or not math.isfinite(retain_forget_prob):
            raise ValueError("first-below-retain needs the retain model's forget Prob")
        for epoch, p in m["forget_prob"].items():
            if p <= retain_forget_prob:
                return Selection(
                    rule,
                    int(epoch),
                    f"the first evaluated epoch whose mean forget Prob over the forget languages ({p:.4f}) "
                    f"is at or below the retain model's ({retain_forget_prob:.4f})",
                    float(p),
                )
        return Selection(
            rule,
            None,
            f"no evaluated epoch reached the retain model's forget Prob ({retain_forget_prob:.4f}; "
            f"lowest {m['forget_prob'].min():.4f} at epoch {int(m['forget_prob'].idxmin())})",
        )
    for col in ("forget_quality", "model_utility"):
        if col not in m or m[col].isna().any():
            raise ValueError(
                f"best-fq-mu needs {col} at every evaluated epoch (forget_quality: the retain model's evaluation; "
                "model_utility: greedy answers, --curve-generate)"
            )
    scores = {int(e): harmonic(float(r["forget_quality"]), float(r["model_utility"])) for e, r in m.iterrows()}
    best = max(scores, key=lambda e: (scores[e], -e))  # the highest score; the earliest epoch among equals
    fq, mu = float(m.loc[best, "forget_quality"]), float(m.loc[best, "model_utility"])
    return Selection(
        rule,
        best,
        f"the highest harmonic mean of mean Forget Quality ({fq:.4g}) and mean Model Utility ({mu:.4f}) "
        f"over the forget languages: {scores[best]:.4g}",
        scores[best],
    )


def final_selection(rule: str, means: pd.DataFrame, retain_forget_prob: float | None, last_epoch: int) -> Selection:
    """select_epoch once training is over: a first-below-retain that never reached its target
    falls back to the last epoch, and its reason says so."""
    sel = select_epoch(rule, means, retain_forget_prob)
    if sel.epoch is None:
        return Selection(rule, last_epoch, f"{sel.reason}: the last epoch ({last_epoch}) is the result", None)
    return sel


def plot_curves(
    table: pd.DataFrame,
    forget_langs: Sequence[str],
    title: str,
    retain_forget_prob: float | None = None,
    selected: int | None = None,
):
    """One panel per plotted metric: a line per language over the evaluated epochs (forget
    languages solid, the others dashed), with several forget languages their mean in black, the
    retain model's forget Prob as a dotted line, the selected epoch as a vertical line. Returns
    the Figure."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    w = wide(table)
    panels = [c for c in PLOTTED if c in w.columns]
    fig = Figure(figsize=(3.2 * max(1, len(panels)), 3.1), layout="constrained")
    langs = list(dict.fromkeys(w.index.get_level_values("language")))
    for k, col in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for lang in langs:
            s = w.xs(lang, level="language")[col].dropna().sort_index()
            ours = lang in forget_langs
            style = {"ls": "-", "lw": 1.6, "alpha": 1.0} if ours else {"ls": "--", "lw": 0.8, "alpha": 0.7}
            ax.plot(s.index, s.to_numpy(), marker=".", ms=4, label=lang, **style)
        if len(forget_langs) > 1:
            ours = w[w.index.get_level_values("language").isin(forget_langs)][col]
            mean = ours.groupby(level="epoch").mean().sort_index()
            ax.plot(mean.index, mean.to_numpy(), color="black", lw=2.2, label="mean (forget langs)")
        if col == "forget_prob" and retain_forget_prob is not None:
            ax.axhline(retain_forget_prob, color="black", ls=":", lw=1.2, label="retain model")
        if selected is not None:
            ax.axvline(selected, color="#b2182b", ls="-.", lw=1.0, label=f"selected (epoch {selected})")
        ax.set_title(col, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=7)
        if col == "forget_quality":
            ax.set_yscale("log")  # a p-value: its interesting range spans decades
    if panels:
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, fontsize=7, ncols=min(8, len(labels)), loc="outside lower center", frameon=False)
    fig.suptitle(title, fontsize=10)
    return fig


def write_curves(
    folder: str | Path,
    table: pd.DataFrame,
    forget_langs: Sequence[str],
    title: str,
    retain_forget_prob: float | None = None,
    selected: int | None = None,
) -> list[Path]:
    """folder/curves.csv (the tidy table) and folder/curves.png (plot_curves), atomically."""
    folder = Path(folder)
    csv = write_table(folder / "curves.csv", table)
    png = save_figure(plot_curves(table, forget_langs, title, retain_forget_prob, selected), folder / "curves.png")
    return [csv, png]
