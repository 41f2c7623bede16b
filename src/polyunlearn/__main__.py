"""`python -m polyunlearn` = the `polyunlearn` command."""

from polyunlearn.cli import app

app()
