"""`polyunlearn report RUN_DIR`: one self-contained HTML page for a demo folder or a grid folder.

    polyunlearn report polyunlearn_runs/demo          # -> polyunlearn_runs/demo/report.html

Read first, scroll second. The page opens with the headline table (one row per run: forget and
retain Prob before -> after, Forget Quality, Model Utility, the significant cells of its matrices,
the epoch that is its result), then a table of contents, then one section per method (its
transfer matrices, and per run its per-epoch curves and per-language bars), the membership
attack, the distance analysis (from DIR/analysis when `polyunlearn analyze` ran, else computed on
the fly when the runs allow it), the summary before unlearning, the results table, the metrics
table and every run's config. Every figure has a sentence saying what it shows. Images are
embedded as base64 data URIs and the style is inline, so the file can be mailed or opened
offline; no script runs in it.

A section is a function of the ReportData that returns HTML parts starting with its `<h2>`
(nothing = no section); SECTIONS lists them in page order, and the table of contents is made from
their `<h2>` and `<h3 id=...>` headings. A new section is one function and one line in SECTIONS.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from polyunlearn.analysis.attack_report import attack_section
from polyunlearn.analysis.headline import headline_rows
from polyunlearn.analysis.matrices import HEADLINE
from polyunlearn.analysis.results import collect_results, run_groups, slug, write_result_matrices
from polyunlearn.core.atomic import read_json, write_text

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; } h3 { margin-bottom: .3em; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; border: 1px solid #eee; } figure.small { max-width: 47%; } figcaption { font-size: .85em; color: #555; }
table.t { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; display: block; overflow-x: auto; max-width: 100%; }
table.t th, table.t td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.t th { background: #f4f4f4; } pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; }
.note { color: #666; font-style: italic; } details { margin: .3em 0; } summary { cursor: pointer; }
nav.toc { background: #fafafa; border: 1px solid #e4e4e4; padding: .4em 1.2em; font-size: .9em; }
nav.toc ul { margin: .2em 0; padding-left: 1.2em; } table.headline td:first-child, table.headline th { text-align: left; }
"""


def _img(png: bytes, caption: str, small: bool = False) -> str:
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    cap = html.escape(caption)
    cls = ' class="small"' if small else ""
    return f'<figure{cls}><img src="{uri}" alt="{cap}"><figcaption>{cap}</figcaption></figure>'


def _table(df: pd.DataFrame, index: bool = True) -> str:
    return df.to_html(classes="t", border=0, index=index, escape=True, na_rep="", float_format=lambda x: f"{x:.3f}")


def _fig_png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)  # Agg canvas directly: no pyplot state, no display needed
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def prob_bars(results: pd.DataFrame, run_id: str) -> bytes:
    """Grouped bars per language: forget and retain Prob, before vs after unlearning."""
    from matplotlib.figure import Figure

    r = results[results["run_id"] == run_id]
    langs = list(dict.fromkeys(r["language"]))
    series = []
    for metric, colors in (("forget_prob", ("#f4a582", "#b2182b")), ("retain_prob", ("#92c5de", "#2166ac"))):
        m = r[r["metric"] == metric].set_index("language").reindex(langs)
        if len(m):
            series += [(f"{metric} before", m["before"], colors[0]), (f"{metric} after", m["value"], colors[1])]
    fig = Figure(figsize=(1.2 + 0.9 * len(langs), 2.8))
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    for k, (name, vals, color) in enumerate(series):
        ax.bar(
            [i + (k - (len(series) - 1) / 2) * width for i in range(len(langs))],
            vals.to_numpy(float),
            width,
            label=name,
            color=color,
        )
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Prob")
    first = r.iloc[0]
    ax.set_title(f"{first['method']}: unlearned in ({first['forget_langs']}), seed {first['seed']}", fontsize=9)
    ax.legend(
        fontsize=7, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False
    )  # below: never over the bars
    return _fig_png(fig)


