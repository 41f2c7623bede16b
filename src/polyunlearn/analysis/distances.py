"""Linguistic distances between the supported languages, from URIEL+ (the `urielplus` package).

Six kinds (`DISTANCE_KINDS`): syntactic, genetic, geographic, phonological, inventory, featural.
Each is URIEL+'s angular distance (2 * arccos(cos) / pi, in [0, 1]) between two languages' feature
vectors, restricted to the features both languages have values for.

URIEL+ configuration used (the same for the shipped table and for live computation):
- every bundled URIEL+ database integrated (`integrate_databases()`: SAPHON, BDPROTO, Grambank,
  APiCS, eWAVE, Glottolog, inferred features), so languages are Glottocodes afterwards;
- `aggregate()` with the defaults: union over sources ('U') and lineage filling
  (fill_with_base_lang=True: a language's missing values come from its Glottolog parent);
- no KNN/SoftImpute imputation (it needs scikit-learn/fancyimpute, which polyunlearn does not pull).
Plain URIEL (no integration) has no phonological data for Urdu and Standard Arabic and no
inventory data for Standard Arabic; with the configuration above all 16 languages have every kind.

Codes: `Language.uriel` (ISO 639-3) is mapped to a Glottocode through URIEL+'s own
uriel_glottocode_map.csv. URIEL has no entries for the macrolanguage codes ara/fas/zho, only for
their main individual languages (arb/pes/cmn, which languages.py uses); `_ISO_ALIASES` tries the
other member of such a pair when a code is missing or has no data for a kind.

Offline and cost: urielplus needs no network. On first construction it copies its original URIEL
npz files into its own installed `database/` folder (about 1 s; needs that folder writable).
Integrating the databases and aggregating takes about 2 minutes and ~4 GB of RAM, so the built
database is cached (compressed, ~30 MB) as `urielplus-<version>-db.npz` under `cache_dir()`
(`$POLYUNLEARN_CACHE`, else `~/.cache/polyunlearn`); loading it back takes ~5 s.
Because of that cost, the distances for all 16x16 pairs ship precomputed in
`resources/uriel_distances.csv` (columns lang1, lang2, kind, distance; every ordered pair,
diagonal included). `distance_matrix` reads it and only falls back to live URIEL+ for pairs it
lacks (a language added to languages.py), caching those in `uriel_distances_extra.csv`.
Regenerate the table with `python -m polyunlearn.analysis.distances` (~2 min build + a few minutes: genetic
vectors have ~8,900 features and urielplus's pairwise code is pure Python).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib.metadata
import importlib.resources
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from polyunlearn.core.atomic import write_table, write_with
from polyunlearn.core.languages import LANGUAGES, get_language

DISTANCE_KINDS: tuple[str, ...] = ("syntactic", "genetic", "geographic", "phonological", "inventory", "featural")
TABLE_COLUMNS = ["lang1", "lang2", "kind", "distance"]
TABLE_FILE = "uriel_distances.csv"
EXTRA_FILE = "uriel_distances_extra.csv"

# Macrolanguage <-> main individual language: URIEL indexes only one side of each pair.
_ISO_ALIASES: dict[str, tuple[str, ...]] = {
    "ara": ("arb",),
    "arb": ("ara",),
    "fas": ("pes",),
    "pes": ("fas",),
    "zho": ("cmn",),
    "cmn": ("zho",),
    "msa": ("zsm",),
    "zsm": ("msa",),
    "swa": ("swh",),
    "swh": ("swa",),
}
# Which features of URIEL+'s typological matrix a kind uses (the others use a whole matrix).
_FEATURE_PREFIX = {"syntactic": "S_", "phonological": "P_", "inventory": "INV_"}

log = logging.getLogger(__name__)


def check_kind(kind: str) -> str:
    if kind not in DISTANCE_KINDS:
        raise ValueError(f"unknown distance kind {kind!r}; known kinds: {', '.join(DISTANCE_KINDS)}")
    return kind


def cache_dir() -> Path:
    """Where live results and the built URIEL+ database go ($POLYUNLEARN_CACHE wins)."""
    env = os.environ.get("POLYUNLEARN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "polyunlearn"


def _urielplus_version() -> str:
    try:
        return importlib.metadata.version("urielplus")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def db_cache_path() -> Path:
    # The version is in the name: another urielplus release means other data, so another file.
    return cache_dir() / f"urielplus-{_urielplus_version()}-db.npz"


def table_path() -> Path:
    """The shipped table inside the installed package (editable or not)."""
    return Path(str(importlib.resources.files("polyunlearn") / "resources" / TABLE_FILE))


# ----------------------------------------------------------------------------- URIEL+ access


@contextlib.contextmanager
def _quiet_urielplus() -> Iterator[None]:
    """urielplus logs every step at INFO through the root logger; keep that out of our output."""
    previous = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(previous)


def _import_urielplus() -> Any:
    # urielplus calls logging.basicConfig(level=INFO) at import time, which would hijack the
    # application's root logger: undo exactly what that import added.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        from urielplus import urielplus
    except ImportError as err:  # pragma: no cover - urielplus is a declared dependency
        raise RuntimeError("live URIEL+ distances need the 'urielplus' package") from err
    for h in root.handlers[:]:
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    return urielplus


_URIELPLUS: Any = None  # the loaded database, kept per process (~0.5 GB of arrays)


def load_urielplus(rebuild: bool = False) -> Any:
    """A URIELPlus object with all databases integrated and aggregated (see module docstring).

    Loaded from the cached npz when present (~5 s), else built (~2 min) and cached; then kept
    for the rest of the process. `rebuild=True` ignores and overwrites the cached npz.
    """
    global _URIELPLUS
    if _URIELPLUS is None or rebuild:
        _URIELPLUS = _load_or_build_urielplus(rebuild)
    return _URIELPLUS


def _load_or_build_urielplus(rebuild: bool) -> Any:
    urielplus = _import_urielplus()
    with _quiet_urielplus():
        try:
            u = urielplus.URIELPlus()
        except PermissionError as err:
            raise RuntimeError(
                "urielplus could not copy its URIEL files into its installed 'database' folder "
                f"(it does that on first use): {err}"
            ) from err
        path = db_cache_path()
        if path.exists() and not rebuild:
            with np.load(path, allow_pickle=False) as z:
                for i in range(len(u.files)):
                    u.feats[i], u.langs[i] = z[f"feats{i}"], z[f"langs{i}"]
                    u.data[i], u.sources[i] = z[f"data{i}"], z[f"sources{i}"]
            u.codes = "Glotto"
            u._sync_loaded_features()
            u._refresh_indexes()
            return u
        log.warning("building the URIEL+ database (integrate all databases + aggregate): ~2 min, once")
        t0 = time.time()
        u.integrate_databases()
        u.aggregate()
    log.info("built the URIEL+ database in %.0f s; caching it at %s", time.time() - t0, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i in range(len(u.files)):
        arrays[f"feats{i}"] = np.asarray(u.feats[i]).astype(str)
        arrays[f"langs{i}"] = np.asarray(u.langs[i]).astype(str)
        arrays[f"data{i}"] = np.asarray(u.data[i])
        arrays[f"sources{i}"] = np.asarray(u.sources[i]).astype(str)
    write_with(path, lambda t: np.savez_compressed(t, **arrays))  # a concurrent reader never sees half a file
    return u


@functools.cache
def _iso_to_glottocode() -> dict[str, str]:
    urielplus = _import_urielplus()
    csv = Path(urielplus.__file__).parent / "database" / "urielplus_csvs" / "uriel_glottocode_map.csv"
    # keep_default_na=False: the ISO code "nan" (Min Nan) must stay a string.
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    return {i.strip(): g.strip() for i, g in zip(df["iso_code"], df["glottocode"]) if i.strip() and g.strip()}


def _kind_index(u: Any, kind: str) -> int:
    with _quiet_urielplus():
        return u.map_new_distance_to_loaded_features(kind)


def _has_data(u: Any, kind: str, glottocode: str) -> bool:
    idx = _kind_index(u, kind)
    row = u._language_index[idx].get(glottocode)
    if row is None:
        return False
    known = (np.asarray(u.data[idx][row]) > -1).any(axis=-1)
    prefix = _FEATURE_PREFIX.get(kind)
    if prefix:
        known &= np.char.startswith(np.asarray(u.feats[idx]).astype(str), prefix)
    return bool(known.any())


def resolve_uriel_code(u: Any, code: str, kind: str) -> str:
    """The Glottocode URIEL+ knows `code` (polyunlearn code) by, with data for `kind`."""
    iso = get_language(code).uriel
    mapping = _iso_to_glottocode()
    for candidate in (iso, *_ISO_ALIASES.get(iso, ())):
        glotto = candidate if u.is_glottocode(candidate) else mapping.get(candidate)
        if glotto and _has_data(u, kind, glotto):
            if candidate != iso:
                log.warning("URIEL+ has no %s data for %s (%s); using %s", kind, code, iso, candidate)
            return glotto
    raise ValueError(f"URIEL+ has no {kind} data for language {code!r} (URIEL code {iso!r})")


def live_distance(kind: str, code1: str, code2: str, u: Any = None) -> float:
    """One distance straight from urielplus's `new_distance` (slow first call: see module doc)."""
    check_kind(kind)
    if code1 == code2:
        get_language(code1)
        return 0.0
    u = load_urielplus() if u is None else u
    g1, g2 = resolve_uriel_code(u, code1, kind), resolve_uriel_code(u, code2, kind)
    with _quiet_urielplus():
        d = u.new_distance(kind, g1, g2)
    # urielplus already rounds to 4 decimals, but geographic vectors are float32, and
    # float(np.float32(0.0246)) is 0.02459999918...: round again in float64 for clean values.
    return round(float(d), 4)


