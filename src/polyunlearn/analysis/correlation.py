"""Cross-lingual analysis: does linguistic distance explain how unlearning transfers?

Input is an effect matrix (pandas DataFrame): rows = forget languages of a run, columns =
evaluation languages, cells = change of a metric vs the model before unlearning (e.g. the drop of
forget Prob). For each URIEL+ distance kind, `correlate_distances` correlates distance(i, j) with
effect(i, j) over the off-diagonal cells (i != j; the diagonal is the in-language effect, not
transfer), with Spearman and Pearson (scipy p-values) and a Mantel-style permutation test, then
ranks the kinds by |Spearman rho| (the spec's finding to check: syntactic distance ranks first).

Why a permutation test: the cells are not independent (every cell of one row shares its forget
language; distance matrices are symmetric), so scipy's p-values, which assume independent pairs,
are optimistic. Permuting the language labels of the distance matrix keeps that dependence
structure and breaks only the language <-> distance link (Mantel 1967).

Also: `group_by_resource` (high/low resource summary, levels from languages.py),
`transfer_asymmetry` (effect(i, j) - effect(j, i)) and `scatter_distance_effect` (a PNG).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from polyunlearn.analysis.distances import DISTANCE_KINDS, distance_matrix
from polyunlearn.core.languages import get_language

RESULT_COLUMNS = ["kind", "n_pairs", "spearman_rho", "spearman_p", "pearson_r", "pearson_p", "permutation_p", "rank"]
MIN_PAIRS = 3  # below this a correlation (and its p-value) means nothing


def _check_effect(effect: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(effect, pd.DataFrame):
        raise ValueError(
            "effect must be a pandas DataFrame (rows = forget languages, columns = eval "
            f"languages), got {type(effect).__name__}"
        )
    if effect.empty:
        raise ValueError("effect matrix is empty")
    for axis, labels in (("row", effect.index), ("column", effect.columns)):
        if labels.has_duplicates:
            raise ValueError(f"effect matrix has duplicate {axis} labels: {sorted(set(labels[labels.duplicated()]))}")
    try:
        return effect.astype(float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"effect matrix must be numeric: {err}") from err


def _languages(effect: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys([*map(str, effect.index), *map(str, effect.columns)]))


def _off_diagonal_cells(effect: pd.DataFrame) -> list[tuple[str, str, float]]:
    """(forget, eval, value) for every finite off-diagonal cell."""
    return [
        (str(i), str(j), float(v))
        for i, row in effect.iterrows()
        for j, v in row.items()
        if str(i) != str(j) and np.isfinite(v)
    ]


def _paired(
    effect: pd.DataFrame, dist: pd.DataFrame, kind: str
) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """The off-diagonal cells with a finite effect and distance: (pairs, distances, effects)."""
    cells = _off_diagonal_cells(effect)
    missing = sorted({c for i, j, _ in cells for c in (i, j) if c not in dist.index or c not in dist.columns})
    if missing:
        raise ValueError(f"{kind} distance matrix lacks language(s) {missing}")
    keep = [(i, j, v) for i, j, v in cells if np.isfinite(dist.loc[i, j])]
    if len(keep) < MIN_PAIRS:
        raise ValueError(
            f"{kind}: only {len(keep)} off-diagonal (i != j) pair(s) with both an effect and a "
            f"distance; need at least {MIN_PAIRS} to correlate"
        )
    pairs = [(i, j) for i, j, _ in keep]
    return pairs, np.array([dist.loc[i, j] for i, j in pairs], float), np.array([v for *_, v in keep], float)


def _spearman(x: np.ndarray, y_ranks: np.ndarray) -> float:
    xr = stats.rankdata(x)
    if np.ptp(xr) == 0 or np.ptp(y_ranks) == 0:
        return float("nan")
    return float(np.corrcoef(xr, y_ranks)[0, 1])


def permutation_test(
    dist: pd.DataFrame, pairs: Sequence[tuple[str, str]], values: np.ndarray, n_permutations: int = 999, seed: int = 0
) -> tuple[float, float]:
    """Mantel-style two-sided test of Spearman rho between dist(i, j) and values over `pairs`.

    The language labels of `dist` are permuted (rows and columns together). When there are no
    more distinct permutations than `n_permutations` all of them are enumerated (exact p, the
    identity included); otherwise p = (1 + #{|rho_perm| >= |rho_obs|}) / (n_permutations + 1).
    Returns (rho_obs, p).
    """
    langs = list(dict.fromkeys(c for p in pairs for c in p))
    pos = {c: k for k, c in enumerate(langs)}
    d = dist.loc[langs, langs].to_numpy(float)
    ri = np.array([pos[i] for i, _ in pairs])
    cj = np.array([pos[j] for _, j in pairs])
    y_ranks = stats.rankdata(values)
    observed = _spearman(d[ri, cj], y_ranks)
    if not np.isfinite(observed):
        return observed, float("nan")
    # A small tolerance so that permutations tying the observed |rho| count as "as extreme".
    threshold = abs(observed) - 1e-12
    n = len(langs)
    if math.factorial(n) <= n_permutations:
        perms = (np.array(p) for p in itertools.permutations(range(n)))
        hits = total = 0
        for perm in perms:
            rho = _spearman(d[perm[ri], perm[cj]], y_ranks)
            hits += bool(np.isfinite(rho) and abs(rho) >= threshold)
            total += 1
        return observed, hits / total
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_permutations):
        perm = rng.permutation(n)
        rho = _spearman(d[perm[ri], perm[cj]], y_ranks)
        hits += bool(np.isfinite(rho) and abs(rho) >= threshold)
    return observed, (1 + hits) / (n_permutations + 1)


def correlate_distances(
    effect: pd.DataFrame,
    distances: Mapping[str, pd.DataFrame] | None = None,
    kinds: Sequence[str] | None = None,
    n_permutations: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Correlate each distance kind with the effect over off-diagonal cells; rank kinds by |rho|.

    `distances` maps kind -> square DataFrame indexed by language code; by default the URIEL+
    matrices of `polyunlearn.analysis.distances` for the effect's languages. Returns one row per kind with
    RESULT_COLUMNS; rank 1 = largest |Spearman rho| (NaN rho, e.g. a constant effect: no rank).
    """
    effect = _check_effect(effect)
    if n_permutations < 1:
        raise ValueError(f"n_permutations must be >= 1, got {n_permutations}")
    if distances is None:
        kinds = list(DISTANCE_KINDS if kinds is None else kinds)
        langs = _languages(effect)
        distances = {k: distance_matrix(k, langs) for k in kinds}
    else:
        kinds = list(distances if kinds is None else kinds)
        unknown = [k for k in kinds if k not in distances]
        if unknown:
            raise ValueError(f"no distance matrix given for kind(s) {unknown}; given: {list(distances)}")
    if not kinds:
        raise ValueError("no distance kinds to correlate")
    rows = []
    for kind in kinds:
        pairs, x, y = _paired(effect, distances[kind], kind)
        with warnings.catch_warnings():
            # Constant input: scipy warns and returns NaN, which is the honest answer here.
            warnings.simplefilter("ignore", stats.ConstantInputWarning)
            sp = stats.spearmanr(x, y)
            pe = stats.pearsonr(x, y)
        _, perm_p = permutation_test(distances[kind], pairs, y, n_permutations, seed)
        rows.append(
            (kind, len(pairs), float(sp.statistic), float(sp.pvalue), float(pe.statistic), float(pe.pvalue), perm_p)
        )
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS[:-1])
    out["rank"] = out["spearman_rho"].abs().rank(ascending=False, method="min").astype("Int64")
    return out.sort_values(["rank", "kind"], na_position="last").reset_index(drop=True)


