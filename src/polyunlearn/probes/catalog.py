"""The probe registry: every probe of `polyunlearn attack` registers itself here by name, like the
unlearning methods (methods/registry.py), with its own typed parameters. Adding a probe is one
module in this folder (found by `load_probes`) and its test:

    @dataclass(frozen=True)
    class Params:                      # the probe's own options: `attack --<field>` (prefix them)
        steer_norm: float = setting(1.0, "norm of the steering direction")

    def run(ctx, relearn_langs) -> dict[str, dict]:   # groups of records (probe_runs.py)
        ...

    register(Probe("steer", run, "a steering direction vs a random one", params=Params, rank=50))

A probe's run returns groups {name: {"rows": {condition: per-item records}, "ylabel", "title",
...}}; every group becomes recovery matrices with paired tests (recovery_matrix.write_group).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

# What a probe's run function gets: the attack context (attack.Ctx) and the relearn languages.
Runner = Callable[[Any, Sequence[str]], dict[str, dict]]


@dataclass(frozen=True)
class Probe:
    """A registered probe: its name (`--probes NAME`), how it runs, a one-line summary, its own
    parameters (a frozen dataclass of core.config.setting fields, checked in its __post_init__;
    None = none), the fields among them that name files (part of the identity by content), and
    its rank (the order probes run and are reported in)."""

    name: str
    run: Runner
    summary: str
    params: type | None = None
    files: tuple[str, ...] = ()
    rank: int = 100

    def check(self, settings: Any) -> None:
        """Build this probe's parameters from `settings` (any object with those attributes), so
        their checks run; a ValueError names the field."""
        if self.params is not None:
            self.params(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(self.params)})


PROBES: dict[str, Probe] = {}


def register(probe: Probe) -> Probe:
    if probe.name in PROBES and PROBES[probe.name].run is not probe.run:
        raise ValueError(f"probe {probe.name!r} is registered twice")
    PROBES[probe.name] = probe
    return probe


def load_probes() -> dict[str, Probe]:
    """Every probe of this package (each module registers its own on import), by rank."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{__package__}.{info.name}")
    return dict(sorted(PROBES.items(), key=lambda kv: (kv[1].rank, kv[0])))


def get_probe(name: str) -> Probe:
    probes = load_probes()
    if name not in probes:
        raise ValueError(f"unknown probe {name!r}; choose from {', '.join(probes)}")
    return probes[name]


def param_fields(probes: Sequence[Probe]) -> list[tuple[str, Any, dataclasses.Field]]:
    """(name, type, field) of every probe parameter, in probe order, for a config made of them
    (attack.AttackConfig); two probes declaring one name is an error."""
    out: list[tuple[str, Any, dataclasses.Field]] = []
    seen: dict[str, str] = {}
    for probe in probes:
        if probe.params is None:
            continue
        hints = typing.get_type_hints(probe.params)
        for f in dataclasses.fields(probe.params):
            if f.name in seen:
                raise ValueError(f"probe parameter {f.name!r} is declared by {seen[f.name]} and {probe.name}")
            seen[f.name] = probe.name
            kwargs: dict[str, Any] = {"metadata": f.metadata}
            if f.default is not dataclasses.MISSING:
                kwargs["default"] = f.default
            if f.default_factory is not dataclasses.MISSING:
                kwargs["default_factory"] = f.default_factory
            out.append((f.name, hints[f.name], dataclasses.field(**kwargs)))
    return out


def parse_probes(text: str) -> tuple[str, ...]:
    """'quant,relearn' -> ('quant', 'relearn'), each checked; 'all' = every registered probe."""
    names = tuple(load_probes())
    if text.strip().lower() == "all":
        return names
    probes = tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))
    bad = [p for p in probes if p not in names]
    if bad or not probes:
        raise ValueError(
            f"--probes: unknown probe(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(names)} or 'all'"
        )
    return probes
