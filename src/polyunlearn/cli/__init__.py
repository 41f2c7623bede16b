"""The `polyunlearn` command line (typer), grouped as in `polyunlearn --help`: studies
(cmd_studies), steps (cmd_steps), analysis (cmd_analysis), tools (cmd_tools), reference listings
(cmd_reference), all registered on the app of cli/root.py."""

from polyunlearn.cli.main import app

__all__ = ["app"]
