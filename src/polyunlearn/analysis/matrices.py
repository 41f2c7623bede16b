"""Cross-lingual transfer matrices (rows = the forget-language set of a run, columns =
evaluation languages, cells = change of a metric vs the model before unlearning), their
heatmaps, and the console table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from polyunlearn.core.atomic import save_figure, write_table
from polyunlearn.evaluation.metric_table import headline, item_metrics

# Metrics the demo and `polyunlearn eval` report, and which direction is good (metric_table.py).
HEADLINE = headline()


def transfer_matrix(baseline: pd.DataFrame, runs: Mapping[str, pd.DataFrame], metric: str) -> pd.DataFrame:
    """Rows = run labels (e.g. the forget languages), columns = eval languages,
    cells = run[metric] - baseline[metric]."""
    base = baseline.set_index("language")
    if metric not in base:
        raise KeyError(f"metric {metric!r} not in the baseline summary; have: {', '.join(base.columns)}")
    # Columns: the baseline's languages that some run was evaluated in (baseline order).
    evaluated = set().union(*(set(s["language"]) for s in runs.values())) if runs else set()
    langs = [lang for lang in base.index if lang in evaluated]
    rows = {}
    for label, summary in runs.items():
        s = summary.set_index("language")
        rows[label] = (s[metric] - base[metric]).reindex(langs)
    return pd.DataFrame(rows).T.rename_axis(index="forget_langs", columns="eval_lang")


# Per-item metric behind each summary column that a paired test can check (significance.py).
ITEM_METRIC = item_metrics()


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    path: str | Path,
    highlight: Mapping[str, list[str]] | None = None,
    ylabel: str = "unlearned in",
    qvalues: pd.DataFrame | None = None,
) -> Path:
    """Diverging heatmap centred on 0, values written in the cells; a box marks the cells
    whose eval language was among the run's forget languages (`highlight`: row -> langs);
    given `qvalues` (same shape), a star marks the cells with q < 0.05."""
    import matplotlib

    from polyunlearn.evaluation.significance import ALPHA

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    vals = matrix.astype(float).values
    qv = (
        qvalues.reindex(index=matrix.index, columns=matrix.columns).to_numpy(dtype=float)
        if qvalues is not None
        else None
    )
    lim = max(1e-9, float(abs(pd.DataFrame(vals)).max().max()))
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * matrix.shape[1], 1.2 + 0.6 * matrix.shape[0]))
    im = ax.imshow(vals, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_xticks(range(matrix.shape[1]), matrix.columns)
    ax.set_yticks(range(matrix.shape[0]), matrix.index)
    ax.set_xlabel("evaluation language")
    ax.set_ylabel(ylabel)
    for i in range(vals.shape[0]):
        for j in range(vals.shape[1]):
            # White text on the dark ends of the colour map, black in the pale middle.
            colour = "white" if abs(vals[i, j]) > 0.6 * lim else "black"
            star = "*" if qv is not None and qv[i, j] < ALPHA else ""
            text = (
                "n/a" if vals[i, j] != vals[i, j] else f"{vals[i, j]:+.2f}{star}"
            )  # NaN: undefined (e.g. nothing was forgotten)
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    for i, row in enumerate(matrix.index):
        for lang in (highlight or {}).get(row, []):
            if lang in matrix.columns:
                j = list(matrix.columns).index(lang)
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.5, ec="black"))
    if qvalues is not None:
        title += f"\n* = paired Wilcoxon per item, BH q < {ALPHA}"
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    out = save_figure(fig, path)
    plt.close(fig)
    return out


def write_matrix(
    folder: str | Path,
    name: str,
    matrix: pd.DataFrame,
    title: str,
    *,
    highlight: Mapping[str, list[str]] | None = None,
    ylabel: str = "unlearned in",
    pq: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> list[Path]:
    """The one matrix writer, one naming scheme for every matrix polyunlearn writes:
    <folder>/<name>.csv (the values), <name>_p.csv and <name>_q.csv (paired per-item tests, when
    `pq` is given; rows in the matrix's order) and <name>.png (heatmap, significant cells starred)."""
    from polyunlearn.evaluation.significance import write_pq

    folder = Path(folder)
    written = [write_table(folder / f"{name}.csv", matrix, index=True)]
    q = None
    if pq is not None:
        written += write_pq(folder / name, pq[0], pq[1], matrix.index)
        q = pq[1]
    written.append(heatmap(matrix, title, folder / f"{name}.png", highlight, ylabel=ylabel, qvalues=q))
    return written


def write_change_matrix(
    folder: str | Path,
    name: str,
    baseline: pd.DataFrame,
    runs: Mapping[str, pd.DataFrame],
    metric: str,
    *,
    records: tuple[list[dict], Mapping[str, list[dict]]] | None = None,
    highlight: Mapping[str, list[str]] | None = None,
    title: str | None = None,
) -> list[Path]:
    """The change of `metric` vs `baseline` for each run (transfer_matrix), written by
    write_matrix; with the per-item `records` (before, {run label: after}) and a metric that has
    per-item values, each cell's paired test too."""
    from polyunlearn.evaluation.significance import transfer_pvalues

    m = transfer_matrix(baseline, runs, metric)
    pq = None
    if records is not None and metric in ITEM_METRIC:
        pq = transfer_pvalues(records[0], records[1], *ITEM_METRIC[metric], languages=list(m.columns))
    return write_matrix(
        folder,
        name,
        m,
        title or f"change in {metric} ({HEADLINE.get(metric, 'vs before')})",
        highlight=highlight,
        pq=pq,
    )


def write_matrices(
    out_dir: str | Path,
    baseline: pd.DataFrame,
    runs: Mapping[str, pd.DataFrame],
    method: str,
    highlight: Mapping[str, list[str]],
    records: tuple[list[dict], Mapping[str, list[dict]]] | None = None,
) -> list[Path]:
    """<method>_<metric> change matrices (write_change_matrix) for each headline metric present
    in every summary."""
    written: list[Path] = []
    for metric in HEADLINE:
        if metric in baseline and all(metric in s for s in runs.values()):
            written += write_change_matrix(
                out_dir,
                f"{method}_{metric}",
                baseline,
                runs,
                metric,
                records=records,
                highlight=highlight,
                title=f"{method}: change in {metric} ({HEADLINE[metric]})",
            )
    return written


def console_table(rows: list[dict], title: str, headers: Mapping[str, str] | None = None):
    """A rich Table from flat dicts: columns are the union of keys (first-seen order), a key a
    row lacks shows as '-', floats as console_number; `headers` renames columns for display.
    Every text is shown as it is (rich markup escaped: a '[a-z0-9]' in a cell stays)."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title))
    columns = list(dict.fromkeys(k for r in rows for k in r))
    for col in columns:
        numeric = any(isinstance(r.get(col), (int, float)) and not isinstance(r.get(col), bool) for r in rows)
        table.add_column(escape((headers or {}).get(col, str(col))), justify="right" if numeric else "left")
    for r in rows:
        table.add_row(
            *[
                (
                    "-"
                    if r.get(col) is None
                    else console_number(r[col])
                    if isinstance(r[col], float)
                    else escape(str(r[col]))
                )
                for col in columns
            ]
        )
    return table


def console_number(x: float) -> str:
    """A float for a console table: 3 decimals, except a nonzero value below 0.001 in magnitude
    (a Forget Quality p-value such as 2e-16), which 3 decimals would show as 0.000: 3 significant
    digits in scientific notation then."""
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.3f}"