@dataclass
class ReportData:
    """Everything the sections read: the folder, its tidy results and run records, the languages,
    and where its matrices are (FOLDER/matrices, or rendered into `tmp` when it has none)."""

    folder: Path
    kind: str  # "demo" or "grid"
    results: pd.DataFrame
    configs: dict[str, dict]
    langs: list[str]
    tmp: Path
    analysis: bool
    matrices: Path
    rendered: bool  # the matrices were rendered for this report

    def run_dir(self, run_id: str) -> Path:
        return self.folder / ("runs" if self.kind == "grid" else "unlearn") / run_id

    def done(self, run_id: str) -> dict:
        path = self.run_dir(run_id) / "done.json"
        return read_json(path) if path.is_file() else {}

    def groups(self) -> dict[str, list[str]]:
        """Group label (method + varying hyperparameters, the matrices' names) -> its run ids."""
        if not len(self.results):
            return {}
        return {label: list(dict.fromkeys(g["run_id"])) for label, g in run_groups(self.results).items()}


def _report_data(folder: Path, tmp: Path, analysis: bool) -> ReportData:
    results, configs = collect_results(folder)
    kind = "grid" if (folder / "grid.json").exists() else "demo"
    langs = list(dict.fromkeys(results["language"])) if len(results) else []
    matrices, rendered = folder / "matrices", False
    if not list(matrices.glob("*.png")) and len(results):
        write_result_matrices(results, tmp / "matrices", folder=folder)
        matrices, rendered = tmp / "matrices", True
    return ReportData(folder, kind, results, configs, langs, tmp, analysis, matrices, rendered)


def _arrow(pair: tuple[float, float] | None) -> str:
    return "&ndash;" if pair is None else f"{pair[0]:.3f} &rarr; {pair[1]:.3f}"


