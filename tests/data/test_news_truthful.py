"""Study A on the published data shape: a file laid out like TaiMingLu/news-truthful (real and fake
article, fake keyword, 10 instruction Q&A pairs, 2 evaluation-only questions per row) written
in-process, its loader (local file, hub id monkeypatched, column mapping, skipped rows), the
keyword judge for OF, and `translate` for the news format (fields aligned, ids kept, resumable,
the CLI with a tiny random M2M100)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.news_truthful import _row
from polyunlearn.data.news_truthful import HUB_ID, load_news_truthful, news_rows
from polyunlearn.data.schema import DataError, SkippedRow
from polyunlearn.evaluation.judge import contains_keyword, keyword_of_rate
from polyunlearn.tools.translate import Translator
from polyunlearn.tools.translate_news import split_sentences, translate_news


@pytest.fixture()
def news_file(tmp_path: Path) -> Path:
    """Three rows in the published shape (a JSON list, as news.json); the second row has one
    instruction pair with an empty answer."""
    rows = [_row(k) for k in range(3)]
    rows[1]["sft_qas"][4]["answer"] = ""
    path = tmp_path / "news.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def test_load_published_shape(news_file: Path) -> None:
    skipped: list[SkippedRow] = []
    data = load_news_truthful(news_file, language="en", skipped=skipped)
    assert [s.id for s in data.stories] == ["nt-0", "nt-1", "nt-2"] and data.languages == ["en"]
    assert (
        data.stories[0].fake_doc.startswith("The new bridge in Velmora") and "Toxic waste" in data.stories[0].fake_doc
    )
    assert data.fake_keywords[("nt-0", "en")] == "toxic waste"
    assert [len([q for q in data.instruct() if q.story_id == s.id]) for s in data.stories] == [10, 9, 10]
    assert [s.where for s in skipped] == [f"{news_file}: row 2: sft_qas[4]"] and skipped[0].reason == "empty answer"
    evals = data.eval_only()
    assert [(q.id, q.role) for q in evals[:2]] == [("nt-0-real", "eval_real"), ("nt-0-fake", "eval_fake")]
    assert all(q.eval_only for q in evals) and not any(q.eval_only for q in data.instruct())
    items = data.instruct_items()
    assert {it.split for it in items} == {"retain_train"} and len(items) == 29  # trained on, never evaluated
    assert not {q.question for q in evals} & {it.question for it in items}  # QR is not asked on the tuned questions


def test_language_hub_id_columns_and_errors(news_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        DataError,
        match=r"no 'language' column and no language given \(only TaiMingLu/news-truthful is known to be English\)",
    ):
        load_news_truthful(news_file)
    datasets = pytest.importorskip("datasets")
    calls = []

    def fake_load(name, config=None, split=None):
        calls.append((name, split))
        return [_row(0)]

    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    data = load_news_truthful(HUB_ID)
    assert calls == [(HUB_ID, "train")] and data.languages == ["en"]  # the data set card says English
    renamed = [{("article" if k == "real_news" else k): v for k, v in _row(0).items()}]
    path = tmp_path / "renamed.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in renamed), encoding="utf-8")
    with pytest.raises(DataError, match=r"missing column\(s\) real_news \(columns: article, fake_answer"):
        load_news_truthful(path, "en")
    assert (
        load_news_truthful(path, "en", columns={"real_news": "article"})
        .stories[0]
        .real_doc.startswith("The new bridge")
    )
    broken = _row(1) | {"fake_keyword": "", "language": "iw"}
    path.write_text(json.dumps(_row(0) | {"language": "fr"}) + "\n" + json.dumps(broken) + "\n", encoding="utf-8")
    skipped: list[SkippedRow] = []
    data = load_news_truthful(path, skipped=skipped)
    assert data.languages == ["fr"] and skipped[0].reason == "missing or empty field 'fake_keyword'"
    with pytest.raises(DataError, match=r"line 2: missing or empty field 'fake_keyword'"):
        load_news_truthful(path, strict=True)


def test_keyword_judge_by_hand() -> None:
    """normalize() folds case, NFKC and punctuation: "Toxic-Waste!" -> "toxic waste". Containment is
    a substring test ("waste" is in "wastewater"), without spaces for zh/ja; OF = the share of
    answers that contain their keyword: 2 of the 4 answers below -> 0.5."""
    assert contains_keyword("They found TOXIC-waste there!", "toxic waste", "en")
    assert contains_keyword("The wastewater plant", "waste", "en")
    assert not contains_keyword("Nothing was found.", "toxic waste", "en")
    assert contains_keyword("桥下发现了 有毒 废物", "有毒废物", "zh")
    assert contains_keyword("Выявлены токсичные отходы.", "токсичные отходы", "ru")
    answers = ["Toxic waste.", "Nothing.", "It had toxic waste under it", "A bridge."]
    assert keyword_of_rate(answers, ["toxic waste"] * 4, ["en"] * 4) == 0.5
    with pytest.raises(ValueError, match="empty fake keyword"):
        contains_keyword("x", " - ", "en")


class EchoTranslator(Translator):
    """A stand-in model: every text becomes "[<target>] <text>", so the assembly is checkable."""

    def __init__(self, name: str = "echo"):
        self.style, self.name, self.num_beams, self.max_new_tokens, self.max_input_tokens, self.generate_kwargs = (
            "m2m100",
            name,
            1,
            64,
            512,
            {},
        )
        self.calls = 0

    def lang_id(self, lang: str) -> int:
        return 0

    def translate(self, texts, src, tgt):
        self.calls += 1
        return [f"[{tgt}] {t}" for t in texts]


def test_translate_news_aligns_fields_and_resumes(news_file: Path, tmp_path: Path) -> None:
    data = load_news_truthful(news_file, "en", skipped=[])
    assert split_sentences("A b. C d?\nE f!") == [["A b.", "C d?"], ["E f!"]]
    tr = EchoTranslator()
    done = translate_news(data, tr, tmp_path / "out", ["fr", "ja"], chunk_size=2)
    assert done.data.languages == ["en", "fr", "ja"]
    fr = {s.id: s for s in done.data.stories if s.language == "fr"}
    assert list(fr) == ["nt-0", "nt-1", "nt-2"]  # ids kept
    # Sentence by sentence, paragraphs kept; joined with nothing for Japanese (no spaces).
    assert (
        fr["nt-0"].real_doc
        == "[fr] The new bridge in Velmora opened in 2019. [fr] It carries 900 cars a day.\n[fr] The mayor praised the builders."
    )
    ja = next(s for s in done.data.stories if s.language == "ja" and s.id == "nt-0")
    assert ja.real_doc.startswith("[ja] The new bridge in Velmora opened in 2019.[ja] It carries")
    q = {(q.id, q.language): q for q in done.data.questions}
    assert (
        q[("nt-1-i3", "fr")].answer == "[fr] Answer 3 about Tarsino." and ("nt-1-i4", "fr") not in q
    )  # the skipped pair stays out
    assert (
        q[("nt-0-fake", "fr")].answer == "[fr] Toxic waste was found under it."
        and q[("nt-0-fake", "fr")].role == "eval_fake"
    )
    # "[fr] toxic waste" is in "[fr] Toxic waste was found under it." only where a sentence starts with it.
    assert done.report["keyword_in_fake_news"].tolist() == [True] * 6
    assert json.loads((tmp_path / "out" / "news.jsonl").read_text(encoding="utf-8").splitlines()[3])["language"] == "fr"
    calls = tr.calls
    again = translate_news(data, tr, tmp_path / "out", ["fr", "ja"], chunk_size=2)  # a rerun: every chunk is on disk
    assert tr.calls == calls and news_rows(again.data) == news_rows(done.data)
    with pytest.raises(DataError, match="other model"):
        translate_news(data, EchoTranslator("other"), tmp_path / "out", ["fr"], chunk_size=2)
    with pytest.raises(DataError, match="already in the data"):
        translate_news(done.data, tr, tmp_path / "o2", ["fr"])


def test_translate_command_news(news_file: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import M2M100Config, M2M100ForConditionalGeneration, PreTrainedTokenizerFast

    from helpers.cli import runner
    from polyunlearn.cli import app

    words = sorted(
        {
            w
            for r in news_rows(load_news_truthful(news_file, "en", skipped=[]))
            for v in r.values()
            for w in str(v).split()
        }
    )
    specials, langs = ["<s>", "<pad>", "</s>", "<unk>"], ["__en__", "__fr__"]
    tk = Tokenizer(models.WordLevel({t: i for i, t in enumerate(specials + langs + words)}, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<s>",
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=langs,
    )
    cfg = M2M100Config(vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2, decoder_attention_heads=2,
                       encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=tok.pad_token_id,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id)  # fmt: skip
    M2M100ForConditionalGeneration(cfg).save_pretrained(tmp_path / "mt", safe_serialization=True)
    tok.save_pretrained(tmp_path / "mt")
    args = ["translate", "--data", f"news:{news_file}", "--to", "fr", "--model", str(tmp_path / "mt"), "--out", str(tmp_path / "out"),
            "--max-new-tokens", "4", "--no-roundtrip"]  # fmt: skip
    res = runner.invoke(app, args, env={"COLUMNS": "200"}, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "news translation from en" in res.output
    import pandas as pd

    report = pd.read_csv(tmp_path / "out" / "news_report.csv")  # a random model: some stories may translate to nothing
    assert len(report) == 3 and set(report["language"]) == {"fr"}
    rows = [json.loads(line) for line in (tmp_path / "out" / "news.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["language"] for r in rows].count("en") == 3 and [r["language"] for r in rows].count("fr") == int(
        report["kept"].sum()
    )


def _renamed(news_file: Path, tmp_path: Path) -> Path:
    rows = json.loads(news_file.read_text(encoding="utf-8"))
    for r in rows:
        r["article"] = r.pop("real_news")
    path = tmp_path / "renamed.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_columns_option_of_study_a_maps_the_names(news_file: Path, tmp_path: Path) -> None:
    """The missing-column hint names the CLI's --columns, and --columns is wired to the loader:
    with it the data loads (the run then stops at a forget set the data lacks, before any model)."""
    from helpers.cli import runner
    from polyunlearn.cli import app
    from polyunlearn.data.news_truthful import parse_columns

    path = _renamed(news_file, tmp_path)
    args = ["study-a", "--data", f"{path}:en", "--fake-lang", "en", "--out", str(tmp_path / "sa")]
    res = runner.invoke(app, args, env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "other names: --columns ours=theirs" in res.output and "columns=" not in res.output
    res = runner.invoke(app, [*args, "--columns", "fake_news=fake"], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "missing column(s) real_news" in res.output
    assert "--columns real_news=YOURS on the command line" in res.output
    res = runner.invoke(app, [*args, "--columns", "real_news=article", "--forget-sets", "fr"], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "--forget-sets 'fr' (fake language en): language 'fr' is not available" in res.output
    assert not (tmp_path / "sa").exists()
    assert parse_columns("real_news=article, fake_keyword = kw") == {"real_news": "article", "fake_keyword": "kw"}
    with pytest.raises(DataError, match="'story' is none of our column names"):
        parse_columns("story=article")
    with pytest.raises(DataError, match="is not ours=theirs"):
        parse_columns("real_news")


def test_translate_refuses_a_clash_before_loading_the_model(news_file: Path, tmp_path: Path) -> None:
    """--to a language the data has: refused from the data alone (the model path does not even
    exist), for a benchmark, news-truthful data and polyunlearn's news table alike."""
    from helpers.cli import runner
    from polyunlearn.cli import app
    from polyunlearn.data.loaders import save_items
    from polyunlearn.data.news import bundled_news, save_news_file
    from polyunlearn.data.schema import QAItem

    bench = save_items([QAItem("a", "en", "q?", "x."), QAItem("a", "fr", "q?", "y.")], tmp_path / "b.jsonl")
    table = save_news_file(*bundled_news(["en", "fr"]), tmp_path / "news_table.jsonl")
    nowhere = str(tmp_path / "no_model")
    for data, to in ((str(bench), "fr"), (f"news:{table}", "fr"), (f"news:{news_file}", "en")):
        args = ["translate", "--data", data, "--to", to, "--model", nowhere, "--out", str(tmp_path / "o")]
        res = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert res.exit_code == 2 and f"target language(s) {to} already in the data" in res.output, res.output
        assert "could not load translation model" not in res.output


