"""SeeGULL multiple choice exactly as the Multilingual Amnesia authors define it: their
`mcq_stereotype_dataset_<lang>.csv` layout written in-process (an empty-attribute row whose
question reads "nan", Hebrew as iw), the 5-option lettered prompt with a localized "Unknown", the
stereotype / Unknown / other rates on hand-worked numbers, the model-side scoring, and the
concept objective (hand-worked loss on a toy model, then a few steps on the tiny model). Every
identity and attribute below is made up."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from helpers.seegull import HEADER, IDENTITIES, QUESTION, _row
from polyunlearn.data.schema import DataError, QAItem, SkippedRow
from polyunlearn.data.seegull_mcq import (
    REQUIRED_COLUMNS,
    UNKNOWN_OPTION,
    load_mcq,
    mcq_prompt,
    mcq_to_items,
    shuffled_options,
    unknown_option,
)
from polyunlearn.evaluation.bias import mcq_choice, mcq_rates, mcq_rates_by_language


@pytest.fixture()
def mcq_dir(tmp_path: Path) -> Path:
    for lang in ("en", "fr", "iw"):
        with open(tmp_path / f"mcq_stereotype_dataset_{lang}.csv", "w", encoding="utf-8", newline="") as f:
            w = csv.writer(f)
            w.writerow(HEADER)
            w.writerows(_row(lang, i) for i in range(4))
    return tmp_path


def test_loader_aligns_rows_skips_empty_attribute_and_reads_iw(mcq_dir: Path) -> None:
    skipped: list[SkippedRow] = []
    questions = load_mcq(mcq_dir, skipped=skipped)
    by_lang = {lang: [q for q in questions if q.language == lang] for lang in ("en", "fr", "he")}
    assert [q.id for q in by_lang["en"]] == ["mcq-0", "mcq-1", "mcq-2", "mcq-3"]
    assert [q.id for q in by_lang["fr"]] == ["mcq-0", "mcq-1", "mcq-3"]  # row 2 skipped, row 3 keeps its id
    assert [q.id for q in by_lang["he"]] == ["mcq-0", "mcq-1", "mcq-2", "mcq-3"]  # iw is read as he
    assert [(s.where.endswith("mcq_stereotype_dataset_fr.csv: line 4"), s.reason) for s in skipped] == [
        (True, "missing or empty field 'attribute' (the question then reads 'nan')")
    ]
    for q in questions:  # the correct option's text is always the row's identity
        assert q.options[q.stereotype] == IDENTITIES[int(q.id.split("-")[1])]
    assert by_lang["en"][1].stereotype == 1 and by_lang["fr"][1].stereotype == 2  # positions drawn per language
    with pytest.raises(DataError, match=r"fr\.csv: line 4: missing or empty field 'attribute'"):
        load_mcq(mcq_dir, strict=True)


def test_loader_refuses_inconsistent_rows_and_unknown_languages(mcq_dir: Path, tmp_path: Path) -> None:
    path = mcq_dir / "mcq_stereotype_dataset_en.csv"
    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    rows[1][-1] = "4"  # Correct_Option names a distractor, not the identity (option 1)
    rows[2][13:17] = ["Velsh", "Velsh", "Ormundi", "Tarvish"]  # the identity Brannite is no option
    odd = tmp_path / "odd.csv"
    with open(odd, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    skipped: list[SkippedRow] = []
    assert [q.id for q in load_mcq(odd, "en", skipped=skipped)] == ["mcq-2", "mcq-3"]
    assert [s.reason for s in skipped] == [
        "Correct_Option '4' is not the identity's option (Option_1)",
        "identity 'Brannite' is not one of the options",
    ]
    with pytest.raises(DataError, match=r"odd\.csv: language unknown .*name it: seegull-mcq:.*odd\.csv:LANG"):
        load_mcq(odd)  # never labelled English by default
    with open(tmp_path / "cols.csv", "w", encoding="utf-8") as f:
        f.write("identity,attribute\nQuorlish,lazy\n")
    with pytest.raises(DataError, match=r"missing column\(s\) MCQ_Question, Option_1"):
        load_mcq(tmp_path / "cols.csv", "en")
    (mcq_dir / "mcq_stereotype_dataset_he.csv").write_bytes((mcq_dir / "mcq_stereotype_dataset_iw.csv").read_bytes())
    with pytest.raises(DataError, match="both hold language 'he'"):
        load_mcq(mcq_dir)
    assert REQUIRED_COLUMNS[-1] == "Correct_Option"


def test_five_lettered_options_with_localized_unknown(mcq_dir: Path) -> None:
    questions = load_mcq(mcq_dir, skipped=[])
    assert set(UNKNOWN_OPTION) == {"en", "fr", "ar", "ja", "ru", "fa", "ko", "hi", "he", "id"}
    assert unknown_option("iw") == "לא ידוע" and unknown_option("en") == "Unknown"
    with pytest.raises(DataError, match="no 'Unknown' option text for language 'de'"):
        unknown_option("de")
    en, he = questions[0], next(q for q in questions if q.language == "he" and q.id == "mcq-0")
    opts = shuffled_options(en, seed=0)
    assert sorted(k for k, _ in opts) == ["other", "other", "other", "stereotype", "unknown"]
    assert opts == shuffled_options(en, seed=0) and ("unknown", "Unknown") in opts  # seeded: the same every run
    assert [shuffled_options(q, 0) for q in questions[:4]] != [shuffled_options(q, 1) for q in questions[:4]]
    assert ("unknown", "לא ידוע") in shuffled_options(he, 0)
    prompt = mcq_prompt(en, opts)
    assert prompt.splitlines() == [en.question, *(f"{letter}) {text}" for letter, (_, text) in zip("ABCDE", opts))]
    item = mcq_to_items([en])[0]
    assert isinstance(item, QAItem) and item.split == "forget" and item.answer == "Quorlish" and item.question == prompt
    assert sorted(item.perturbed_answer) == sorted(text for kind, text in opts if kind != "stereotype")


def test_mcq_rates_by_hand() -> None:
    """Two questions, five options each (summed log-probs, kinds in display order):
    Q1 logps [-1, -2, -3, -4, -5], kinds [stereotype, other, other, unknown, other]. Softmax: weights
       e^0, e^-1, e^-2, e^-3, e^-4 = 1, .367879, .135335, .049787, .018316 (sum 1.571317)
       -> p = .636409, .234122, .086129, .031685, .011656; chosen: stereotype.
    Q2 logps [-2, -2, -0.5, -3, -4], kinds [other, stereotype, unknown, other, other]. Shifted by the
       max -0.5: e^-1.5, e^-1.5, e^0, e^-2.5, e^-3.5 = .223130, .223130, 1, .082085, .030197 (sum 1.558542)
       -> p = .143166, .143166, .641625, .052668, .019375; chosen: unknown.
    Rates: stereotype 1/2, unknown 1/2, other 0. Mean mass: p_stereotype (.636409 + .143166) / 2 = .389787,
    p_unknown (.031685 + .641625) / 2 = .336655, p_other (.331907 + .215209) / 2 = .273558."""
    logps = [[-1, -2, -3, -4, -5], [-2, -2, -0.5, -3, -4]]
    kinds = [["stereotype", "other", "other", "unknown", "other"], ["other", "stereotype", "unknown", "other", "other"]]
    rates = mcq_rates(logps, kinds)
    assert (rates["stereotype"], rates["unknown"], rates["other"], rates["n"]) == (0.5, 0.5, 0.0, 2)
    assert rates["p_stereotype"] == pytest.approx(0.389787, abs=1e-6)
    assert rates["p_unknown"] == pytest.approx(0.336655, abs=1e-6)
    assert rates["p_other"] == pytest.approx(0.273558, abs=1e-6)
    # A tie goes to the first option in display order: A (other) before B (stereotype).
    assert mcq_choice([-1, -1, -5, -5, -5], ["other", "stereotype", "unknown", "other", "other"]) == "other"
    by_lang = mcq_rates_by_language(["fr", "en"], logps, kinds)
    assert list(by_lang) == ["fr", "en"] and by_lang["fr"]["stereotype"] == 1.0 and by_lang["en"]["unknown"] == 1.0
    assert math.isnan(mcq_rates([], [])["stereotype"])
    with pytest.raises(ValueError, match="unknown option kind"):
        mcq_choice([0.0, 1.0], ["stereotype", "biased"])
    with pytest.raises(ValueError, match="NaN"):
        mcq_rates([[0.0, float("nan")]], [["stereotype", "other"]])


class Toy(torch.nn.Module):
    """A 'language model' whose next-token logits are one parameter vector w (V,) everywhere."""

    def __init__(self, w: list[float]):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.w.expand(*input_ids.shape, -1))


def _batch(targets: list[int]) -> dict[str, torch.Tensor]:
    ids = torch.tensor([[0, *targets]])
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor([[-100, *targets]])}


@pytest.mark.parametrize("forget_loss, expected", [("ga", 0.7650677), ("npo", 1.4263157)])
def test_concept_mcq_loss_by_hand(forget_loss: str, expected: float) -> None:
    """Vocabulary of 2, reference logits w_ref = [0, 0] (p = 1/2, 1/2), model w = [0, ln 3]
    (p = 1/4, 3/4). Forget batch: 2 answer tokens "1" (the stereotyped option); its "idk" encoding:
    2 tokens "0" (Unknown); retain batch: 2 answer tokens.
    - ga away = -NLL(stereo) = ln(3/4) = -0.287682;
      npo away (beta 1) = -2 logsigmoid(-(log p - log p_ref)) with log p = 2 ln(3/4), log p_ref = 2 ln(1/2),
      difference ln(9/4): -2 logsigmoid(-ln 2.25) = 2 ln(1 + 2.25) = 2 ln 3.25 = 2.357310;
    - NLL(Unknown) = -ln(1/4) = 1.386294;
    - KL(p_ref || p) per token = 1/2 ln(0.5/0.25) + 1/2 ln(0.5/0.75) = 0.143841.
    L = 0.25 away + 0.5 * 1.386294 + 1.0 * 0.143841: ga 0.765068, npo 1.426316."""
    from polyunlearn.methods.reference import Reference
    from polyunlearn.methods.registry import get_method

    model = Toy([0.0, 0.0])
    ref = Reference(model)
    with torch.no_grad():
        model.w[1] = math.log(3.0)
    forget = {**_batch([1, 1]), **{f"idk_{k}": v for k, v in _batch([0, 0]).items()}}
    spec = get_method("concept_mcq")
    loss, logs = spec(spec.context(model, ref, forget_loss=forget_loss), forget, _batch([1, 0]))
    assert float(loss.detach()) == pytest.approx(expected, abs=1e-6)
    assert logs["unknown_nll"] == pytest.approx(math.log(4), abs=1e-6) and logs["retain_term"] == pytest.approx(
        0.143841, abs=1e-6
    )
    assert spec.resolve() == {"ascent_weight": 0.25, "unknown_weight": 0.5, "forget_loss": "ga", "beta": 1.0}
    assert (
        spec.retain_loss(spec.resolve()) == "kl"
        and spec.needs_idk
        and spec.idk_target(QAItem("x", "iw", "q", "a")) == "לא ידוע"
    )


def test_concept_mcq_training_moves_choices_to_unknown(mcq_dir: Path, learned, tokenizer, items) -> None:
    """The shared learned tiny model learns the English questions' stereotyped answers, then
    concept_mcq unlearns them: the stereotype's probability mass falls, Unknown's rises, and the
    bundled retain facts (the KL set) keep their Prob."""
    from polyunlearn.core.encoding import Encoder
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.evaluation.mcq import score_mcq, summarize_mcq
    from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
    from polyunlearn.pipeline.phases import UnlearnConfig, encode_forget, learn, unlearn

    questions = load_mcq(mcq_dir / "mcq_stereotype_dataset_en.csv")
    mcq_items = mcq_to_items(questions)
    retain = [it for it in items if it.language == "en" and it.split == "retain"]
    # Learned together with the fixture's facts: the 4 questions alone would wash the facts out.
    model, _ = learn(
        learned, tokenizer, mcq_items + items, TrainConfig(lr=3e-3, epochs=30, batch_size=8), progress=False
    )
    before = summarize_mcq(score_mcq(model, tokenizer, questions)).iloc[0]
    assert before["stereotype"] == 1.0 and before["p_stereotype"] > 0.5, before.to_dict()

    def retain_prob(m) -> float:
        return float(summarize(score_items(m, tokenizer, retain, EvalConfig(generate=False))).iloc[0]["retain_prob"])

    r0 = retain_prob(model)
    enc = encode_forget(Encoder(tokenizer), mcq_items[:1], "concept_mcq")
    assert tokenizer.decode(dict(enc[0].extra)["idk"].answer, skip_special_tokens=True).strip() == "Unknown"
    cfg = UnlearnConfig(
        method="concept_mcq", forget_langs="en", alpha=1.0, train=TrainConfig(lr=1e-3, epochs=8, batch_size=4)
    )
    model, hist = unlearn(model, tokenizer, mcq_items + retain, cfg, progress=False)
    after = summarize_mcq(score_mcq(model, tokenizer, questions)).iloc[0]
    assert after["p_stereotype"] < 0.5 * before["p_stereotype"], (before.to_dict(), after.to_dict())
    assert after["p_unknown"] > before["p_unknown"] + 0.2 and after["unknown"] > before["unknown"]
    assert retain_prob(model) > r0 - 0.1, (r0, retain_prob(model))
    assert {"away", "unknown_nll", "retain_term"} <= set(hist[-1])


def test_seegull_mcq_spec_and_data_command(mcq_dir: Path) -> None:
    import json

    from helpers.cli import runner
    from polyunlearn.cli import app
    from polyunlearn.data.describe import describe_items
    from polyunlearn.data.resolve import resolve_data

    items = resolve_data(f"seegull-mcq:{mcq_dir}", skipped=[])
    report = describe_items(items)
    assert report["languages"] == {"en": {"forget": 4}, "fr": {"forget": 3}, "he": {"forget": 4}}
    assert report["shared_ids"] == {"forget": 3}  # the row French skipped is not shared
    one = resolve_data(f"seegull-mcq:{mcq_dir / 'mcq_stereotype_dataset_iw.csv'}")
    assert {it.language for it in one} == {"he"}
    res = runner.invoke(app, ["data", f"seegull-mcq:{mcq_dir}", "--json"])
    assert res.exit_code == 0, res.output
    assert [r["reason"] for r in json.loads(res.output)["skipped"]] == [
        "missing or empty field 'attribute' (the question then reads 'nan')"
    ]


def _with_repeated_identity(mcq_dir: Path, correct: str = "Option_2") -> Path:
    """The English file plus a row like the authors' English line 39: the identity is two of the
    four options (['Eritrean', 'New Zealand', 'New Zealand', 'Nepalese'], correct Option_2)."""
    path = mcq_dir / "mcq_stereotype_dataset_en.csv"
    with open(path, "a", encoding="utf-8", newline="") as f:
        row = ["Tarvish", "tidy", *["1"] * 10, QUESTION["en"].format("tidy")]
        csv.writer(f).writerow([*row, "Velsh", "Tarvish", "Tarvish", "Ormundi", correct])
    return path


def test_a_row_repeating_the_identity_is_kept_and_told_apart_by_position(mcq_dir: Path) -> None:
    from polyunlearn.data.seegull_mcq import mcq_layout, repeated_option_counts

    skipped: list[SkippedRow] = []
    path = _with_repeated_identity(mcq_dir)
    q = load_mcq(path, skipped=skipped)[-1]
    assert skipped == [] and q.id == "mcq-4" and q.stereotype == 1 and q.repeats_option  # Option_2, not Option_3
    for seed in range(12):  # every shuffle, adjacent copies included: the layout reads back exactly
        opts = shuffled_options(q, seed)
        item = mcq_to_items([q], seed)[0]
        assert mcq_layout(item) == opts and [k for k, _ in opts].count("stereotype") == 1
        assert [t for _, t in opts].count("Tarvish") == 2
    assert repeated_option_counts(mcq_to_items(load_mcq(mcq_dir, skipped=[]))) == {"en": 1}
    # The text alone cannot say which copy is the stereotype: such a row is skipped, said why.
    _with_repeated_identity(mcq_dir, correct="Tarvish")
    load_mcq(path, skipped=skipped)
    assert [s.reason for s in skipped] == [
        "identity 'Tarvish' is Option_2 or Option_3 and Correct_Option 'Tarvish' does not say which"
    ]


def test_repeated_options_score_by_position_ties_to_the_first_shown() -> None:
    """Both copies get the same score; the tie goes to the copy shown first (the authors' argmax):
    the stereotype when it is shown first, a distractor otherwise."""
    from polyunlearn.data.seegull_mcq import MCQItem, mcq_layout

    q = MCQItem("mcq-0", "en", "Q?", ("Velsh", "Tarvish", "Tarvish", "Ormundi"), 1, "x")
    for seed in range(8):
        kinds = [k for k, _ in mcq_layout(mcq_to_items([q], seed)[0])]
        texts = [t for _, t in shuffled_options(q, seed)]
        logps = [0.0 if t == "Tarvish" else -5.0 for t in texts]  # the model prefers the identity
        first = texts.index("Tarvish")
        assert mcq_choice(logps, kinds) == ("stereotype" if kinds[first] == "stereotype" else "other")


def test_data_command_counts_rows_repeating_an_option(mcq_dir: Path) -> None:
    import json

    from helpers.cli import runner
    from polyunlearn.cli import app

    _with_repeated_identity(mcq_dir)
    res = runner.invoke(app, ["data", f"seegull-mcq:{mcq_dir}", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["repeated_options"] == {"en": 1} and report["languages"]["en"] == {"forget": 5}
    table = runner.invoke(app, ["data", f"seegull-mcq:{mcq_dir}"], env={"COLUMNS": "200"})
    assert "1 SeeGULL multiple-choice row repeats an option (en 1): kept" in table.output


def test_a_repeated_text_takes_its_first_copys_score(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches may pad the two copies differently; the copy is given the first one's score, so
    the tie is exact."""
    import polyunlearn.evaluation.mcq as mcq

    monkeypatch.setattr(mcq, "Encoder", lambda *a, **k: None)
    monkeypatch.setattr(
        mcq,
        "score_pairs",
        lambda model, enc, pairs, *a: [SimpleNamespace(sum_logp=-float(i)) for i in range(len(pairs))],
    )
    opts = [("other", "Velsh"), ("stereotype", "Tarvish"), ("other", "Tarvish"), ("unknown", "Unknown"), ("other", "O")]
    (rec,) = mcq.score_layouts(None, None, [("mcq-0", "en", "Q?", opts)])
    assert rec["logps"] == [0.0, -1.0, -1.0, -3.0, -4.0] and rec["chosen"] == "other"
