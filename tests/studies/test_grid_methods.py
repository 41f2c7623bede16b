"""Grid features for the methods: `base.alternate` (AltPO's alternate answers; only altpo runs'
ids depend on them), `grid.method_params` (per-method settings over grid.params), and the shipped
all-methods spec (every registered method, forget sets en and all)."""

from __future__ import annotations

import json

import pytest

from polyunlearn.data.alternates import alternates_digest
from polyunlearn.studies.grid import GridSpecError, load_spec, parse_spec

BASE = {"languages": "en,fr", "eval": {"generate": False}}


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_grid_alternate_key(tmp_path):
    base = BASE
    with pytest.raises(GridSpecError, match=r"base.alternate: altpo needs alternate answers"):
        parse_spec({"base": base, "grid": {"methods": ["altpo"], "forget_sets": ["en"]}})
    spec = parse_spec(
        {"base": {**base, "alternate": "bundled"}, "grid": {"methods": ["altpo", "npo"], "forget_sets": ["en", "all"]}}
    )
    altpo, npo = spec.runs[0], spec.runs[2]
    forget = [it for it in spec.items if it.split == "forget" and it.language == "en"]
    assert altpo.config["alternates_sha256"] == alternates_digest(forget, spec.alternates)
    assert "alternates_sha256" not in npo.config  # other methods' ids do not depend on the alternates
    without = parse_spec({"base": base, "grid": {"methods": ["npo"], "forget_sets": ["en", "all"]}})
    assert without.runs[0].run_id == npo.run_id
    write_jsonl(tmp_path / "alt.jsonl", [{"id": "fact-090", "language": "en", "alternate": "x"}])
    with pytest.raises(GridSpecError, match=r"base.alternate: forget item 'fact-091' \(en\) has no alternate answer"):
        parse_spec(
            {
                "base": {**base, "alternate": str(tmp_path / "alt.jsonl")},
                "grid": {"methods": ["altpo"], "forget_sets": ["en"]},
            }
        )


def test_shipped_all_methods_spec_is_valid():
    from importlib.resources import files

    from polyunlearn.methods.registry import METHODS

    path = files("polyunlearn") / "configs" / "grids" / "all_methods_tiny.yaml"
    assert path.read_text(encoding="utf-8").startswith(
        "# polyunlearn grid src/polyunlearn/configs/grids/all_methods_tiny.yaml"
    )
    spec = load_spec(str(path))
    assert [r.method for r in spec.runs[::2]] == list(spec.raw["grid"]["methods"]) and set(
        spec.raw["grid"]["methods"]
    ) == set(METHODS) - {"concept_mcq", "grad_diff_kl_text"}
    # concept_mcq unlearns stereotypes (its target is the MCQ 'Unknown' option), not facts; grad_diff_kl_text
    # needs a general text set (--kl-text) the bundled data does not have.
    assert [r.forget_label for r in spec.runs[:2]] == ["en", "all"] and len(spec.runs) == 28
    pdu = next(r for r in spec.runs if r.method == "pdu")
    assert pdu.unlearn.params["epsilon"] == 0.1 and "epsilon" not in spec.runs[0].unlearn.params


def test_method_params_override_per_method():
    """satimp's runs take its own lr and a swept beta1; npo keeps grid.params; ids of npo runs are
    those of the same grid without method_params; results carry every parameter name."""
    grid = {"methods": ["npo", "satimp"], "forget_sets": ["en"], "params": {"lr": 3.0e-4, "epochs": 2}}
    plain = parse_spec({"base": BASE, "grid": grid})
    spec = parse_spec(
        {"base": BASE, "grid": {**grid, "method_params": {"satimp": {"lr": 1.0e-3, "beta1": [1.0, 5.0]}}}}
    )
    npo, *satimp = spec.runs
    assert npo.params == {"lr": 3e-4, "epochs": 2} and npo.run_id == plain.runs[0].run_id
    assert [r.params for r in satimp] == [
        {"lr": 1e-3, "epochs": 2, "beta1": 1.0},
        {"lr": 1e-3, "epochs": 2, "beta1": 5.0},
    ]
    assert [(r.unlearn.train.lr, r.unlearn.params["beta1"]) for r in satimp] == [(1e-3, 1.0), (1e-3, 5.0)]
    assert len({r.run_id for r in spec.runs}) == 3


@pytest.mark.parametrize(
    "method_params, message",
    [
        ({"wga": {"lr": 1.0}}, "grid.method_params: unknown key(s) 'wga'"),
        (
            {"npo": {"beta1": 1.0}},
            "grid.method_params.npo.beta1: none of the grid's methods (npo) has this hyperparameter",
        ),
        ({"npo": {"lr": "fast"}}, "grid.method_params.npo.lr: expected float, got 'fast'"),
        ({"npo": {"epochs": 0}}, "grid.params (with grid.method_params.npo): epochs must be >= 1"),
    ],
)
def test_bad_method_params_name_the_field(method_params, message):
    with pytest.raises(GridSpecError) as err:
        parse_spec(
            {
                "base": BASE,
                "grid": {"methods": ["npo", "satimp"], "forget_sets": ["en"], "method_params": method_params},
            }
        )
    assert message in str(err.value)
