"""CLI `attack`: adversarial probes of an unlearning run, re-evaluated in every language
(probes/attack.py).

    polyunlearn attack polyunlearn_runs/demo/unlearn/npo__en
    polyunlearn attack runs/npo-en --probes quant,relearn --retain-model runs/retain/model --data bundled --langs en,fr
"""

from __future__ import annotations

from pathlib import Path

import typer

from polyunlearn.cli.options import config_options, threads_option, with_options
from polyunlearn.cli.root import STEPS, app, console, friendly_errors, set_threads
from polyunlearn.probes.attack import AttackConfig
from polyunlearn.probes.catalog import load_probes, parse_probes

PROBES_HELP = (
    "Probes, comma list of "
    + ", ".join(f"{p.name} ({p.summary})" for p in load_probes().values())
    + " (language confusion and chrF come with every probe that generates answers)."
)


@app.command(rich_help_panel=STEPS)
@friendly_errors
@with_options(attack=config_options(AttackConfig, panel="Probes"))
def attack(
    run_dir: Path = typer.Argument(  # noqa: B008 - typer declares arguments as defaults
        ...,
        help="An unlearning run folder (a demo's OUT/unlearn/<run>, a grid's OUT/runs/<id>, or a `polyunlearn unlearn` --out).",
    ),
    probes: str = typer.Option("all", help=PROBES_HELP),
    data: str | None = typer.Option(
        None, help="The run's data, when it is not found by itself (checked against the run's content hash)."
    ),
    langs: str | None = typer.Option(None, help="Languages of --data, as the run loaded it."),
    retain_model: str | None = typer.Option(
        None, help="Folder of the retain model (for relearning robustness R); default the demo's / grid's own."
    ),
    retain_eval: str | None = typer.Option(
        None,
        help="The retain model's evaluation folder the run's per-epoch evaluation used (re-creating an unsaved model); default the one the run recorded, the demo's / grid's own.",
    ),
    threads: int = threads_option(),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo every probe of RUN_DIR/attacks, even those made with the same settings."
    ),
    attack: dict | None = None,
):
    """Is it really gone? Quantization, cross-lingual relearning and prompting, paraphrase and
    affirmative-prefix probes, language confusion: recovery matrices in RUN_DIR/attacks/."""
    from polyunlearn.probes.attack import run_attacks

    set_threads(threads)
    cfg = AttackConfig(probes=parse_probes(probes), **attack)
    manifest = run_attacks(
        run_dir, cfg, console, data=data, langs=langs, retain=retain_model, overwrite=overwrite, retain_eval=retain_eval
    )
    console.print(
        f"matrices: [bold]{(Path(run_dir) / 'attacks' / 'matrices').resolve()}[/bold] ({len(manifest['matrices'])} files); "
        f"robustness.csv and attack.json beside them"
    )
