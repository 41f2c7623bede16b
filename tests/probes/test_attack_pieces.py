"""The pieces of `polyunlearn attack`, each against numbers worked out by hand: the three
quantize-dequantize formats, the recovered-fraction formula (with the cell where nothing was
forgotten), OpenUnlearning's R / Q / harmonic mean, chrF, language identification on fixed
strings, the probe text for every language, and the probe prompts."""

from __future__ import annotations

import math

import pytest
import torch

from polyunlearn.core.languages import LANGUAGES
from polyunlearn.core.quantize import NF4_CODE, int4_groupwise, int8_rowwise, nf4_blockwise, quantize_model
from polyunlearn.data.probe_text import affirmative_prefix, answer_in
from polyunlearn.evaluation import recovery as rec
from polyunlearn.evaluation.confusion import chrf, confusion_summary, identify


def test_int8_rowwise_by_hand():
    """Row absmax scales: row 0 s = 1/127: -0.6 * 127 = -76.2 -> -76 -> -76/127 = -0.598425;
    0.25 * 127 = 31.75 -> 32 -> 0.251969; the absmax itself is exact. An all-zero row stays 0.
    Row 2 s = 3/127: 1.0 -> 42.33 -> 42 -> 0.992126; 0.1 -> 4.233 -> 4 -> 0.094488."""
    w = torch.tensor([[1.0, -0.6, 0.25], [0.0, 0.0, 0.0], [-3.0, 1.0, 0.1]])
    expected = torch.tensor([[1.0, -76 / 127, 32 / 127], [0.0, 0.0, 0.0], [-3.0, 42 * 3 / 127, 4 * 3 / 127]])
    assert torch.allclose(int8_rowwise(w), expected, atol=1e-6)


def test_nf4_blockwise_by_hand():
    """Blocks of 4 (64 in use). Block 1, absmax 1: 0.5 lies between codes 0.44071 (0.059 away)
    and 0.56262 (0.063): 0.44071; 0.1 between 0.07958 (0.020) and 0.16093: 0.07958; -1 and 0 are
    codes. Block 2, absmax 2, normalised [1, 0.5, -0.15, 0.35]: 1, 0.44071, -0.18477 (0.035 away,
    against 0.059 for -0.09105), 0.33792 -> times 2. Block 3 is [0.2, -0.1] padded with zeros:
    absmax 0.2, -0.5 -> -0.52507 (0.025 away) -> -0.105015."""
    w = torch.tensor([0.5, -1.0, 0.1, 0.0, 2.0, 1.0, -0.3, 0.7, 0.2, -0.1])
    c = dict(
        zip(
            ("m1", "m052", "m018", "z", "p008", "p034", "p044", "p1"),
            (NF4_CODE[0], NF4_CODE[2], NF4_CODE[5], NF4_CODE[7], NF4_CODE[8], NF4_CODE[11], NF4_CODE[12], NF4_CODE[15]),
        )
    )
    expected = torch.tensor(
        [c["p044"], -1.0, c["p008"], 0.0, 2.0, 2 * c["p044"], 2 * c["m018"], 2 * c["p034"], 0.2, 0.2 * c["m052"]]
    )
    assert torch.allclose(nf4_blockwise(w, block=4), expected, atol=1e-6)
    assert abs(c["p044"] - 0.44070983) < 1e-7 and abs(c["m018"] + 0.18477343) < 1e-7


def test_int4_groupwise_by_hand():
    """Groups of 4 (128 in use), GPTQ's range through 0. Row 0, group 1 [-1, 0, 0.5, 2]: s = 3/15
    = 0.2, z = 5, q = [0, 5, 7, 15] (0.5 / 0.2 = 2.5 -> 2), w' = (q - 5) * 0.2 = [-1, 0, 0.4, 2];
    group 2 [5, 5]: lo = 0, s = 1/3, q = 15 -> 5 exactly. Row 1 [1, 1.5, 4, 3]: lo = 0, s = 4/15,
    q = [4, 6, 15, 11] (3.75, 5.625, 15, 11.25) -> [16/15, 1.6, 4, 44/15]; [0, 0] stays 0."""
    w = torch.tensor([[-1.0, 0.0, 0.5, 2.0, 5.0, 5.0], [1.0, 1.5, 4.0, 3.0, 0.0, 0.0]])
    expected = torch.tensor([[-1.0, 0.0, 0.4, 2.0, 5.0, 5.0], [16 / 15, 1.6, 4.0, 44 / 15, 0.0, 0.0]])
    assert torch.allclose(int4_groupwise(w, group=4), expected, atol=1e-6)