def _compute_pairs(pairs: Iterable[tuple[str, str]], kinds: Sequence[str], u: Any = None) -> pd.DataFrame:
    """Both orientations of each unordered pair, for each kind, in the table's layout."""
    u = load_urielplus() if u is None else u
    rows = []
    for kind in kinds:
        for a, b in pairs:
            d = live_distance(kind, a, b, u)
            rows += [(a, b, kind, d), (b, a, kind, d)]  # angular distance is symmetric
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def compute_distance_table(codes: Sequence[str] | None = None, kinds: Sequence[str] = DISTANCE_KINDS) -> pd.DataFrame:
    """Every ordered pair of `codes` (default: all of languages.py), diagonal included, per kind."""
    codes = list(LANGUAGES) if codes is None else list(dict.fromkeys(codes))
    for c in codes:
        get_language(c)
    kinds = [check_kind(k) for k in kinds]
    off = _compute_pairs(list(combinations(codes, 2)), kinds)
    diag = pd.DataFrame([(c, c, k, 0.0) for k in kinds for c in codes], columns=TABLE_COLUMNS)
    table = pd.concat([off, diag], ignore_index=True)
    # Kinds, then languages, in the caller's order (not alphabetical): the CSV reads like the table.
    order = {c: i for i, c in enumerate(codes)} | {k: i for i, k in enumerate(kinds)}
    table = table.sort_values(["kind", "lang1", "lang2"], key=lambda col: col.map(order))
    return table.reset_index(drop=True)


