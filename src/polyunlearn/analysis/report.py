"""`polyunlearn report RUN_DIR`: one self-contained HTML page for a demo folder or a grid folder.

    polyunlearn report polyunlearn_runs/demo          # -> polyunlearn_runs/demo/report.html

The page holds: the transfer matrices as heatmaps (matrices/*.png, rendered from the
results when the folder has none), per-run bar charts of forget/retain Prob before vs after in
every language, the distance-correlation tables and scatter plots (from DIR/analysis when
`polyunlearn analyze` ran, else computed on the fly when the runs allow it), the per-language
summary before unlearning, and every run's config. Images are embedded as base64 data URIs and
the style is inline, so the file can be mailed or opened offline; no script runs in it.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import tempfile
from pathlib import Path

import pandas as pd

from polyunlearn.core.atomic import read_json, write_text
from polyunlearn.analysis.attack_report import attack_section
from polyunlearn.analysis.results import collect_results, write_result_matrices

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; } h3 { margin-bottom: .3em; }
figure { display: inline-block; margin: .5em 1em .5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; } figure.small { max-width: 47%; } figcaption { font-size: .85em; color: #555; }
table.t { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; }
table.t th, table.t td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
table.t th { background: #f4f4f4; } pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .8em; }
.note { color: #666; font-style: italic; } details { margin: .3em 0; } summary { cursor: pointer; }
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
        ax.bar([i + (k - (len(series) - 1) / 2) * width for i in range(len(langs))], vals.to_numpy(float), width, label=name, color=color)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Prob")
    first = r.iloc[0]
    ax.set_title(f"{first['method']}: unlearned in ({first['forget_langs']}), seed {first['seed']}", fontsize=9)
    ax.legend(fontsize=7, ncols=2, loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)  # below: never over the bars
    return _fig_png(fig)


def _matrices_section(folder: Path, results: pd.DataFrame, tmp: Path) -> str:
    pngs = sorted((folder / "matrices").glob("*.png"))
    note = ""
    if not pngs and not results.empty:
        pngs = sorted(p for p in write_result_matrices(results, tmp / "matrices", folder=folder) if p.suffix == ".png")
        note = '<p class="note">Rendered for this report from the results (the folder has no matrices/).</p>'
    if not pngs:
        return '<p class="note">No finished runs yet.</p>'
    intro = "<p>Rows = forget-language set of a run, columns = evaluation language, cells = change vs the model before unlearning; boxes mark the unlearned languages.</p>"
    return intro + note + "".join(_img(p.read_bytes(), p.stem) for p in pngs)


def _analysis_section(folder: Path, tmp: Path, compute: bool) -> str:
    from polyunlearn.analysis.analyze import analyze_dir

    manifest_path = folder / "analysis" / "analysis.json"
    where = manifest_path.parent
    if manifest_path.exists():
        manifest, note = read_json(manifest_path), f"From {html.escape(str(where))} (written by <code>polyunlearn analyze</code>)."
    elif compute:
        try:
            where = tmp / "analysis"
            manifest, note = analyze_dir(folder, where), "Computed for this report (run <code>polyunlearn analyze</code> to keep the files)."
        except ValueError as e:
            return f'<p class="note">No distance analysis: {html.escape(str(e))}</p>'
    else:
        return '<p class="note">No distance analysis (run <code>polyunlearn analyze</code>).</p>'
    parts = [f'<p class="note">{note}</p><p>Effect = {html.escape(manifest["effect"])}. Correlated with URIEL+ distances over the off-diagonal cells; rank 1 = largest |Spearman &rho;|.</p>']
    for label, entry in manifest["groups"].items():
        parts.append(f"<h3>{html.escape(label)}</h3>")
        files = {k: where / v for k, v in entry["files"].items()}
        why = entry.get("skipped") or entry.get("correlation_skipped")
        if why:
            parts.append(f'<p class="note">{html.escape(why)}</p>')
        for key, title in (("correlations", "Distance correlations"), ("effect", "Effect matrix"), ("resource", "By resource level"), ("asymmetry", "Transfer asymmetry: effect(i, j) - effect(j, i)")):
            if key in files and files[key].exists():
                df = pd.read_csv(files[key], index_col=0 if key == "effect" else None)
                parts.append(f"<h4>{title}</h4>" + (_table(df, index=key == "effect") if len(df) else '<p class="note">none</p>'))
        scatter = [(k, where / p) for k, p in entry.get("scatter", {}).items() if (where / p).exists()]
        parts += [_img(p.read_bytes(), f"{label}: {k} distance vs effect", small=True) for k, p in scatter]
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
    intro = ("<p>Membership attack on the answer loss: ROC AUC of telling forget facts (trained on) from holdout facts "
             "(never trained on). ~1 = membership plain to see, 0.5 = hidden, well below 0.5 = over-unlearned "
             "(the facts now look rarer than unseen ones). <code>privleak</code> in the results table (MUSE's, on the Min-K% AUC) compares with the retain model.</p>")
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
    return ["<h2>Metrics</h2>", "<details><summary>what each metric is, and what TOFU / open-unlearning / MUSE call it</summary>",
            _table(table, index=False), "</details>"]


def build_report(folder: str | Path, out: str | Path | None = None, analysis: bool = True) -> Path:
    """Write the report for a demo or grid folder (default FOLDER/report.html); returns its path."""
    folder = Path(folder)
    results, configs = collect_results(folder)
    kind = "grid" if (folder / "grid.json").exists() else "demo"
    top = folder / ("grid.json" if kind == "grid" else "run.json")
    out = Path(out) if out else folder / "report.html"
    langs = list(dict.fromkeys(results["language"])) if len(results) else []
    with tempfile.TemporaryDirectory(prefix="polyunlearn-report-") as t:
        tmp = Path(t)
        body = [
            f"<h1>polyunlearn report: {html.escape(folder.resolve().name)}</h1>",
            f"<p>{kind} folder <code>{html.escape(str(folder.resolve()))}</code>; {len(configs)} run(s) with results; "
            f"languages: {html.escape(', '.join(langs))}; written {_dt.datetime.now().isoformat(timespec='seconds')}.</p>",
            "<h2>Transfer matrices</h2>", _matrices_section(folder, results, tmp),
            "<h2>Forget and retain Prob per language, before vs after</h2>",
        ]
        body += [_img(prob_bars(results, rid), f"run {rid}") for rid in dict.fromkeys(results["run_id"])] or ['<p class="note">No finished runs yet.</p>']
        body += _mia_section(results, langs, folder)
        body += attack_section(folder)  # only when some run was attacked (`polyunlearn attack`)
        body += ["<h2>Linguistic distance and transfer</h2>", _analysis_section(folder, tmp, analysis)]
        if len(results):
            before = results.drop_duplicates(["language", "metric"]).pivot(index="language", columns="metric", values="before").reindex(langs)
            body += ["<h2>Per-language summary before unlearning</h2>", _table(before)]
            body += ["<h2>Results table</h2>", "<details><summary>every run x language x metric (also in results.csv for a grid)</summary>", _table(results, index=False), "</details>"]
            body += _metrics_section(results)
        body.append("<h2>Run configs</h2>")
        if top.exists():
            body.append(f"<details open><summary>{html.escape(top.name)}</summary><pre>{html.escape(json.dumps(read_json(top), indent=2, ensure_ascii=False))}</pre></details>")
        for rid, cfg in configs.items():
            body.append(f"<details><summary>{html.escape(rid)}</summary><pre>{html.escape(json.dumps(cfg, indent=2, ensure_ascii=False))}</pre></details>")
        page = f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>polyunlearn report: {html.escape(folder.name)}</title><style>{CSS}</style></head>\n<body>\n' + "\n".join(body) + "\n</body></html>\n"
    return write_text(out, page)
