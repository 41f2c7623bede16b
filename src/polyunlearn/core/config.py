"""Typed configs, declared and validated once.

Every phase's settings are a frozen dataclass whose fields carry their help text
(`setting(default, "help")`) and are checked in `__post_init__`, so a bad value fails when the
config is built: before any data or model is loaded, and the same way from the CLI, a grid spec
or library code. The CLI options (cli/options.py) and the grid's keys (studies/grid.py) are
derived from these fields, so a new setting is one edit here.

    @dataclass(frozen=True)
    class TrainConfig:
        lr: float = setting(1e-5, "learning rate (> 0)")
        def __post_init__(self):
            check_number("lr", self.lr, minimum=0, strict=True)
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import MISSING
from typing import Any


def setting(
    default: Any = MISSING,
    help: str = "",
    *,
    default_factory: Any = MISSING,
    choices: tuple[str, ...] = (),
    cli: bool = True,
) -> Any:
    """A dataclass field with its help text (and, for strings, the allowed values). `cli=False`
    keeps it out of the derived CLI options (e.g. a nested config, or a path set by the command)."""
    meta = {"help": help, "choices": tuple(choices), "cli": cli}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


# torch CPU threads, one help for every command and config that sets them (cli/options.threads_option).
THREADS_HELP = "torch CPU threads; tiny models gain nothing from more, and lose a lot when cores are busy"


def threads_setting() -> Any:
    """The `threads` field of a study config (demo, study-a, concept): 1 by default."""
    return setting(1, THREADS_HELP)


def check_number(
    name: str, value: Any, *, minimum: float | None = None, strict: bool = False, integer: bool = False
) -> None:
    """ValueError naming `name` unless `value` is a finite number (an int when `integer`) at or
    above `minimum` (strictly above when `strict`). NaN and infinity never pass."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if minimum is not None and (value <= minimum if strict else value < minimum):
        raise ValueError(f"{name} must be {'>' if strict else '>='} {minimum:g}, got {value:g}")


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} is {value!r}; choose from {', '.join(map(str, choices))}")


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """One setting as the CLI and the grid see it."""

    name: str
    kind: Any  # the resolved type annotation
    default: Any
    help: str
    choices: tuple[str, ...]
    cli: bool


def fields_of(cls: type) -> list[FieldInfo]:
    """The settings of a config dataclass, with resolved types (works under
    `from __future__ import annotations`)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = (
            f.default
            if f.default is not MISSING
            else (f.default_factory() if f.default_factory is not MISSING else MISSING)
        )
        out.append(
            FieldInfo(
                f.name,
                hints[f.name],
                default,
                f.metadata.get("help", ""),
                f.metadata.get("choices", ()),
                f.metadata.get("cli", True),
            )
        )
    return out
