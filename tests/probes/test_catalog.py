"""The probe registry (probes/catalog.py): every probe module registers itself, in rank order;
AttackConfig is the shared settings plus each probe's own typed parameters, checked by them."""

from __future__ import annotations

import dataclasses

import pytest

from polyunlearn.core.config import setting
from polyunlearn.probes.attack import AttackConfig
from polyunlearn.probes.catalog import Probe, load_probes, param_fields, parse_probes


def test_every_probe_is_registered_in_rank_order():
    assert list(load_probes()) == ["quant", "relearn", "xprompt", "jailbreak"]
    assert parse_probes("all") == ("quant", "relearn", "xprompt", "jailbreak")
    assert parse_probes("relearn, quant,relearn") == ("relearn", "quant")
    with pytest.raises(ValueError, match="unknown probe"):
        parse_probes("quant,nope")


def test_attack_config_is_made_of_the_probes_params():
    names = [f.name for f in dataclasses.fields(AttackConfig)]
    for probe in load_probes().values():
        if probe.params is not None:
            assert {f.name for f in dataclasses.fields(probe.params)} <= set(names)
    with pytest.raises(ValueError, match="quant_formats"):
        AttackConfig(quant_formats="int3")  # the quant probe's own check
    with pytest.raises(ValueError, match="relearn_fraction"):
        AttackConfig(relearn_fraction=1.0)  # the relearn probe's own check


def test_a_new_probe_brings_its_own_parameters():
    @dataclasses.dataclass(frozen=True)
    class Params:
        steer_norm: float = setting(1.0, "norm of the steering direction")

    steer = Probe("steer", lambda ctx, langs: {}, "a steering direction", params=Params, rank=50)
    fields = param_fields([*load_probes().values(), steer])
    assert fields[-1][0] == "steer_norm" and fields[-1][1] is float
    with pytest.raises(ValueError, match="declared by"):
        param_fields([steer, steer])
