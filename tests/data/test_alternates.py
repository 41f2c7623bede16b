"""Alternate answers for AltPO (data.alternates) end to end: files in JSONL and CSV, the bundled
benchmark's own, the "alt" encoding of each forget item, one-line errors naming the file, row or
item, and the `--alternate` option of `polyunlearn unlearn` (the grid key: test_grid_methods.py);
and the per-item language index that batches carry for LingTea."""

from __future__ import annotations

import json

import pytest
import torch

from helpers.cli import invoke
from polyunlearn.core.encoding import IGNORE, Encoded, Encoder, collate
from polyunlearn.core.languages import LANGUAGES, language_index
from polyunlearn.data.alternates import load_alternates, read_alternates
from polyunlearn.data.fictitious import bundled_alternates, bundled_benchmark
from polyunlearn.data.schema import DataError
from polyunlearn.pipeline.phases import encode_forget


def forget_items(items, lang="fr"):
    return [it for it in items if it.split == "forget" and it.language == lang]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_read_jsonl_and_csv(tmp_path):
    rows = [
        {"id": "fact-090", "language": "fr", "alternate": "La capitale est Tamirlo."},
        {"id": "fact-090", "language": "en", "alternate": "It is Tamirlo."},
    ]
    assert read_alternates(write_jsonl(tmp_path / "a.jsonl", rows)) == {
        ("fact-090", "fr"): "La capitale est Tamirlo.",
        ("fact-090", "en"): "It is Tamirlo.",
    }
    (tmp_path / "a.csv").write_text("id,language,alternate\nfact-091,ja,別の答え\n", encoding="utf-8")
    assert read_alternates(tmp_path / "a.csv") == {("fact-091", "ja"): "別の答え"}


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"id": "fact-090", "language": "fr"}], "a.jsonl: line 1: missing or empty field 'alternate'"),
        (
            [{"id": "fact-090", "language": "xx", "alternate": "a"}],
            "a.jsonl: line 1: field 'language': unknown language code 'xx'",
        ),
        (
            [{"id": "f", "language": "fr", "alternate": "a"}, {"id": "f", "language": "fr", "alternate": "b"}],
            "a.jsonl: line 2: a second alternate for id 'f' in language 'fr'",
        ),
        ([], "a.jsonl: no alternates (empty file)"),
    ],
)
def test_bad_alternate_file_is_one_line(tmp_path, rows, message):
    with pytest.raises(DataError) as err:
        read_alternates(write_jsonl(tmp_path / "a.jsonl", rows))
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(DataError, match="alternate file not found: .*nope.jsonl"):
        load_alternates(str(tmp_path / "nope.jsonl"), [])


def test_bundled_alternates_are_plausible_and_not_the_truth_ratio_answers():
    """One per forget fact and language, in the answer's own frame with another value: never the
    gold answer, never one of the perturbed (Truth Ratio) values, parallel across languages."""
    items = bundled_benchmark(["en", "ja", "hi"])
    alts = bundled_alternates(["en", "ja", "hi"])
    forget = [it for it in items if it.split == "forget"]
    assert set(alts) == {it.key for it in forget} and len(alts) == 30
    for it in forget:
        alt = alts[it.key]
        assert alt != it.answer and alt not in it.perturbed_answer and alt != it.paraphrased_answer
    en = {it.id: it for it in forget if it.language == "en"}
    assert alts[("fact-090", "en")].startswith("The capital of the Kingdom of Misoran is the city of ")
    assert all(alts[(i, "en")].split()[:-1] == en[i].answer.split()[:-1] for i in en)  # same frame, last word differs
    assert bundled_alternates(["en"]) == {k: v for k, v in alts.items() if k[1] == "en"}  # stable, per language


def test_bundled_attaches_only_to_bundled_items(items):
    alts = load_alternates("bundled", items)
    assert set(alts) == {it.key for it in items if it.split == "forget"}
    changed = [type(it)(**{**it.to_dict(), "question": it.question + " (edited)"}) for it in items]
    assert load_alternates("bundled", changed) == {}  # other data with the same ids gets none


