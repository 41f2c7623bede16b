"""CLI options derived from the typed configs (core/config.py) and the method registry, so a new
setting or method hyperparameter is one edit where it is declared, and every command that
exposes it gets the option with the same type, default and help.

    @app.command()
    @with_options(train=config_options(TrainConfig, overrides={"lr": (None, "default per model kind")}),
                  method=method_options())
    def unlearn(model: str = typer.Option(...), train: dict = None, method: dict = None): ...

The command receives one dict per group: {field name: value given or defaulted}.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

import typer

from polyunlearn.core.config import THREADS_HELP, fields_of
from polyunlearn.core.models import LORA_TARGETS_HELP, LoraSettings
from polyunlearn.evaluation.settings import AUTO_BUDGET
from polyunlearn.methods.registry import method_params

# LoRA and precision options shared by learn, unlearn and study-a: declared once, defaults from
# core.models.LoraSettings (which also checks the values).
LORA_R = typer.Option(LoraSettings.r, help="LoRA rank.")
LORA_ALPHA = typer.Option(float(LoraSettings.alpha), help="LoRA alpha (the update is scaled by alpha / r).")
LORA_DROPOUT = typer.Option(LoraSettings.dropout, help="LoRA dropout (0 to < 1).")
LORA_TARGETS = typer.Option(LoraSettings.target_modules, help=LORA_TARGETS_HELP + ".")
BF16 = typer.Option(False, help="bf16 compute (autocast); see --dtype for the weights.")
DTYPE = typer.Option(
    "auto",
    help="Weights dtype: auto (bfloat16 with --bf16, but float32 master weights when full weights are trained), float32, bfloat16, float16.",
)

# --max-new-tokens of the study commands (study-a, concept; demo's comes from DemoConfig): None =
# auto, the rule of evaluation/settings.py, stated once there.
MAX_NEW_TOKENS = typer.Option(None, help=f"Greedy answer length in tokens; default auto: {AUTO_BUDGET}.")


def threads_option(default: int | None = 1, where: str = "") -> Any:
    """--threads of every command, one help (core/config.THREADS_HELP); `default` None leaves
    torch's own choice (all cores); `where` says where they apply (grid: each Ray task)."""
    own = " (default: torch's own, all cores)" if default is None else ""
    return typer.Option(default, help=f"{THREADS_HELP[:1].upper()}{THREADS_HELP[1:]}{own}{where}.")


# --log-with on learn, unlearn and grid (core/tracking.py: Accelerate's trackers, offline by default).
LOG_WITH = typer.Option(
    None, "--log-with",
    help="Log the loss terms per step and the evaluation per language to an experiment tracker (Accelerate's), the run's "
    "identity as its config: tensorboard (OUT/tracking), wandb (offline unless WANDB_MODE), trackio (local), "
    "mlflow (file store in OUT/tracking unless MLFLOW_TRACKING_URI). Default: none.",
)  # fmt: skip


def _cli_type(kind: Any) -> Any:
    """The annotation typer gets: X | None -> Optional[X] (typer reads typing.Optional)."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    return Optional[args[0]] if args and type(None) in typing.get_args(kind) else kind


def _help(text: str, choices: Iterable[str] = ()) -> str:
    text = text[:1].upper() + text[1:] if text else text
    choices = tuple(choices)
    return f"{text}{'' if text.endswith('.') else '.'}" + (
        f" One of: {', '.join(choices)}." if choices and "choose" not in text else ""
    )


def option(
    name: str, kind: Any, default: Any, help: str, prefix: str = "", panel: str | None = None
) -> inspect.Parameter:
    """One typer option parameter `--{prefix}{name with dashes}`."""
    flag = f"--{prefix}{name}".replace("_", "-")
    decls = [f"{flag}/--no-{flag[2:]}"] if _cli_type(kind) in (bool, Optional[bool]) else [flag]
    info = typer.Option(default, *decls, help=help, rich_help_panel=panel)
    return inspect.Parameter(
        f"{prefix}{name}".replace("-", "_"), inspect.Parameter.KEYWORD_ONLY, default=info, annotation=_cli_type(kind)
    )


def config_options(
    cls: type,
    *,
    prefix: str = "",
    include: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    overrides: Mapping[str, tuple[Any, str]] | None = None,
    panel: str | None = None,
) -> list[tuple[str, inspect.Parameter]]:
    """(field name, typer parameter) for every CLI field of config class `cls` (optionally only
    `include`, minus `exclude`); `overrides` maps a field to (CLI default, help) where a command
    defaults it differently (e.g. lr None = the per-model-kind default)."""
    keep = set(include) if include is not None else None
    out = []
    for f in fields_of(cls):
        if not f.cli or f.name in exclude or (keep is not None and f.name not in keep):
            continue
        default, help = (overrides or {}).get(f.name, (f.default, f.help))
        kind = f.kind if default is not None else Optional[_cli_type(f.kind)]
        out.append((f.name, option(f.name, kind, default, _help(help, f.choices), prefix, panel)))
    return out


def method_options(panel: str | None = "Method hyperparameters") -> list[tuple[str, inspect.Parameter]]:
    """One option per hyperparameter any registered method declares, default None = the
    method's own default; a value given for a method that lacks the parameter is refused by
    UnlearnConfig."""
    out = []
    for name, p in sorted(method_params().items()):
        out.append((name, option(name, Optional[p.kind], None, _method_param_help(name), panel=panel)))
    return out


def _method_param_help(name: str) -> str:
    """The help of a method hyperparameter as each method that declares it means it: one
    sentence per meaning, with the methods sharing it and each method's own default."""
    meanings: dict[str, list[str]] = {}
    for method, spec in sorted(_registry().items()):
        if name in spec.params:
            q = spec.params[name]
            meanings.setdefault(_help(q.help, q.choices), []).append(f"{method} {q.default!r}")
    if len(meanings) == 1:
        ((text, users),) = meanings.items()
        return f"{text} Default: {', '.join(users)}."
    return " ".join(
        f"{', '.join(u.split(' ')[0] for u in users)}: {text} Default: {', '.join(users)}."
        for text, users in meanings.items()
    )


