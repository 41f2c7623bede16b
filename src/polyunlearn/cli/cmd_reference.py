"""CLI reference listings: `methods` (the registered unlearning objectives), `languages` and
`metrics` (the metrics table: what each summary column is and what TOFU / open-unlearning /
MUSE call it),
`presets` (the papers' protocols, and our defaults beside them)."""

from __future__ import annotations

import typer

from polyunlearn.cli.root import REFERENCE, app, console


@app.command(rich_help_panel=REFERENCE)
def methods():
    """List the registered unlearning methods: formula, hyperparameter defaults, reference model."""
    from rich.markup import escape
    from rich.table import Table

    from polyunlearn.methods.registry import METHODS

    rows = [spec.describe() for _, spec in sorted(METHODS.items())]
    table = Table(
        title=f"{len(rows)} unlearning methods (L = gamma * forget term + alpha * retain term)", show_lines=True
    )
    for col in rows[0]:
        table.add_column(col, overflow="fold", no_wrap=col == "method")
    for r in rows:
        table.add_row(*map(escape, r.values()))  # formulas hold [..] that rich would read as markup
    console.print(table)
    console.print(
        "citations and paper defaults: each method's docstring (polyunlearn.methods); set hyperparameters with the unlearn options or grid.params"
    )


@app.command(rich_help_panel=REFERENCE)
def languages():
    """Show the language table."""
    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.core.languages import LANGUAGES, STUDY_A, STUDY_B

    rows = [
        {
            "code": lang.code,
            "name": lang.name,
            "script": lang.script,
            "family": lang.family,
            "resource": lang.resource,
            "uriel": lang.uriel,
            "study": ("A" if lang.code in STUDY_A else "") + ("B" if lang.code in STUDY_B else ""),
        }
        for lang in LANGUAGES.values()
    ]
    console.print(console_table(rows, "languages"))


@app.command(rich_help_panel=REFERENCE)
def metrics(
    split: str = typer.Option(
        "forget,retain",
        help="Splits whose per-split metrics to list (comma list, or 'all'); cross-split metrics are always listed.",
    ),
    full: bool = typer.Option(False, help="Also show the formula and where polyunlearn differs from the reference."),
):
    """Show the metrics table: summary column, direction, reference names (TOFU, open-unlearning, MUSE)."""
    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.evaluation.metric_table import METRICS

    wanted = None if split.strip() == "all" else {s.strip() for s in split.split(",")}
    keep = ["column", "higher_is_better", "description", "tofu", "open_unlearning", "muse"] + (
        ["formula", "differs"] if full else []
    )
    rows = [
        {k: ("" if getattr(m, k) is None else str(getattr(m, k))) for k in keep}
        for m in METRICS
        if m.split is None or wanted is None or m.split in wanted
    ]
    console.print(console_table(rows, "metrics (summary column -> reference name)"))


@app.command(rich_help_panel=REFERENCE)
def presets():
    """List the paper presets (--preset) with every value they set, and our defaults beside the papers'."""
    from rich.markup import escape

    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.studies.presets import DEFAULTS_VS_PAPERS, PRESETS

    for preset in PRESETS.values():
        console.print(f"[bold]{escape(preset.name)}[/bold]: {escape(preset.paper)}")
        for command, values in preset.commands.items():
            shown = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in values.items() if k != "method_params")
            extra = "; ".join(
                f"{m}: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in p.items())
                for m, p in values.get("method_params", {}).items()
            )
            console.print(
                f"  {command}: {shown}" + (f" (method {extra})" if extra else ""), markup=False, highlight=False
            )
        for key, source in preset.sources.items():
            console.print(f"  source of {key}: {source}", markup=False, highlight=False)
        for note in preset.notes:
            console.print(f"  note: {note}", markup=False, highlight=False)
        for key, text in preset.differences.items():
            console.print(f"  differs: {key}: {text}", markup=False, highlight=False)
    rows = [
        dict(zip(("setting", "ours", "Study B authors", "Study A authors", "why ours"), row))
        for row in DEFAULTS_VS_PAPERS
    ]
    console.print(console_table(rows, "our defaults vs the papers' protocols"))
