"""CLI reference listings: `methods` (the registered unlearning objectives) and `languages`."""
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


