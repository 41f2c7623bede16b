"""`polyunlearn ARGS` run in-process (typer's CliRunner), the one way tests call the CLI.

    code, text = invoke("unlearn", "--model", path, ...)   # exit code, output on single spaces
    res = cli("grid", spec, catch_exceptions=False)         # the click Result itself

Arguments may be paths or numbers (each is passed as str). `env` and `catch_exceptions` go to
CliRunner.invoke unchanged: rich wraps at COLUMNS, so tests that read tables pass a wide one."""

from __future__ import annotations

from typer.testing import CliRunner

runner = CliRunner()

# The reduced demo every end-to-end test of the demo shares (tests/e2e/test_cli.py,
# tests/e2e/test_readme.py; built once per session by conftest.demo_run): README's
# `polyunlearn demo` at its defaults (default OUT under the current folder, per-epoch curves,
# forget sets en;all) on 3 languages, one method and fewer epochs.
DEMO_ARGS = (
    "demo",
    "--languages",
    "en,fr,ja",
    "--methods",
    "npo",
    "--learn-epochs",
    "25",
    "--unlearn-epochs",
    "5",
    "--unlearn-lr",
    "1e-3",
)


def cli(*args, env: dict | None = None, catch_exceptions: bool = True):
    """The Result of `polyunlearn ARGS`."""
    from polyunlearn.cli import app

    return runner.invoke(app, [str(a) for a in args], env=env, catch_exceptions=catch_exceptions)


def flat(text: str) -> str:
    """Output on single spaces (rich wraps long lines at the terminal width)."""
    return " ".join(text.split())


def invoke(*args, env: dict | None = None, catch_exceptions: bool = True) -> tuple[int, str]:
    """(exit code, output on single spaces) of `polyunlearn ARGS`."""
    res = cli(*args, env=env, catch_exceptions=catch_exceptions)
    return res.exit_code, flat(res.output)