def _headline_section(data: ReportData) -> list[str]:
    rows = headline_rows(data.results, data.matrices, data.done)
    if not rows:
        return ['<p class="note">No finished runs yet.</p>']
    curves = any(r["epoch"] for r in rows)
    head = [
        "run",
        "method",
        "unlearned in",
        "forget Prob before &rarr; after",
        "retain Prob before &rarr; after",
        "Forget Quality",
        "Model Utility before &rarr; after",
        "significant cells (q &lt; 0.05)",
    ] + (["result epoch"] if curves else [])
    body = []
    for r in rows:
        fq = "&ndash;" if r["forget_quality"] is None else f"{r['forget_quality'][1]:.3g}"
        sig = ", ".join(f"{html.escape(m)} {a}/{n}" for m, (a, n) in r["significant"].items()) or "&ndash;"
        cells = [
            f'<a href="#{_run_anchor(r["run"])}">{html.escape(r["run"])}</a>',
            html.escape(r["method"]),
            html.escape(r["forget_langs"]),
            _arrow(r["forget_prob"]),
            _arrow(r["retain_prob"]),
            fq,
            _arrow(r["model_utility"]),
            sig,
        ]
        if curves:
            cells.append("&ndash;" if not r["epoch"] else f"{r['epoch'][0]} ({html.escape(r['epoch'][1])})")
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    intro = (
        "<p>One row per run. Each number is the mean over the languages the run unlearned; Forget Quality after unlearning "
        "(the KS-test p-value against the retain model: higher = closer to never having learned); significant cells: cells of "
        "the run's row in each transfer matrix whose paired per-item change has a Benjamini-Hochberg q below 0.05.</p>"
    )
    table = (
        '<table class="t headline" id="headline-table"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )
    return [intro, table]


def _run_anchor(run_id: str) -> str:
    return "run-" + slug(run_id)


def _matrix_caption(group: str, metric: str) -> str:
    return (
        f"Change in {metric} ({HEADLINE.get(metric, 'vs before')}) after unlearning with {group}: rows = the forget-language set "
        "of a run, columns = the evaluation language; boxes mark the unlearned languages, * a significant cell (BH q < 0.05)."
    )


def _curves_figure(data: ReportData, rid: str) -> str:
    png = data.run_dir(rid) / "curves.png"
    done = data.done(rid)
    if not png.is_file() or "selected_epoch" not in done:
        return '<p class="note">No per-epoch curves (run with <code>--eval-every N</code>).</p>'
    would = done.get("curves", {}).get("would_select", {})
    others = "; ".join(f"{rule} would pick epoch {w['epoch']}" for rule, w in would.items() if rule != done["select"])
    caption = (
        f"Per-epoch metrics in every language (forget languages solid, others dashed): the vertical line is epoch "
        f"{done['selected_epoch']}, the run's result ({done['select']}: {done['selection_reason']})"
        + (f"; {others}." if others else ".")
    )
    return _img(png.read_bytes(), caption)


def _bars_caption(rid: str, forget_langs: str) -> str:
    return f"Run {rid}: forget and retain Prob in each language before (light) and after (dark) unlearning in ({forget_langs})."


def _method_sections(data: ReportData) -> list[str]:
    """One section per method (group): its matrices, then per run its curves and bars."""
    parts: list[str] = []
    for group, run_ids in data.groups().items():
        parts.append(f"<h2>{html.escape(group)}</h2>")
        if data.rendered:
            parts.append(
                '<p class="note">Matrices rendered for this report from the results (the folder has no matrices/).</p>'
            )
        pngs = [(m, data.matrices / f"{slug(group)}_{m}.png") for m in HEADLINE]
        parts += [_img(p.read_bytes(), _matrix_caption(group, m), small=True) for m, p in pngs if p.is_file()]
        for rid in run_ids:
            fl = str(data.results.loc[data.results["run_id"] == rid, "forget_langs"].iloc[0])
            parts.append(f'<h3 id="{_run_anchor(rid)}">{html.escape(rid)}: unlearned in ({html.escape(fl)})</h3>')
            parts.append(_curves_figure(data, rid))
            parts.append(_img(prob_bars(data.results, rid), _bars_caption(rid, fl)))
    return parts or ["<h2>Runs</h2>", '<p class="note">No finished runs yet.</p>']


def _other_matrices_section(data: ReportData) -> list[str]:
    """Heatmaps in matrices/ that belong to no method group (e.g. written by other commands)."""
    known = {f"{slug(g)}_{m}.png" for g in data.groups() for m in HEADLINE}
    pngs = sorted(p for p in data.matrices.glob("*.png") if p.name not in known)
    return (
        ["<h2>Other matrices</h2>", *(_img(p.read_bytes(), f"{p.stem}: change matrix from {p.parent}.") for p in pngs)]
        if pngs
        else []
    )


def _before_section(data: ReportData) -> list[str]:
    if not len(data.results):
        return []
    before = (
        data.results.drop_duplicates(["language", "metric"])
        .pivot(index="language", columns="metric", values="before")
        .reindex(data.langs)
    )
    return ["<h2>Per-language summary before unlearning</h2>", _table(before)]


def _results_section(data: ReportData) -> list[str]:
    if not len(data.results):
        return []
    return [
        "<h2>Results table</h2>",
        "<details><summary>every run x language x metric (also in results.csv for a grid)</summary>",
        _table(data.results, index=False),
        "</details>",
    ]


def _configs_section(data: ReportData) -> list[str]:
    top = data.folder / ("grid.json" if data.kind == "grid" else "run.json")
    parts = ["<h2>Run configs</h2>"]
    if top.exists():
        parts.append(
            f"<details open><summary>{html.escape(top.name)}</summary><pre>{html.escape(json.dumps(read_json(top), indent=2, ensure_ascii=False))}</pre></details>"
        )
    for rid, cfg in data.configs.items():
        parts.append(
            f"<details><summary>{html.escape(rid)}</summary><pre>{html.escape(json.dumps(cfg, indent=2, ensure_ascii=False))}</pre></details>"
        )
    return parts


def _analysis_section(folder: Path, tmp: Path, compute: bool) -> str:
    from polyunlearn.analysis.analyze import analyze_dir

    manifest_path = folder / "analysis" / "analysis.json"
    where = manifest_path.parent
    if manifest_path.exists():
        manifest, note = (
            read_json(manifest_path),
            f"From {html.escape(str(where))} (written by <code>polyunlearn analyze</code>).",
        )
    elif compute:
        try:
            where = tmp / "analysis"
            manifest, note = (
                analyze_dir(folder, where),
                "Computed for this report (run <code>polyunlearn analyze</code> to keep the files).",
            )
        except ValueError as e:
            return f'<p class="note">No distance analysis: {html.escape(str(e))}</p>'
    else:
        return '<p class="note">No distance analysis (run <code>polyunlearn analyze</code>).</p>'
    parts = [
        f'<p class="note">{note}</p><p>Effect = {html.escape(manifest["effect"])}. Correlated with URIEL+ distances over the off-diagonal cells; rank 1 = largest |Spearman &rho;|.</p>'
    ]
    for label, entry in manifest["groups"].items():
        parts.append(f"<h3>{html.escape(label)}</h3>")
        files = {k: where / v for k, v in entry["files"].items()}
        why = entry.get("skipped") or entry.get("correlation_skipped")
        if why:
            parts.append(f'<p class="note">{html.escape(why)}</p>')
        for key, title in (
            ("correlations", "Distance correlations"),
            ("effect", "Effect matrix"),
            ("resource", "By resource level"),
            ("asymmetry", "Transfer asymmetry: effect(i, j) - effect(j, i)"),
        ):
            if key in files and files[key].exists():
                df = pd.read_csv(files[key], index_col=0 if key == "effect" else None)
                parts.append(
                    f"<h4>{title}</h4>" + (_table(df, index=key == "effect") if len(df) else '<p class="note">none</p>')
                )
        scatter = [(k, where / p) for k, p in entry.get("scatter", {}).items() if (where / p).exists()]
        parts += [
            _img(
                p.read_bytes(),
                f"{label}: each language pair's {k} distance (URIEL+) against the effect of unlearning in one "
                "language measured in the other.",
                small=True,
            )
            for k, p in scatter
        ]
    return "".join(parts)


def _mia_section(results: pd.DataFrame, langs: list[str], folder: Path) -> list[str]:
    """Loss-attack AUC (forget vs holdout) per run and language, with the value before
    unlearning as the first row and the retain model's (the target) as the second, when the
    folder has its evaluation; nothing when the benchmark has no holdout split."""
    if not len(results) or "mia_loss_auc" not in set(results["metric"]):
        return []
    r = results[results["metric"] == "mia_loss_auc"]
    table = r.pivot_table(index="run_id", columns="language", values="value", sort=False)
    before = r.drop_duplicates("language").set_index("language")["before"].rename("before unlearning")
    rows = [before.to_frame().T]
    for where in (folder / "eval" / "retain_model", folder / "base" / "eval" / "retain_model"):  # demo, grid
        if (where / "summary.csv").exists():
            ref = pd.read_csv(where / "summary.csv")
            if "mia_loss_auc" in ref:
                rows.append(ref.set_index("language")["mia_loss_auc"].rename("retain model (target)").to_frame().T)
            break
    table = pd.concat([*rows, table]).reindex(columns=[c for c in langs if c in table.columns])
    intro = (
        "<p>Membership attack on the answer loss: ROC AUC of telling forget facts (trained on) from holdout facts "
        "(never trained on). ~1 = membership plain to see, 0.5 = hidden, well below 0.5 = over-unlearned "
        "(the facts now look rarer than unseen ones). <code>privleak</code> in the results table (MUSE's, on the Min-K% AUC) compares with the retain model.</p>"
    )
    return ["<h2>Membership attack (loss AUC, forget vs holdout)</h2>", intro, _table(table)]


def _metrics_section(results: pd.DataFrame) -> list[str]:
    """The metrics table (evaluation/metric_table.py) for the metrics this folder's results
    have: what each column means, its formula, the reference's name and where we differ."""
    from polyunlearn.evaluation.metric_table import lookup

    if not len(results):
        return []
    keep = ["column", "description", "formula", "tofu", "open_unlearning", "muse", "differs"]
    rows = []
    for column in dict.fromkeys(results["metric"]):
        try:
            rows.append({k: getattr(lookup(column), k) for k in keep})
        except KeyError:
            rows.append({"column": column, "description": "(not in the metrics table)"})
    table = pd.DataFrame(rows).reindex(columns=keep).fillna("")
    return [
        "<h2>Metrics</h2>",
        "<details><summary>what each metric is, and what TOFU / open-unlearning / MUSE call it</summary>",
        _table(table, index=False),
        "</details>",
    ]


# The page after the headline table and the table of contents, in order. Each returns HTML parts
# beginning with its <h2> (or nothing); a method section may hold several sections.
SECTIONS = (
    _method_sections,
    _other_matrices_section,
    lambda d: _mia_section(d.results, d.langs, d.folder),
    lambda d: attack_section(d.folder),  # only when some run was attacked (`polyunlearn attack`)
    lambda d: ["<h2>Linguistic distance and transfer</h2>", _analysis_section(d.folder, d.tmp, d.analysis)],
    _before_section,
    _results_section,
    lambda d: _metrics_section(d.results),
    _configs_section,
)


def _toc(body: str) -> str:
    """Links to every section (<section id> + its <h2>) and run (<h3 id>) of `body`, in page order."""
    items: list[str] = []
    for sid, title, rid, run in re.findall(
        r'<section id="([^"]+)">\s*<h2>(.*?)</h2>|<h3 id="([^"]+)">(.*?)</h3>', body
    ):
        if sid:
            items += ["</ul></li>"] if items else []
            items.append(f'<li><a href="#{sid}">{title}</a><ul>')
        elif items:
            items.append(f'<li><a href="#{rid}">{run}</a></li>')
    links = ("".join(items) + "</ul></li>").replace("<ul></ul>", "")
    return f'<nav class="toc"><strong>Contents</strong><ul>{links}</ul></nav>' if items else ""


def _sectioned(parts: list[str], used: set[str]) -> str:
    """`parts` as <section id=...> elements, a new one at each part that starts with <h2>; each id
    unique on the page (made from the heading)."""
    chunks: list[list[str]] = []
    for part in parts:
        if part.startswith("<h2>") or not chunks:
            chunks.append([])
        chunks[-1].append(part)
    out = []
    for chunk in chunks:
        m = re.match(r"<h2>(.*?)</h2>", chunk[0])
        base = "s-" + slug(re.sub(r"<[^>]+>|&[a-z]+;", "", m.group(1)) if m else "section").lower()
        sid, k = base, 2
        while sid in used:
            sid, k = f"{base}-{k}", k + 1
        used.add(sid)
        out.append(f'<section id="{sid}">\n' + "\n".join(chunk) + "\n</section>")
    return "\n".join(out)


def build_report(folder: str | Path, out: str | Path | None = None, analysis: bool = True) -> Path:
    """Write the report for a demo or grid folder (default FOLDER/report.html); returns its path."""
    folder = Path(folder)
    out = Path(out) if out else folder / "report.html"
    with tempfile.TemporaryDirectory(prefix="polyunlearn-report-") as t:
        data = _report_data(folder, Path(t), analysis)
        used: set[str] = set()
        sections = "\n".join(_sectioned(parts, used) for build in SECTIONS if (parts := build(data)))
        body = [
            f"<h1>polyunlearn report: {html.escape(folder.resolve().name)}</h1>",
            f"<p>{data.kind} folder <code>{html.escape(str(folder.resolve()))}</code>; {len(data.configs)} run(s) with results; "
            f"languages: {html.escape(', '.join(data.langs))}; written {_dt.datetime.now().isoformat(timespec='seconds')}.</p>",
            '<section id="headline">',
            *_headline_section(data),
            "</section>",
            _toc(sections),
            sections,
        ]
        page = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>polyunlearn report: {html.escape(folder.name)}</title><style>{CSS}</style></head>\n<body>\n'
            + "\n".join(body)
            + "\n</body></html>\n"
        )
    return write_text(out, page)
