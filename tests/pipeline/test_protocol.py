"""The papers' protocols as settings: --language-mix for a multi-language forget set, the LoRA
knobs in the run identity, the authors' GradDiff-KL (KL on a separate general text set), and the
paper presets (every value, printed, recorded in the identity, explicit options winning)."""

from __future__ import annotations

import pytest

from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.pipeline.phases import UnlearnConfig, unlearn_sets


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
    mixed, retain2, langs = unlearn_sets(
        items, UnlearnConfig(method="grad_diff", forget_langs="en,fr,ar", language_mix="interleave")
    )
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
    from polyunlearn.pipeline.runs import ModelChoice

    choice = ModelChoice("tiny", lora_r=4, lora_alpha=64, lora_dropout=0.1, lora_targets="q_proj, k_proj,v_proj")
    assert choice.identity()["lora"] == {
        "r": 4,
        "alpha": 64,
        "dropout": 0.1,
        "target_modules": ["q_proj", "k_proj", "v_proj"],
    }
    net = choice.build(tokenizer)
    cfg = net.peft_config["default"]
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout, set(cfg.target_modules)) == (
        4,
        64,
        0.1,
        {"q_proj", "k_proj", "v_proj"},
    )
    adapted = {
        n.split(".")[-4] for n, p in net.named_parameters() if p.requires_grad
    }  # ...q_proj.lora_A.default.weight
    assert adapted == {"q_proj", "k_proj", "v_proj"}
    assert ModelChoice("tiny").identity()["lora"] is None
    assert ModelChoice("tiny", lora_r=8).lora() == LoraSettings(8, 16, 0.0, "all-linear")
    for bad, msg in (
        ({"lora_dropout": 1.0}, "lora_dropout must be < 1"),
        ({"lora_alpha": 0}, "lora_alpha must be > 0"),
        ({"lora_targets": " , "}, "lora_targets is empty"),
    ):
        with pytest.raises(ValueError, match=msg):
            ModelChoice("tiny", lora_r=8, **bad)


# A general text set in TruthfulQA's "generation" layout (the authors' KL set is its best answers).
TRUTHFULQA_ROWS = [
    {
        "type": "Adversarial",
        "category": "Misconceptions",
        "question": f"Question {k}?",
        "best_answer": text,
        "correct_answers": [text],
        "incorrect_answers": ["No."],
        "source": "made up",
    }
    for k, text in enumerate(
        [
            "Water boils at a lower temperature at altitude.",
            "The moon orbits the earth.",
            "",
            "Bats are not blind.",
            "Glass is a solid.",
        ]
    )
]


def _truthfulqa(path):
    import json

    path.write_text("".join(json.dumps(r) + "\n" for r in TRUTHFULQA_ROWS), encoding="utf-8")
    return path


class Toy:
    """Builds the 2-token 'language model' of the hand-worked tests: next-token logits w (V,) everywhere."""

    @staticmethod
    def make(w):
        from types import SimpleNamespace

        import torch

        class _M(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.tensor(w))

            def forward(self, input_ids, attention_mask=None):
                return SimpleNamespace(logits=self.w.expand(*input_ids.shape, -1))

        return _M()


def _batch(targets: list[int], prefix: str = "") -> dict:
    import torch

    ids = torch.tensor([[0, *targets]])
    return {
        f"{prefix}input_ids": ids,
        f"{prefix}attention_mask": torch.ones_like(ids),
        f"{prefix}labels": torch.tensor([[-100, *targets]]),
    }