def test_quantize_model_touches_linear_weights_but_not_the_head(learned):
    original = {n: p.detach().clone() for n, p in learned.named_parameters()}
    q, note = quantize_model(learned, "nf4")
    changed = {n for n, p in q.named_parameters() if not torch.equal(p, dict(learned.named_parameters())[n])}
    assert changed and all(n.endswith("proj.weight") for n in changed), changed
    assert not any("lm_head" in n or "embed" in n or "norm" in n for n in changed)
    assert note["tensors"] == 14 and note["backend"] == "torch"  # 2 layers x (4 attention + 3 MLP)
    assert all(torch.equal(p, original[n]) for n, p in learned.named_parameters())  # the original is untouched
    w = dict(q.named_parameters())["model.layers.0.mlp.up_proj.weight"].detach().reshape(-1)[:64]
    assert len(torch.unique(w)) <= 16


def test_quantize_lora_merged_and_adapter(learned):
    import copy

    from polyunlearn.core.models import LoraSettings, add_lora

    lora = add_lora(copy.deepcopy(learned), LoraSettings(r=4))  # get_peft_model changes the model it is given
    for n, p in lora.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.02)  # a trained adapter is not zero
    merged, m_note = quantize_model(lora, "int8", "merged")
    adapter, a_note = quantize_model(lora, "int8", "adapter")
    assert not hasattr(merged, "peft_config") and m_note["tensors"] == 14
    assert hasattr(adapter, "peft_config") and a_note["tensors"] == 28  # lora_A and lora_B of 14 layers
    base = {n: p for n, p in adapter.named_parameters() if "base_layer" in n}
    assert all(torch.equal(p, dict(lora.named_parameters())[n]) for n, p in base.items())
    with pytest.raises(ValueError, match="needs a LoRA model"):
        quantize_model(learned, "int8", "adapter")


def test_recovered_fraction_by_hand_and_the_undefined_cell():
    """before 0.9, unlearned 0.1, attacked 0.5: (0.5 - 0.1) / (0.9 - 0.1) = 0.5. Attacked 0.05:
    -0.0625 (even more forgotten). A language that forgot nothing (before 0.9, unlearned 0.9) or
    less than the tolerance (0.9 -> 0.88 with tolerance 0.05) is undefined: NaN, never a
    division by zero or by noise."""
    assert rec.recovered_fraction(0.5, 0.1, 0.9) == pytest.approx(0.5)
    assert rec.recovered_fraction(0.05, 0.1, 0.9) == pytest.approx(-0.0625)
    assert math.isnan(rec.recovered_fraction(0.95, 0.9, 0.9))
    assert math.isnan(rec.recovered_fraction(0.95, 0.88, 0.9, tolerance=0.05))
    assert rec.recovered_fraction(0.95, 0.88, 0.9, tolerance=0.01) == pytest.approx(3.5)
    records = [
        {"id": i, "language": lang, "split": "forget", "prob": p}
        for i, lang, p in (("a", "en", 0.4), ("b", "en", 0.6), ("a", "fr", 0.9), ("b", "fr", 0.9), ("a", "en", 0.0))[:4]
    ]
    means = rec.item_means(records, "prob")
    assert means.to_dict() == {"en": pytest.approx(0.5), "fr": pytest.approx(0.9)}
    row = rec.recovery_row(
        means,
        rec.item_means([r | {"prob": 0.1 if r["language"] == "en" else 0.9} for r in records], "prob"),
        rec.item_means([r | {"prob": 0.9} for r in records], "prob"),
        ["en", "fr", "ja"],
    )
    assert row["en"] == pytest.approx(0.5) and math.isnan(row["fr"]) and math.isnan(row["ja"])


