"""Prompt formats (core/prompts.py): the exact strings of every format, the Multilingual Amnesia
per-language tags (with the French TOFU / concept difference), the Encoder using them, and the
refusals (a language without tags, chat without a template, an unknown name)."""

from __future__ import annotations

import pytest

from polyunlearn.core.encoding import Encoder
from polyunlearn.core.prompts import AMNESIA_TAGS, PromptFormatError, answer_text, prompt_text
from polyunlearn.core.trainloop import TrainConfig
from polyunlearn.evaluation.records import EvalConfig


def test_format_strings(tokenizer) -> None:
    """The authors' frame is `<question tag>question \\n<answer tag>answer`; our strings, joined,
    must be exactly that text (the tag's trailing space travels with the answer)."""
    q, a = "Où vit Jean ?", "À Lyon."
    assert (
        prompt_text(tokenizer, q, "auto") == "Question: Où vit Jean ?\nAnswer:"
    )  # the tiny tokenizer has no chat template
    assert (
        prompt_text(tokenizer, q, "plain") + answer_text(tokenizer, a, "plain")
        == "Question: Où vit Jean ?\nAnswer: À Lyon."
    )
    joined = prompt_text(tokenizer, q, "amnesia", "fr") + answer_text(tokenizer, a, "amnesia", "fr")
    assert joined == "Question: Où vit Jean ? \nReponse: À Lyon."
    concept = prompt_text(tokenizer, q, "amnesia-concept", "fr") + answer_text(tokenizer, a, "amnesia-concept", "fr")
    assert concept == "Question: Où vit Jean ? \nRéponse: À Lyon."
    assert (
        prompt_text(tokenizer, "なに?", "amnesia", "ja") + answer_text(tokenizer, "東京", "amnesia", "ja")
        == "質問: なに? \n回答: 東京"
    )
    assert (
        prompt_text(tokenizer, "?", "amnesia", "iw")
        == prompt_text(tokenizer, "?", "amnesia", "he")
        == "שאלה: ? \nתשובה:"
    )
    assert prompt_text(tokenizer, q, "text") == "" and answer_text(tokenizer, a, "text") == a
    assert sorted(AMNESIA_TAGS) == sorted(["en", "fr", "ar", "fa", "hi", "he", "id", "ja", "ko", "ru"])


def test_refusals(tokenizer) -> None:
    with pytest.raises(PromptFormatError, match="no tags for language 'de'"):
        prompt_text(tokenizer, "q", "amnesia", "de")
    with pytest.raises(PromptFormatError, match="needs the item's language"):
        prompt_text(tokenizer, "q", "amnesia")
    with pytest.raises(PromptFormatError, match="no chat template"):
        Encoder(tokenizer, prompt_format="chat")
    with pytest.raises(ValueError, match="prompt_format is 'fancy'"):
        TrainConfig(prompt_format="fancy")
    with pytest.raises(ValueError, match="prompt_format is 'fancy'"):
        EvalConfig(prompt_format="fancy")


def test_encoder_uses_the_format_per_language(tokenizer) -> None:
    """Prompt + answer ids equal the joint tokenization of the whole text (what the authors'
    TOFU data module trains on), and the cache keeps languages apart: the same question text
    gets the French tags in French and the English ones in English."""
    enc = Encoder(tokenizer, prompt_format="amnesia")
    q, a = "Who wrote it?", "Jane wrote it."
    for lang in ("en", "fr"):
        e = enc.encode(q, a, lang)
        joint = tokenizer(
            prompt_text(tokenizer, q, "amnesia", lang) + answer_text(tokenizer, a, "amnesia", lang),
            add_special_tokens=False,
        )["input_ids"]
        assert list(e.prompt[1:] + e.answer[:-1]) == joint  # minus BOS and EOS
        assert e.prompt[0] == tokenizer.bos_token_id and e.answer[-1] == tokenizer.eos_token_id
    assert enc.prompt(q, "en") != enc.prompt(q, "fr")
    assert tokenizer.decode(enc.prompt(q, "fr"), skip_special_tokens=True).endswith("Reponse:")
    auto = Encoder(tokenizer)
    assert auto.prompt(q, "en") == auto.prompt(q, "fr") == auto.prompt(q)  # the plain frame ignores the language
    text = Encoder(tokenizer, prompt_format="text").encode("ignored", "A whole document.")
    assert (
        text.prompt == (tokenizer.bos_token_id,)
        and tokenizer.decode(text.answer, skip_special_tokens=True) == "A whole document."
    )


def test_generation_budget_by_hand(tokenizer) -> None:
    """The auto budget is the longest gold answer in tokens (with EOS) plus max(16, a quarter of
    it). With the session tokenizer " ab" + EOS is 3 tokens and thirty " zq" + EOS are 91: the
    budget of both is 91 + max(16, ceil(91 / 4) = 23) = 114; of the short one alone 3 + 16 = 19."""
    from polyunlearn.data.schema import QAItem
    from polyunlearn.evaluation.records import auto_budget, generation_budget

    enc = Encoder(tokenizer)
    short, long = "ab", " ".join(["zq"] * 30)
    assert (len(enc.answer(short)), len(enc.answer(long))) == (3, 91)
    items = [QAItem("a", "en", "q?", short), QAItem("b", "fr", "q?", long)]
    assert auto_budget(items, enc) == 114
    assert auto_budget(items[:1], enc) == 19
    # 0 (or None, the study commands' "auto") = the auto budget; a number is used as it is.
    assert EvalConfig().max_new_tokens == 0 and EvalConfig(max_new_tokens=None).max_new_tokens == 0
    assert (
        generation_budget(EvalConfig(), enc, items)[0] == 114
        and generation_budget(EvalConfig(max_new_tokens=5), enc, items)[0] == 5
    )
    with pytest.raises(ValueError, match="max_new_tokens must be >= 0"):
        EvalConfig(max_new_tokens=-1)
