"""CLI `data`: what a --data spec loads, before anyone spends GPU hours.

polyunlearn data "tofu:forget01 + tofu:amnesia/:forget01"
polyunlearn data seegull-mcq:mcq/ --json
"""

from __future__ import annotations

import json

import typer
from rich.markup import escape

from polyunlearn.cli.root import TOOLS, app, console, friendly_errors
from polyunlearn.data.resolve import DATA_HELP

# Skipped rows listed one per line on the console; the rest are counted (--json has them all).
_SHOW_SKIPPED = 20


@app.command("data", rich_help_panel=TOOLS)
@friendly_errors
def data(
    spec: str = typer.Argument(..., help="The data spec to inspect: " + DATA_HELP),
    langs: str | None = typer.Option(None, help="Keep only these languages (comma list, 'all', 'study-b')."),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="A row with an empty required field is an error instead of skipped (as with POLYUNLEARN_STRICT_DATA=1).",
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help='Print one JSON object: {"languages", "shared_ids", "missing_optional", "skipped", "repeated_options"}.',
    ),
):
    """Show what a --data spec loads: items per language and split, ids shared by every language,
    optional fields missing, rows skipped and why."""
    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.data.describe import describe_items, missing_effect
    from polyunlearn.data.resolve import resolve_data
    from polyunlearn.data.seegull_mcq import describe_repeated

    skipped: list = []
    items = resolve_data(spec, langs, strict=strict, skipped=skipped)
    report = describe_items(items, skipped)
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, allow_nan=False))
        return
    rows = [{"language": lang, **counts} for lang, counts in report["languages"].items()]
    rows.append({"language": "shared ids", **report["shared_ids"]})
    console.print(console_table(rows, f"{len(items)} items"))
    for lang, per_split in report["missing_optional"].items():
        for split, fields in per_split.items():
            text = ", ".join(f"{n} without {name}" for name, n in fields.items())
            console.print(
                f"[yellow]{escape(lang)} {escape(split)}:[/yellow] {escape(text)} ({escape(missing_effect(split, list(fields)))})"
            )
    repeated = describe_repeated(report["repeated_options"])
    if repeated:
        console.print(repeated, markup=False)
    for row in report["skipped"][:_SHOW_SKIPPED]:
        console.print(f"[yellow]skipped[/yellow] {escape(row['where'])}: {escape(row['reason'])}")
    if len(report["skipped"]) > _SHOW_SKIPPED:
        console.print(
            f"[yellow]... and {len(report['skipped']) - _SHOW_SKIPPED} more skipped rows[/yellow] (--json lists all)"
        )