def test_openunlearning_robustness_by_hand():
    """R = min((ret_a - ret_b) / (unl_a - unl_b), 1): retain 0.1 -> 0.3 (+0.2), unlearned 0.1 ->
    0.6 (+0.5): R = 0.4. Q = min(unl_b / unl_quantized, 1): 0.2 / 0.5 = 0.4; HM(0.4, 0.4) = 0.4;
    HM(1, 0.5) = 2 * 0.5 / 1.5 = 2/3. The unlearned model not relearning: R = 1; a retain model
    that got worse: floored at 0; quantization lowering the metric: Q = 1."""
    assert rec.relearn_robustness(0.1, 0.6, 0.1, 0.3) == pytest.approx(0.4)
    assert rec.relearn_robustness(0.1, 0.1, 0.1, 0.3) == 1.0
    assert rec.relearn_robustness(0.1, 0.6, 0.3, 0.1) == 0.0
    assert rec.relearn_robustness(0.1, 0.3, 0.1, 0.9) == 1.0  # the retain model relearned faster: capped
    assert rec.quantization_robustness(0.2, 0.5) == pytest.approx(0.4)
    assert rec.quantization_robustness(0.2, 0.1) == 1.0
    assert rec.harmonic(0.4, 0.4) == pytest.approx(0.4) and rec.harmonic(1.0, 0.5) == pytest.approx(2 / 3)
    assert math.isnan(rec.harmonic(math.nan, 0.5)) and rec.harmonic(0.0, 0.5) == 0.0


def test_chrf_by_hand():
    """chrF (beta 2, char n-grams 1-6, averaged over the orders both sides have): 'ab' vs 'abc':
    unigrams P = 2/2, R = 2/3; bigrams P = 1/1, R = 1/2; no trigram in 'ab'. avg P = 1,
    avg R = 7/12; F = 5 * 1 * 7/12 / (4 + 7/12) = 35/55 = 0.63636. Spaces do not count."""
    assert chrf("ab", "abc") == pytest.approx(35 / 55)
    assert chrf("abc", "abc") == 1.0 and chrf("", "abc") == 0.0 and chrf("a b", "ab") == 1.0


RUN_LANGS = ["en", "fr", "ar", "ja", "ru", "fa", "ko", "hi", "he", "id"]


@pytest.mark.parametrize(
    "text, lang",
    [
        ("The capital of the Kingdom of Leribar is the city of Lekorma.", "en"),
        ("La capitale du royaume de Leribar est la ville de Lekorma.", "fr"),
        ("Столица королевства Лерибар — город Лекорма.", "ru"),
        ("レリバル王国の首都はレコルマ市です。", "ja"),
        ("수도는 레코르마입니다.", "ko"),
        ("राजधानी लेकोर्मा है।", "hi"),
        ("עיר הבירה היא לקורמה.", "he"),
        ("ibu kota kerajaan itu adalah kota Lekorma.", "id"),
    ],
)
def test_language_identification_on_fixed_strings(text, lang):
    assert identify(text, RUN_LANGS)[0] == lang


def test_language_identification_candidates_matter_and_empty_is_none():
    """Among all 97 languages the short Russian sentence reads as Macedonian and the Indonesian
    one as Malay: why the run's own languages are the default candidates."""
    assert identify("Столица королевства Лерибар — город Лекорма.")[0] == "mk"
    assert identify("ibu kota kerajaan itu adalah kota Lekorma.")[0] == "ms"
    assert identify("   ", RUN_LANGS) == (None, 0.0)


def test_confusion_summary_counts_wrong_language_apart_from_forgotten():
    """Two French answers: one right-language with ROUGE 0.2, one in English with ROUGE 0:
    wrong-language share 0.5, ROUGE 0.1 over all, 0.2 over the French ones."""
    recs = [
        {"id": "a", "language": "fr", "split": "forget", "rouge_l": 0.2, "chrf": 0.3, "wrong_language": 0.0},
        {"id": "b", "language": "fr", "split": "forget", "rouge_l": 0.0, "chrf": 0.1, "wrong_language": 1.0},
    ]
    row = confusion_summary(recs).iloc[0]
    assert (
        row["wrong_language_share"] == 0.5
        and row["rouge_l"] == pytest.approx(0.1)
        and row["rouge_l_right_language"] == pytest.approx(0.2)
    )


