"""Benchmark translation plumbing with a tiny random M2M100 built in-process (its output is
garbage: these tests check what surrounds the model, not translation quality): language codes
for NLLB and M2M100, the encoder input and forced target token, every field translated with ids
and splits aligned, round-trip chrF per item and its flags, empty translations, resume after an
interruption, refusing a folder made with other settings, and the CLI command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from sacrebleu import sentence_chrf
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast

from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.core.languages import LANGUAGES
from polyunlearn.data.fictitious import bundled_benchmark
from polyunlearn.data.loaders import load_items, save_items
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.tools.translate import Translator, detect_style, item_fields, lang_token, translate_benchmark

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]


def source_items() -> list[QAItem]:
    """4 bundled English facts + one item with no paraphrase and 2 perturbed answers, so the
    fields of items differ in shape."""
    odd = QAItem("odd-1", "en", "Which colour is the sky?", "Blue.", "", ["Green.", "Red."], split="forget")
    return bundled_benchmark(["en"])[:4] + [odd]


def make_tokenizer(items: list[QAItem], lang_tokens: list[str]) -> PreTrainedTokenizerFast:
    """A word-level tokenizer over the items' words plus special and language tokens."""
    words = sorted({w for it in items for _, text in item_fields(it) for w in text.split()})
    vocab = {t: i for i, t in enumerate(SPECIALS + lang_tokens + words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=lang_tokens,
    )


def make_model(tok: PreTrainedTokenizerFast, seed: int = 0) -> M2M100ForConditionalGeneration:
    torch.manual_seed(seed)
    cfg = M2M100Config(
        vocab_size=len(tok),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
    )
    return M2M100ForConditionalGeneration(cfg).eval()


@pytest.fixture(scope="module")
def m2m() -> tuple[M2M100ForConditionalGeneration, PreTrainedTokenizerFast]:
    tok = make_tokenizer(source_items(), ["__en__", "__fr__", "__de__"])
    return make_model(tok), tok


def test_language_codes() -> None:
    assert [lang_token(c, "nllb") for c in ("en", "fr", "ar", "fa", "zh", "ko", "ja", "he")] == [
        "eng_Latn",
        "fra_Latn",
        "arb_Arab",
        "pes_Arab",
        "zho_Hans",
        "kor_Hang",
        "jpn_Jpan",
        "heb_Hebr",
    ]
    assert lang_token("fr", "m2m100") == "__fr__" and lang_token("he", "m2m100") == "__he__"
    for lang in LANGUAGES.values():  # FLORES-200 codes: ISO 639-3 + "_" + ISO 15924 script
        code, script = lang_token(lang.code, "nllb").split("_")
        assert len(code) == 3 and len(script) == 4 and script[0].isupper()
    with pytest.raises(ValueError, match="unknown language-code style 'marian'"):
        lang_token("en", "marian")


def test_nllb_codes_reach_the_model() -> None:
    """NLLB style: the encoder reads [eng_Latn] text </s>, the first output token is fra_Latn."""
    items = source_items()[:1]
    tok = make_tokenizer(items, ["eng_Latn", "fra_Latn"])
    assert detect_style(tok) == "nllb"
    model = make_model(tok)
    seen = {}
    real_generate = model.generate

    def spy(**kwargs):
        seen.update(kwargs)
        return real_generate(**kwargs)

    model.generate = spy
    out = Translator(model, tok, max_new_tokens=4).translate(["Which colour"], "en", "fr")
    ids = seen["input_ids"][0].tolist()
    assert ids == [
        tok.convert_tokens_to_ids("eng_Latn"),
        *tok("Which colour", add_special_tokens=False)["input_ids"],
        tok.eos_token_id,
    ]
    assert seen["forced_bos_token_id"] == tok.convert_tokens_to_ids("fra_Latn")
    assert len(out) == 1 and isinstance(out[0], str)
    with pytest.raises(ValueError, match="cannot tell the tokenizer's language codes"):
        detect_style(make_tokenizer(items, []))


def test_fields_aligned_and_roundtrip_chrf(m2m, tmp_path: Path) -> None:
    model, tok = m2m
    tr = Translator(model, tok, max_new_tokens=8)
    assert tr.style == "m2m100"
    src = source_items()
    result = translate_benchmark(src, tr, tmp_path / "tr", ["fr", "de"], chunk_size=2, threshold=50.0)
    assert len(result.items) == 5 + 10
    by_key = {(it.id, it.language): it for it in result.items}
    for s in src:
        for lang in ("fr", "de"):
            t = by_key[(s.id, lang)]
            assert t.split == s.split and len(t.perturbed_answer) == len(s.perturbed_answer)
            assert bool(t.paraphrased_answer) == bool(s.paraphrased_answer)
            assert t.question and t.answer and all(t.perturbed_answer)
    report = result.report.set_index(["id", "language"])
    assert len(report) == 10 and report["kept"].all()
    # chrF of the round trip, recomputed by hand for one field of one item.
    t = by_key[("odd-1", "fr")]
    back = tr.translate([t.answer], "fr", "en")[0]
    chunk = [json.loads(line) for line in (tmp_path / "tr" / "chunks" / "fr" / "chunk-00002.jsonl").open()]
    assert chunk[0]["id"] == "odd-1" and set(chunk[0]["chrf"]) == {
        "question",
        "answer",
        "perturbed_answer[0]",
        "perturbed_answer[1]",
    }
    assert chunk[0]["chrf"]["answer"] == pytest.approx(sentence_chrf(back, ["Blue."]).score, abs=0.01)
    assert report.loc[("odd-1", "fr"), "roundtrip_chrf"] == pytest.approx(sum(chunk[0]["chrf"].values()) / 4)
    # Garbage translations round-trip badly: all flagged at 50; none at threshold 0 (a rerun
    # with another threshold re-scores without translating anything).
    assert report["flagged"].all() and (report["roundtrip_chrf"] < 50).all()
    assert result.summary.set_index("language").loc["fr", "flagged"] == 5
    calls = []
    tr.translate = lambda *a, **k: calls.append(a) or []  # type: ignore[method-assign]
    relaxed = translate_benchmark(src, tr, tmp_path / "tr", ["fr", "de"], chunk_size=2, threshold=0.0)
    assert calls == [] and not relaxed.report["flagged"].any()
    on_disk = load_items(str(tmp_path / "tr" / "benchmark.jsonl"))
    assert [(it.id, it.language) for it in on_disk] == [(it.id, it.language) for it in relaxed.items]


def test_resume_after_interruption(m2m, tmp_path: Path) -> None:
    model, tok = m2m
    src = source_items()
    reference = translate_benchmark(
        src, Translator(model, tok, max_new_tokens=8), tmp_path / "ref", ["fr", "de"], chunk_size=2
    )

    class Crash(RuntimeError):
        pass

    tr = Translator(model, tok, max_new_tokens=8)
    real = tr.translate
    calls: list[tuple[str, str]] = []

    def flaky(texts, s, t):
        calls.append((s, t))
        if len(calls) == 7:  # forward + back per chunk: dies in the 4th chunk (de, chunk 0)
            raise Crash()
        return real(texts, s, t)

    tr.translate = flaky  # type: ignore[method-assign]
    with pytest.raises(Crash):
        translate_benchmark(src, tr, tmp_path / "run", ["fr", "de"], chunk_size=2)
    done = sorted(
        p.relative_to(tmp_path / "run" / "chunks").as_posix() for p in (tmp_path / "run" / "chunks").rglob("*.jsonl")
    )
    assert done == ["fr/chunk-00000.jsonl", "fr/chunk-00001.jsonl", "fr/chunk-00002.jsonl"]
    assert not (tmp_path / "run" / "benchmark.jsonl").exists()
    calls.clear()
    resumed = translate_benchmark(src, tr, tmp_path / "run", ["fr", "de"], chunk_size=2)
    assert calls == [("en", "de"), ("de", "en")] * 3  # only the 3 German chunks
    assert resumed.items == reference.items
    assert resumed.report.equals(reference.report)
    with pytest.raises(DataError, match="other chunk_size"):
        translate_benchmark(src, tr, tmp_path / "run", ["fr"], chunk_size=3)


def test_empty_translations_are_dropped_and_flagged(m2m, tmp_path: Path) -> None:
    model, tok = m2m
    # One new token = only the forced language token, which decoding drops: every field empty.
    tr = Translator(model, tok, max_new_tokens=1)
    result = translate_benchmark(source_items(), tr, tmp_path / "e", ["fr"], chunk_size=10)
    assert [it.language for it in result.items] == ["en"] * 5
    assert not result.report["kept"].any()
    assert result.report["flags"].str.contains("empty:question").all()
    assert result.summary.iloc[0].to_dict()["kept"] == 0


def test_bad_requests(m2m, tmp_path: Path) -> None:
    model, tok = m2m
    tr = Translator(model, tok)
    with pytest.raises(DataError, match="has no token '__ja__' for language 'ja'"):
        translate_benchmark(source_items(), tr, tmp_path / "x", ["ja"])
    mixed = source_items() + [QAItem("fact-000", "fr", "q", "a")]
    with pytest.raises(DataError, match="target language\\(s\\) fr already in the data"):
        translate_benchmark(mixed, tr, tmp_path / "x", ["fr"])
    with pytest.raises(DataError, match="no target languages"):
        translate_benchmark(source_items(), tr, tmp_path / "x", [])
    with pytest.raises(DataError, match="no items in the source language 'de'"):
        translate_benchmark(source_items(), tr, tmp_path / "x", ["fr"], source="de")


def test_translate_command(m2m, tmp_path: Path) -> None:
    model, tok = m2m
    model.save_pretrained(tmp_path / "mt", safe_serialization=True)
    tok.save_pretrained(tmp_path / "mt")
    data = save_items(source_items(), tmp_path / "bench.jsonl")
    args = [
        "translate",
        "--data",
        str(data),
        "--to",
        "fr,de",
        "--model",
        str(tmp_path / "mt"),
        "--out",
        str(tmp_path / "out"),
        "--chunk-size",
        "2",
        "--max-new-tokens",
        "6",
    ]
    res = runner.invoke(app, args, env={"COLUMNS": "200"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    items = load_items(str(tmp_path / "out" / "benchmark.jsonl"))
    assert [sum(it.language == lang for it in items) for lang in ("en", "fr", "de")] == [5, 5, 5]
    assert "translation from en (m2m100 codes)" in res.output
    bad = runner.invoke(app, [*args[:6], str(tmp_path / "nowhere"), "--out", str(tmp_path / "o2")])
    assert bad.exit_code == 2 and "could not load translation model" in bad.output