def group_by_resource(per_language: pd.Series | Mapping[str, float]) -> pd.DataFrame:
    """Mean, std (ddof=1), n and the languages per resource level ("high"/"low" in languages.py)."""
    series = per_language if isinstance(per_language, pd.Series) else pd.Series(dict(per_language))
    series = series.astype(float)
    if series.empty:
        raise ValueError("group_by_resource needs at least one language value")
    levels = [get_language(str(code)).resource for code in series.index]
    frame = pd.DataFrame({"lang": [str(c) for c in series.index], "resource": levels, "value": series.to_numpy()})
    frame = frame.dropna(subset=["value"])
    grouped = frame.groupby("resource", sort=True)
    out = pd.DataFrame(
        {
            "mean": grouped["value"].mean(),
            "std": grouped["value"].std(ddof=1),
            "n": grouped["value"].size(),
            "languages": grouped["lang"].agg(",".join),
        }
    )
    return out.rename_axis("resource")


def transfer_asymmetry(effect: pd.DataFrame) -> pd.DataFrame:
    """effect(i, j) - effect(j, i) for each unordered pair measured both ways (i != j).

    Columns lang1, lang2, effect_12 (forget lang1, eval lang2), effect_21, asymmetry; lang1 is
    the one that comes first among the rows. Empty (with those columns) when no pair is.
    """
    effect = _check_effect(effect)
    rows, seen = [], set()
    for i in effect.index:
        for j in effect.columns:
            if i == j or frozenset((i, j)) in seen or j not in effect.index or i not in effect.columns:
                continue
            a, b = effect.loc[i, j], effect.loc[j, i]
            if np.isfinite(a) and np.isfinite(b):
                seen.add(frozenset((i, j)))
                rows.append((str(i), str(j), float(a), float(b), float(a - b)))
    return pd.DataFrame(rows, columns=["lang1", "lang2", "effect_12", "effect_21", "asymmetry"])


def scatter_distance_effect(
    effect: pd.DataFrame, kind: str, path: str | Path, distance: pd.DataFrame | None = None, metric: str = "effect"
) -> Path:
    """PNG scatter of distance(i, j) vs effect(i, j), one labelled point per off-diagonal cell.

    Uses matplotlib's Agg canvas directly (no pyplot), so it neither needs a display nor changes
    the global backend of whoever imports us.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    effect = _check_effect(effect)
    if distance is None:
        distance = distance_matrix(kind, _languages(effect))
    pairs, x, y = _paired(effect, distance, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = float(stats.spearmanr(x, y).statistic)
    fig = Figure(figsize=(6, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=22, alpha=0.8)
    if len(pairs) <= 60:  # beyond that labels are unreadable anyway
        for (i, j), xi, yi in zip(pairs, x, y):
            ax.annotate(f"{i}\u2192{j}", (xi, yi), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.set_xlabel(f"{kind} distance (URIEL+)")
    ax.set_ylabel(f"{metric} (forget \u2192 eval language)")
    ax.set_title(f"{kind} distance vs {metric}: Spearman \u03c1 = {rho:.2f}, n = {len(pairs)}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path