# ----------------------------------------------------------------------------- the tables


@functools.cache
def _shipped_table() -> pd.DataFrame:
    return pd.read_csv(table_path(), keep_default_na=False)


def load_table() -> pd.DataFrame:
    """The shipped table (a copy: callers may modify it)."""
    return _shipped_table().copy()


def _extra_path() -> Path:
    return cache_dir() / EXTRA_FILE


def _read_extra() -> pd.DataFrame:
    path = _extra_path()
    if not path.exists():
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.read_csv(path, keep_default_na=False)


def _append_extra(new: pd.DataFrame) -> None:
    path = _extra_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = pd.concat([_read_extra(), new], ignore_index=True)
    merged = merged.drop_duplicates(["lang1", "lang2", "kind"], keep="last")
    write_table(path, merged)


def distance_matrix(kind: str, codes: Sequence[str]) -> pd.DataFrame:
    """Symmetric `codes` x `codes` matrix of one distance kind, zero diagonal.

    From the shipped table, then the cache of live results, then live URIEL+ for what is left.
    """
    check_kind(kind)
    codes = list(dict.fromkeys(codes))
    if not codes:
        raise ValueError("distance_matrix needs at least one language code")
    for c in codes:
        get_language(c)  # UnknownLanguageError (a ValueError) naming the code
    known: dict[tuple[str, str], float] = {}
    for table in (_shipped_table(), _read_extra()):
        sub = table[(table["kind"] == kind) & table["lang1"].isin(codes) & table["lang2"].isin(codes)]
        known.update({(a, b): float(d) for a, b, d in zip(sub["lang1"], sub["lang2"], sub["distance"])})
    missing = [(a, b) for a, b in combinations(codes, 2) if (a, b) not in known and (b, a) not in known]
    if missing:
        log.info("computing %d %s distance(s) with live URIEL+", len(missing), kind)
        new = _compute_pairs(missing, [kind])
        _append_extra(new)
        known.update({(a, b): float(d) for a, b, d in zip(new["lang1"], new["lang2"], new["distance"])})
    m = pd.DataFrame(0.0, index=pd.Index(codes, name="lang1"), columns=pd.Index(codes, name="lang2"))
    for a, b in combinations(codes, 2):
        # Symmetric by construction, even if a table held only one orientation.
        d = known.get((a, b), known.get((b, a)))
        m.loc[a, b] = m.loc[b, a] = d
    return m


# ----------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m polyunlearn.analysis.distances", description="Regenerate the shipped URIEL+ distance table."
    )
    parser.add_argument("--out", type=Path, default=None, help=f"output CSV (default: the package's {TABLE_FILE})")
    parser.add_argument("--langs", default="all", help="comma-separated codes, or 'all' (default)")
    parser.add_argument("--rebuild-db", action="store_true", help="rebuild the cached URIEL+ database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from polyunlearn.core.languages import parse_langs

    codes = parse_langs(args.langs)
    t0 = time.time()
    if args.rebuild_db:
        load_urielplus(rebuild=True)
    table = compute_distance_table(codes)
    out = args.out or table_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(
        f"wrote {len(table)} rows ({len(codes)} languages x {len(DISTANCE_KINDS)} kinds) to {out} "
        f"in {time.time() - t0:.0f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