def _registry() -> dict:
    from polyunlearn.methods.registry import METHODS

    return METHODS


def with_options(**groups: list[tuple[str, inspect.Parameter]]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add each group's options to the command's signature; the command receives `group=dict`."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(fn)
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in sig.parameters.values()
            if p.name not in groups
        ]
        taken = {p.name for p in own}
        added: dict[str, list[tuple[str, str]]] = {}
        extra: list[inspect.Parameter] = []
        for group, params in groups.items():
            for field, param in params:
                if param.name in taken:
                    raise ValueError(
                        f"option {param.name} of group {group} clashes with another option of {fn.__name__}"
                    )
                taken.add(param.name)
                added.setdefault(group, []).append((field, param.name))
                extra.append(param)

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            for group, names in added.items():
                kwargs[group] = {field: kwargs.pop(pname) for field, pname in names}
            return fn(**kwargs)

        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own] + extra
        wrapper.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return deco


PRESET_HELP = "A paper's protocol in one word (studies/presets.py; `polyunlearn presets` lists them): sets its options; options you give win."


def with_preset(command: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Apply `--preset NAME` (the command's own `preset` parameter) to the flat options before
    the command runs: every option the preset names takes its value unless given on the command
    line; the console lists what the preset set and what the user's options overrode. Place it
    above @with_options (it needs the flat option names)."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            if kwargs.get("preset"):
                kwargs = apply_preset(kwargs["preset"], command, kwargs)
            return fn(**kwargs)

        return wrapper

    return deco


def apply_preset(name: str, command: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`kwargs` with preset `name`'s values for `command` where the user gave none (cli/options.with_preset)."""
    from polyunlearn.cli.root import console
    from polyunlearn.studies.presets import get_preset, preset_values, resolve_values

    ctx = _click_context()
    # Given by the user = on the command line or from an environment variable, not a default.
    given = {k for k in kwargs if getattr(ctx.get_parameter_source(k), "name", None) in ("COMMANDLINE", "ENVIRONMENT")}
    values = preset_values(name, command, kwargs.get("task"))
    method_params = values.pop("method_params", {})
    out, applied, kept = dict(kwargs), {}, {}
    for stage in (values, None):  # the method's own parameters once the method is settled
        for key, value in (stage if stage is not None else method_params.get(out.get("method"), {})).items():
            if key not in kwargs:
                raise ValueError(f"preset {name!r}: `{command}` has no option --{key.replace('_', '-')}")
            if key in given and kwargs[key] != value:  # the preset's own value given again is no override
                kept[key] = value
            else:
                applied[key] = out[key] = value
    out.update(resolve_values(applied, out))
    shown = " ".join(f"--{k.replace('_', '-')} {_show(out[k], v)}" for k, v in applied.items())
    console.print(f"preset {name} ({get_preset(name).paper}) for {command}: {shown}", markup=False, highlight=False)
    others = {m: p for m, p in method_params.items() if m != out.get("method")}
    if others:
        console.print(
            "  and for other methods: "
            + "; ".join(
                f"{m}: " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in p.items()) for m, p in others.items()
            ),
            markup=False,
            highlight=False,
        )
    if kept:
        console.print(
            "your options win over the preset: "
            + ", ".join(f"--{k.replace('_', '-')} {kwargs[k]} (preset: {v})" for k, v in kept.items()),
            markup=False,
            highlight=False,
        )
    return out


def _click_context() -> Any:
    """The running command's click context (typer vendors its own click, so both are tried). A
    preset never runs without one: it could not tell the user's options from the defaults."""
    import importlib

    for module in ("typer._click.globals", "click.globals"):
        try:
            ctx = importlib.import_module(module).get_current_context(silent=True)
        except ImportError:
            continue
        if ctx is not None:
            return ctx
    raise RuntimeError(
        "--preset is applied by the command line only (no click context to tell given options from defaults)"
    )


def _show(final: Any, preset_value: Any) -> str:
    return f"{final:g} ({preset_value})" if isinstance(final, float) and isinstance(preset_value, str) else str(final)
