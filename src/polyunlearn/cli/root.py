"""The root of the `polyunlearn` command line: the typer app every command module registers on,
the console, and the one error policy (a project input error is one red line naming the
culprit, exit code 2; a diverging loss exit code 3)."""

from __future__ import annotations

import functools

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Multilingual machine unlearning: learn, unlearn in chosen languages, measure in every language.",
)

# Panels of `polyunlearn --help`, in the order a new user needs them.
STUDIES, STEPS, ANALYSIS, TOOLS, REFERENCE = "Studies", "Steps", "Analysis", "Tools", "Reference"
console = Console()


@app.callback()
def _quiet_libraries() -> None:
    """Keep the console for polyunlearn's own progress: no per-shard bars or info logs from HF."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def friendly_errors(fn):
    """Turn the project's input errors into one red line naming the culprit, exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from polyunlearn.core.models import ModelLoadError
        from polyunlearn.core.trainloop import TrainingDiverged
        from polyunlearn.data.schema import DataError

        try:
            return fn(*args, **kwargs)
        except (DataError, ModelLoadError, ValueError, KeyError, OSError) as e:
            # OSError: a read-only or full output folder, a missing file (WriteError, ReadError and
            # the OS's own errors all name the path). One line, never a traceback.
            text = str(e).strip("'\"") if isinstance(e, KeyError) else str(e)
            console.print(f"[bold red]error:[/bold red] {escape(' '.join(text.split()))}", soft_wrap=True)
            raise typer.Exit(2) from None
        except TrainingDiverged as e:
            console.print(f"[bold red]training stopped:[/bold red] {escape(str(e))}")
            raise typer.Exit(3) from None

    return wrapper


def load_data(data: str, langs: str | None):
    """The items of a --data spec (syntax: polyunlearn.data.resolve, DATA_HELP); skipped rows are
    one yellow line naming them, or an error when POLYUNLEARN_STRICT_DATA=1 (resolve_data reads it)."""
    from polyunlearn.data.resolve import resolve_data
    from polyunlearn.data.schema import describe_skipped
    from polyunlearn.data.seegull_mcq import report_repeated

    skipped: list = []
    items = resolve_data(data, langs, skipped=skipped)
    if skipped:
        console.print(
            f"[yellow]warning:[/yellow] {escape(describe_skipped(skipped))} (`polyunlearn data` lists them all)"
        )
    report_repeated(items, console)
    return items


def set_threads(n: int | None) -> None:
    import torch

    if n:
        torch.set_num_threads(n)