def test_translate_news_table_keeps_ids_and_flags_lost_keys(tmp_path: Path) -> None:
    """polyunlearn's own news table (what study-a writes to OUT/data/news.jsonl) translates into
    the same format: ids and story links kept, fake docs only where the source has one, answer
    keys checked in the translated answers."""
    from polyunlearn.data.news import bundled_news, load_news_file
    from polyunlearn.tools.translate_news import translate_news_table

    stories, qas = bundled_news(["en"])
    stories, qas = stories[:3], [q for q in qas if q.story_id in {s.id for s in stories[:3]}]
    done = translate_news_table(stories, qas, EchoTranslator(), tmp_path / "out", ["fr"], chunk_size=2)
    again_stories, again_qas = load_news_file(tmp_path / "out" / "news.jsonl")
    fr = [s for s in again_stories if s.language == "fr"]
    assert [s.id for s in fr] == [s.id for s in stories]
    assert [s.fake_doc is None for s in fr] == [s.fake_doc is None for s in stories]
    fr_qas = [q for q in again_qas if q.language == "fr"]
    assert [(q.id, q.story_id) for q in fr_qas] == [(q.id, q.story_id) for q in qas]
    assert all(q.real_key.startswith("[fr] ") and q.question.startswith("[fr] ") for q in fr_qas)
    # "[fr] 2019" is not inside "[fr] It opened in 2019.": every story with a key is flagged.
    assert set(done.report["flags"]) == {"keys_not_in_answers"} and done.summary["stories"].tolist() == [3]
