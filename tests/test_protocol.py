"""The papers' protocols as settings: --language-mix for a multi-language forget set, the LoRA
knobs in the run identity, the authors' GradDiff-KL (KL on a separate general text set), and the
paper presets (every value, printed, recorded in the identity, explicit options winning)."""

from __future__ import annotations

import pytest

from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.studies.phases import UnlearnConfig, unlearn_sets


def _items(langs=("en", "fr", "ar"), n=4) -> list[QAItem]:
    out = []
    for lang in langs:
        out += [QAItem(f"f{i}", lang, f"q{i} {lang}?", f"a{i} {lang}", split="forget") for i in range(n)]
        out += [QAItem(f"r{i}", lang, f"r{i} {lang}?", f"b{i} {lang}", split="retain") for i in range(2)]
    return out


def test_language_mix_concat_and_interleave() -> None:
    """4 forget items in en, fr, ar. concat: all 12 (item, language) pairs. interleave: item i in
    language i mod 3: f0 en, f1 fr, f2 ar, f3 en (as many items as one language has)."""
    items = _items()
    concat, retain, _ = unlearn_sets(items, UnlearnConfig(method="grad_diff", forget_langs="en,fr,ar"))
    assert len(concat) == 12 and len(retain) == 6
    mixed, retain2, langs = unlearn_sets(items, UnlearnConfig(method="grad_diff", forget_langs="en,fr,ar", language_mix="interleave"))
    assert [it.key for it in mixed] == [("f0", "en"), ("f1", "fr"), ("f2", "ar"), ("f3", "en")]
    assert retain2 == retain and langs == ["en", "fr", "ar"]
    one, _, _ = unlearn_sets(items, UnlearnConfig(method="grad_diff", forget_langs="fr", language_mix="interleave"))
    assert [it.key for it in one] == [(f"f{i}", "fr") for i in range(4)]  # one language: interleave = concat
    holey = [it for it in items if it.key != ("f1", "fr")]
    with pytest.raises(DataError, match="forget item 'f1' .* falls to language 'fr'"):
        unlearn_sets(holey, UnlearnConfig(method="grad_diff", forget_langs="en,fr,ar", language_mix="interleave"))
    with pytest.raises(ValueError, match="language_mix is 'zip'"):
        UnlearnConfig(language_mix="zip")


def test_lora_knobs_reach_peft_and_the_identity(tokenizer) -> None:
    """--lora-alpha/--lora-dropout/--lora-targets: the peft config gets them, only the named
    modules get adapters, and the run identity records all four settings."""
    from polyunlearn.core.models import LoraSettings
    from polyunlearn.studies.runs import ModelChoice

    choice = ModelChoice("tiny", lora_r=4, lora_alpha=64, lora_dropout=0.1, lora_targets="q_proj, k_proj,v_proj")
    assert choice.identity()["lora"] == {"r": 4, "alpha": 64, "dropout": 0.1, "target_modules": ["q_proj", "k_proj", "v_proj"]}
    net = choice.build(tokenizer)
    cfg = net.peft_config["default"]
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout, set(cfg.target_modules)) == (4, 64, 0.1, {"q_proj", "k_proj", "v_proj"})
    adapted = {n.split(".")[-4] for n, p in net.named_parameters() if p.requires_grad}  # ...q_proj.lora_A.default.weight
    assert adapted == {"q_proj", "k_proj", "v_proj"}
    assert ModelChoice("tiny").identity()["lora"] is None
    assert ModelChoice("tiny", lora_r=8).lora() == LoraSettings(8, 16, 0.0, "all-linear")
    for bad, msg in (({"lora_dropout": 1.0}, "lora_dropout must be < 1"), ({"lora_alpha": 0}, "lora_alpha must be > 0"),
                     ({"lora_targets": " , "}, "lora_targets is empty")):
        with pytest.raises(ValueError, match=msg):
            ModelChoice("tiny", lora_r=8, **bad)
