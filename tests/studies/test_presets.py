"""The paper presets against the authors' code, value for value: every value transcribed in
studies/preset_sources.AUTHORS (with its file and line) is either what the preset sets or a
difference the preset states (Preset.differences, printed by `polyunlearn presets`)."""

from __future__ import annotations

import pytest

from polyunlearn.studies.preset_sources import AUTHORS, AuthorValue
from polyunlearn.studies.presets import PRESETS


def _preset_value(name: str, av: AuthorValue):
    """(True, value) when preset `name` sets the option of `av`, else (False, None)."""
    section = PRESETS[name].commands.get(av.section)
    assert section is not None, f"{name}: no section {av.section!r} for {av}"
    if "." in av.option:  # a method hyperparameter: "method.param"
        method, param = av.option.split(".", 1)
        params = section.get("method_params", {}).get(method, {})
        return (param in params), params.get(param)
    return (av.option in section), section.get(av.option)


def _same(ours, theirs) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    return ours == theirs


def mismatches(name: str) -> list[str]:
    """Each authors' value the preset neither reproduces nor states as a difference."""
    preset = PRESETS[name]
    out = []
    for av in AUTHORS[name]:
        key = f"{av.section}.{av.option}"
        has, value = _preset_value(name, av)
        if has and _same(value, av.value):
            continue
        if key not in preset.differences:
            shown = repr(value) if has else "not set"
            out.append(f"{key}: preset {shown}, authors {av.value!r} ({av.source}), no stated difference")
    return out


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_preset_reproduces_the_authors_values_or_says_why_not(name: str) -> None:
    assert name in PRESETS
    assert mismatches(name) == []


@pytest.mark.parametrize("name", sorted(AUTHORS))
def test_every_stated_difference_names_a_transcribed_value(name: str) -> None:
    keys = {f"{av.section}.{av.option}" for av in AUTHORS[name]}
    preset = PRESETS[name]
    assert set(preset.differences) <= keys
    for key, text in preset.differences.items():
        assert "ours" in text and "theirs" in text and "because" in text, key
    for av in AUTHORS[name]:
        assert av.source and (":" in av.source or "/" in av.source), av


def test_a_changed_preset_value_fails_the_comparison(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from polyunlearn.studies import presets

    amnesia = presets.PRESETS["amnesia"]
    learn = dict(amnesia.commands["learn"], seed=0)
    changed = dataclasses.replace(amnesia, commands={**amnesia.commands, "learn": learn})
    monkeypatch.setitem(presets.PRESETS, "amnesia", changed)
    assert mismatches("amnesia") == [
        "learn.seed: preset 0, authors 42 (config/finetune.yaml:11 (set_seed and TrainingArguments, finetune.py:20)), "
        "no stated difference"
    ]


def test_presets_command_prints_every_difference() -> None:
    from helpers.cli import runner
    from polyunlearn.cli import app

    res = runner.invoke(app, ["presets"], env={"COLUMNS": "400"})
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for preset in PRESETS.values():
        for key, text in preset.differences.items():
            assert f"differs: {key}: {' '.join(text.split())}" in flat
    assert "prompt + answer <= 200 tokens" in flat