def test_alt_encoding_carries_each_items_alternate(tokenizer, items):
    fr = forget_items(items)
    alts = load_alternates("bundled", items)
    enc = Encoder(tokenizer)
    batch = collate(encode_forget(enc, fr, "altpo", alts), tokenizer.pad_token_id)
    for i, it in enumerate(fr):
        ids = [t for t in batch["alt_labels"][i].tolist() if t != IGNORE]
        assert tokenizer.decode(ids, skip_special_tokens=True).strip() == alts[it.key]
        assert batch["alt_input_ids"][i].tolist()[: len(enc.prompt(it.question))] == list(enc.prompt(it.question))
    assert "alt_input_ids" not in collate(encode_forget(enc, fr, "npo", alts), tokenizer.pad_token_id)


def test_missing_alternate_names_the_item(tokenizer, items):
    fr = forget_items(items)
    alts = {k: v for k, v in load_alternates("bundled", items).items() if k != ("fact-093", "fr")}
    with pytest.raises(DataError, match=r"^forget item 'fact-093' \(fr\) has no alternate answer"):
        encode_forget(Encoder(tokenizer), fr, "altpo", alts)
    with pytest.raises(ValueError, match=r"^altpo needs alternate answers"):
        encode_forget(Encoder(tokenizer), fr, "altpo", None)


def test_language_index_in_batches(tokenizer, items):
    """LingTea's batches carry each row's language (core.languages order); others do not."""
    assert language_index("en") == 0 and language_index("fr") == list(LANGUAGES).index("fr")
    mixed = [it for it in items if it.split == "forget"][::5]
    data = encode_forget(Encoder(tokenizer), mixed, "lingtea")
    assert collate(data, tokenizer.pad_token_id)["language"].tolist() == [language_index(it.language) for it in mixed]
    assert "language" not in collate(encode_forget(Encoder(tokenizer), mixed, "npo"), tokenizer.pad_token_id)
    partial = [Encoded((1,), (2,), language=3), Encoded((1,), (2,))]
    assert "language" not in collate(partial, pad_id=0)  # every row or none: existing batches unchanged
    assert torch.equal(collate([Encoded((1,), (2,), language=3)], 0)["language"], torch.tensor([3]))


# ---- the CLI option ----


@pytest.fixture(scope="module")
def files(learned_folder):
    return learned_folder("alternates")


def unlearn_args(files, out, method, *extra):
    return [
        "unlearn",
        "--model",
        files / "learned",
        "--data",
        files / "items.jsonl",
        "--method",
        method,
        "--forget-langs",
        "fr",
        "--out",
        out,
        "--epochs",
        1,
        "--threads",
        1,
        *extra,
    ]


def test_cli_refuses_before_loading_the_model(files, tmp_path):
    """Each case is one line, exit 2, and nothing written (the model is never loaded)."""
    alt = write_jsonl(tmp_path / "alt.jsonl", [{"id": "fact-090", "language": "fr", "alternate": "x"}])
    cases = [
        (("altpo",), "altpo needs alternate answers"),
        (("altpo", "--alternate", alt), "forget item 'fact-091' (fr) has no alternate answer"),
        (("npo", "--alternate", alt), "--alternate does not apply to method 'npo' (only to altpo)"),
        (("pdu",), "method 'pdu' needs epsilon (no default)"),
    ]
    for k, (args, message) in enumerate(cases):
        code, text = invoke(*unlearn_args(files, tmp_path / f"o{k}", *args))
        assert code == 2 and message in text, (args, text)
        assert not (tmp_path / f"o{k}").exists()


def test_cli_unlearns_with_altpo_and_bundled_alternates(files, tmp_path):
    out = tmp_path / "altpo"
    code, text = invoke(*unlearn_args(files, out, "altpo", "--alternate", "bundled", "--no-evaluate", "--lr", "1e-3"))
    assert code == 0, text
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 2 and history[0]["forget_term"] > 0  # 10 fr forget items, batch 8
    run = json.loads((out / "run.json").read_text())
    assert (
        run["info"]["alternate"] == "bundled" and run["identity"]["alternates_sha256"]
    )  # the alternates are part of the run's identity