def test_study_a_counts_wrong_language_answers_apart():
    """Study A's OF: 4 fake-story answers in de judged fake, fake, neither (in German), neither
    (in English); 1 real-only answer judged real (in German). Plain OF = 2/4; over the German
    answers OF = 2/3; wrong-language share 1/5; QR over the German answers 1."""
    from polyunlearn.studies.study_a import summarize_news

    def r(has_fake, verdict, lang):
        return {
            "language": "de",
            "has_fake": has_fake,
            "verdict": verdict,
            "key_verdict": verdict,
            "answer_language": lang,
        }

    recs = [
        r(True, "fake", "de"),
        r(True, "fake", "de"),
        r(True, "neither", "de"),
        r(True, "neither", "en"),
        r(False, "real", "de"),
    ]
    row = summarize_news(recs).iloc[0]
    assert row["OF"] == 0.5 and row["OF_right_language"] == pytest.approx(2 / 3)
    assert row["wrong_language_share"] == pytest.approx(0.2) and row["QR_right_language"] == 1.0


def test_probe_text_covers_the_language_table():
    from polyunlearn.data.probe_text import probe_text_languages

    assert sorted(probe_text_languages()) == sorted(LANGUAGES)


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_probe_text_exists_for_every_language(lang):
    prefix = affirmative_prefix(lang)
    assert prefix and prefix.strip() == prefix
    names = {answer_in(lang, other) for other in LANGUAGES}
    assert len(names) == len(LANGUAGES)  # 16 different instructions: every language named apart
    assert all("{" not in t for t in names)


def test_probe_prompts(tokenizer):
    """The affirmative prefix sits after 'Answer:' in the prompt (so the answer's probability is
    scored after it); the cross-lingual item asks X's question and keeps Y's answer."""
    from helpers.items import small_items
    from polyunlearn.probes.probe_steps import ProbeEncoder, crosslingual_items, relearn_ids

    forget = [it for it in small_items() if it.split == "forget"]
    en = forget[0]
    enc = ProbeEncoder(tokenizer, 256, {en.question: affirmative_prefix("en")})
    text = tokenizer.decode(enc.prompt(en.question), skip_special_tokens=True)
    assert text.endswith("Answer: Sure, here is the answer:")
    items, conds = crosslingual_items(forget, ["en", "fr"], instructed=True)
    k = conds.index("fr>en")
    fr = next(it for it in forget if it.id == items[k].id and it.language == "fr")
    assert items[k].question == f"{fr.question} Réponds en anglais." and items[k].answer == next(
        it.answer for it in forget if it.id == items[k].id and it.language == "en"
    )
    assert len(items) == 4 * 10 and set(conds) == {"en>en", "en>fr", "fr>en", "fr>fr"}
    ids = relearn_ids(forget, 0.3)
    assert len(ids) == 3 and ids == relearn_ids(list(reversed(forget)), 0.3)  # stable, order-free


def test_tofu_paraphrased_questions_are_found(tmp_path):
    """TOFU's forgetNN_perturbed rows carry paraphrased_question; data/tofu.py keeps it only as a
    replacement question, so the paraphrase probe reads it from the run's data spec."""
    import json

    from polyunlearn.probes.probe_steps import tofu_paraphrases

    d = tmp_path / "tofu"
    d.mkdir()
    rows = [
        {
            "question": f"Where was A{i} born?",
            "answer": f"A{i} was born in T{i}.",
            "paraphrased_answer": f"T{i} it was.",
            "paraphrased_question": f"What is the birthplace of A{i}?",
            "perturbed_answer": [f"A{i} was born in O{i}."],
        }
        for i in range(3)
    ]
    (d / "forget10_perturbed.json").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (d / "retain_perturbed.json").write_text("".join(json.dumps(r) + "\n" for r in rows[:1]), encoding="utf-8")
    found = tofu_paraphrases(f"tofu:{d}:forget10:en")
    assert found == {(f"tofu-forget10:{i}", "en"): f"What is the birthplace of A{i}?" for i in range(3)}
    assert tofu_paraphrases("bundled") == {}
