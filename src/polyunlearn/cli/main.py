"""The `polyunlearn` command: the root app with every command module registered on it."""

from polyunlearn.cli import cmd_analysis, cmd_attack, cmd_data, cmd_reference, cmd_steps, cmd_studies, cmd_tools  # noqa: F401  (registration)
from polyunlearn.cli.root import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