@pytest.mark.parametrize("alpha, kl_weight, expected", [(1.0, 1.0, 0.693147), (0.5, 2.0, 0.418494)])
def test_grad_diff_kl_text_loss_by_hand(alpha: float, kl_weight: float, expected: float) -> None:
    """Vocabulary of 2; reference w_ref = [0, 0] (p = 1/2, 1/2), model w = [0, ln 3] (p = 1/4, 3/4).
    Forget: answer tokens [1, 1]: -NLL = ln(3/4) = -0.287682. Retain: [1, 0]: NLL = (0.287682 +
    1.386294) / 2 = 0.836988. General text ("kl" with the retain batch): KL(p_ref || p) per token =
    1/2 ln(0.5/0.25) + 1/2 ln(0.5/0.75) = 0.143841.
    L = -0.287682 + alpha 0.836988 + kl_weight 0.143841: (1, 1) 0.693147; (0.5, 2) 0.418494."""
    import math

    import torch

    from polyunlearn.methods.reference import Reference
    from polyunlearn.methods.registry import get_method

    model = Toy.make([0.0, 0.0])
    ref = Reference(model)
    with torch.no_grad():
        model.w[1] = math.log(3.0)
    spec = get_method("grad_diff_kl_text")
    retain = {**_batch([1, 0]), **_batch([0, 1, 1], "kl_")}
    loss, logs = spec(spec.context(model, ref, gamma=1.0, alpha=alpha, kl_weight=kl_weight), _batch([1, 1]), retain)
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-6)
    assert logs["text_kl"] == pytest.approx(0.143841, abs=1e-6) and logs["retain_term"] == pytest.approx(
        0.836988, abs=1e-6
    )
    assert spec.needs_text and spec.needs_reference(spec.resolve()) and spec.retain_loss(spec.resolve()) == "nll"


def test_general_text_loader_and_config_checks(tmp_path) -> None:
    from polyunlearn.data.general_text import load_general_text

    skipped: list = []
    texts = load_general_text(_truthfulqa(tmp_path / "tqa.jsonl"), skipped=skipped)
    assert texts == [r["best_answer"] for r in TRUTHFULQA_ROWS if r["best_answer"]]
    assert len(skipped) == 1 and "line 3" in skipped[0].where and "best_answer" in skipped[0].reason
    (tmp_path / "t.txt").write_text("one\n\n two \n", encoding="utf-8")
    assert load_general_text(tmp_path / "t.txt") == ["one", "two"]
    (tmp_path / "bad.jsonl").write_text('{"sentence": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"no text column \(text or best_answer\); columns: sentence"):
        load_general_text(tmp_path / "bad.jsonl")
    with pytest.raises(ValueError, match="needs|general text set: give kl_text"):
        UnlearnConfig(method="grad_diff_kl_text")
    with pytest.raises(ValueError, match="kl_text does not apply to method 'npo': only grad_diff_kl_text"):
        UnlearnConfig(method="npo", kl_text="x.txt")


def test_grad_diff_kl_text_training(learned, tokenizer, items, tmp_path) -> None:
    """A few epochs on the shared learned tiny model, with GradDiff's settings of test_methods.py
    (lr 1e-3, 8 epochs, alpha 5, batch 5): English forget Prob falls below half, English retain
    Prob holds within 0.15 (the tolerance there), and the KL on the general texts stays small."""
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
    from polyunlearn.pipeline.phases import unlearn

    en = [it for it in items if it.language == "en"]

    def probs(m):
        row = summarize(score_items(m, tokenizer, en, EvalConfig(generate=False))).iloc[0]
        return float(row["forget_prob"]), float(row["retain_prob"])

    f0, r0 = probs(learned)
    cfg = UnlearnConfig(
        method="grad_diff_kl_text",
        forget_langs="en",
        alpha=5.0,
        kl_text=str(_truthfulqa(tmp_path / "tqa.jsonl")),
        train=TrainConfig(lr=1e-3, epochs=8, batch_size=5),
    )
    model, hist = unlearn(learned, tokenizer, items, cfg, progress=False)
    f1, r1 = probs(model)
    assert f1 < 0.5 * f0 and r1 > r0 - 0.15, (f0, f1, r0, r1)
    assert all("text_kl" in h for h in hist) and hist[-1]["text_kl"] < 0.5, hist[-1]
