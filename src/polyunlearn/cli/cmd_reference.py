"""CLI reference listings: `methods` (the registered unlearning objectives), `languages` and
`presets` (the papers' protocols, and our defaults beside them)."""
from __future__ import annotations

from polyunlearn.cli.root import REFERENCE, app, console


@app.command(rich_help_panel=REFERENCE)
def methods():
    """List the registered unlearning methods."""
    from polyunlearn.methods.registry import METHODS

    for name, fn in sorted(METHODS.items()):
        console.print(f"[bold]{name}[/bold]: {(fn.__doc__ or '').strip().splitlines()[0]}")


@app.command(rich_help_panel=REFERENCE)
def languages():
    """Show the language table."""
    from polyunlearn.core.languages import LANGUAGES, STUDY_A, STUDY_B
    from polyunlearn.analysis.matrices import console_table

    rows = [{"code": l.code, "name": l.name, "script": l.script, "family": l.family, "resource": l.resource, "uriel": l.uriel, "study": ("A" if l.code in STUDY_A else "") + ("B" if l.code in STUDY_B else "")} for l in LANGUAGES.values()]
    console.print(console_table(rows, "languages"))


@app.command(rich_help_panel=REFERENCE)
def presets():
    """List the paper presets (--preset) with every value they set, and our defaults beside the papers'."""
    from polyunlearn.analysis.matrices import console_table
    from polyunlearn.studies.presets import DEFAULTS_VS_PAPERS, PRESETS

    for preset in PRESETS.values():
        console.print(f"[bold]{preset.name}[/bold]: {preset.paper}")
        for command, values in preset.commands.items():
            shown = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in values.items() if k != "method_params")
            extra = "; ".join(f"{m}: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in p.items()) for m, p in values.get("method_params", {}).items())
            console.print(f"  {command}: {shown}" + (f" (method {extra})" if extra else ""), markup=False, highlight=False)
        for key, source in preset.sources.items():
            console.print(f"  source of {key}: {source}", markup=False, highlight=False)
        for note in preset.notes:
            console.print(f"  note: {note}", markup=False, highlight=False)
    rows = [dict(zip(("setting", "ours", "Study B authors", "Study A authors", "why ours"), row)) for row in DEFAULTS_VS_PAPERS]
    console.print(console_table(rows, "our defaults vs the papers' protocols"))
