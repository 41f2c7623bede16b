"""The authors' own data layouts, written in-process: the Multilingual Amnesia translated TOFU
(one `save_to_disk` folder per config and language, Hebrew as `iw`), plain Arrow files, combined
`--data` specs, legacy language codes, per-language ids, the training-only splits (learn on
forget01 + retain99, evaluate forget01_perturbed + retain_perturbed), `polyunlearn data`, and
load -> learn -> unlearn -> eval on the tiny model in every language."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from helpers.amnesia import N_FORGET, N_GENERAL, N_RETAIN, N_RETAIN_EVAL, _save, write_amnesia
from helpers.cli import runner
from polyunlearn.cli import app
from polyunlearn.core.languages import UnknownLanguageError, get_language, parse_langs
from polyunlearn.data.describe import describe_items
from polyunlearn.data.loaders import load_items
from polyunlearn.data.resolve import resolve_data, split_specs
from polyunlearn.data.schema import DataError, QAItem, SkippedRowsWarning, evaluated, trainable
from polyunlearn.data.tofu import CONFIG_SPLIT, load_tofu_folders

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()


@pytest.fixture(scope="module")
def amnesia(tmp_path_factory) -> Path:
    return write_amnesia(tmp_path_factory.mktemp("amnesia"))


def test_amnesia_layout_loads_every_language_with_parallel_ids(amnesia: Path) -> None:
    items = resolve_data(f"tofu:{amnesia}:forget01")
    report = describe_items(items)
    per_lang = {
        "forget": N_FORGET,
        "retain": N_RETAIN_EVAL,
        "real_authors": N_GENERAL,
        "world_facts": N_GENERAL,
        "forget_train": N_FORGET,
        "retain_train": N_RETAIN,
    }
    assert report["languages"] == {lang: per_lang for lang in ("ar", "fr", "he")}  # iw is read as he
    assert report["shared_ids"] == per_lang  # every id in every language
    # real_authors / world_facts have no paraphrased_answer: reported, not silently filled in.
    assert report["missing_optional"]["he"] == {
        "real_authors": {"paraphrased_answer": N_GENERAL},
        "world_facts": {"paraphrased_answer": N_GENERAL},
    }
    he = [it for it in items if it.language == "he"]
    by_split = {s: [it for it in he if it.split == s] for s in per_lang}
    assert [it.id for it in by_split["forget_train"]] == [f"tofu-forget01-train:{i}" for i in range(N_FORGET)]
    assert [it.id for it in by_split["forget"]] == [f"tofu-forget01:{i}" for i in range(N_FORGET)]
    assert by_split["forget_train"][1].question.startswith("a ") and by_split["forget"][1].question.startswith("b ")
    assert len(by_split["forget"][0].perturbed_answer) == 5 and by_split["forget"][0].paraphrased_answer
    assert {CONFIG_SPLIT[c] for c in ("forget01", "retain99", "forget01_perturbed", "retain_perturbed")} == {
        "forget_train",
        "retain_train",
        "forget",
        "retain",
    }


def test_training_only_splits_train_but_are_never_evaluated(amnesia: Path) -> None:
    items = load_tofu_folders(amnesia, "forget01")
    train = trainable(items)
    # TOFU's protocol: learn forget01 + retain99 (= full); never the general sets nor the eval copies.
    assert {it.split for it in train} == {"forget_train", "retain_train"} and len(train) == 3 * (N_FORGET + N_RETAIN)
    assert {it.split for it in evaluated(items)} == {"forget", "retain", "real_authors", "world_facts"}
    # A language without training copies keeps the old rule (all but holdout).
    bundled_like = [QAItem("x", "en", "q?", "a.", split="forget"), QAItem("y", "en", "q2?", "b.", split="general")]
    assert trainable(items + bundled_like)[-2:] == bundled_like


def test_amnesia_layout_errors(amnesia: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("forget01_perturbed_fr", "forget01_perturbed_ja", "retain_perturbed_fr"):
        (broken / name).symlink_to(amnesia / name.replace("_ja", "_fr"), target_is_directory=True)
    with pytest.raises(
        DataError, match=r"retain_perturbed_<lang> is missing for ja \(present for the other languages\)"
    ):
        resolve_data(f"tofu:{broken}:forget01")
    (broken / "forget01_xx").mkdir()
    with pytest.raises(DataError, match=r"forget01_xx: language suffix 'xx' of a TOFU config folder"):
        resolve_data(f"tofu:{broken}:forget01")
    with pytest.raises(DataError, match=r"no forget05_<lang> or forget05_perturbed_<lang> folder"):
        resolve_data(f"tofu:{amnesia}:forget05")


def test_combined_specs_and_language_filter(amnesia: Path, tmp_path: Path) -> None:
    en = [QAItem(f"tofu-forget01:{i}", "en", f"q{i}?", f"a{i}.", split="forget") for i in range(N_FORGET)]
    path = tmp_path / "en.jsonl"
    path.write_text("".join(json.dumps(it.to_dict()) + "\n" for it in en), encoding="utf-8")
    items = resolve_data(f"{path} + tofu:{amnesia}:forget01", "en,iw")
    assert sorted({it.language for it in items}) == ["en", "he"]
    assert describe_items(items)["shared_ids"]["forget"] == N_FORGET  # English ids match the translations'
    assert split_specs("a + b +  c") == ["a", "b", "c"] and split_specs("dir+with+plus") == ["dir+with+plus"]
    with pytest.raises(DataError, match="is in both"):
        resolve_data(f"{path} + {path}")
    with pytest.raises(DataError, match=r"file not found: .*\(to combine specs, separate them with ' \+ '"):
        resolve_data(f"{path}+{path}")
    with pytest.raises(DataError, match="empty part"):
        resolve_data(f"{path} + ")


def test_arrow_file_and_dataset_folder(tmp_path: Path) -> None:
    ds = datasets.Dataset.from_list(
        [{"question": f"q{i}?", "answer": f"a{i}.", "language": lang} for lang in ("en", "in") for i in range(2)]
    )
    ds.save_to_disk(str(tmp_path / "plain"))  # a Dataset (not a DatasetDict) folder
    arrow = next((tmp_path / "plain").glob("*.arrow"))
    for source in (arrow, tmp_path / "plain"):
        items = load_items(source)
        assert [(it.language, it.id) for it in items] == [
            ("en", "0"),
            ("en", "1"),
            ("id", "0"),
            ("id", "1"),
        ]  # in -> id, ids per language
    with pytest.raises(DataError, match="no split 'test' in this DatasetDict"):
        _save(tmp_path / "dd", [{"question": "q", "answer": "a", "language": "en"}])
        load_items(tmp_path / "dd", hf_split="test")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(DataError, match="is a directory but not a `save_to_disk` folder"):
        load_items(tmp_path / "empty_dir")


def test_language_aliases_and_suggestions() -> None:
    assert [get_language(c).code for c in ("iw", "in", "jw", "HE")] == ["he", "id", "jv", "he"]
    assert parse_langs("iw,en", ["en", "he"]) == ["he", "en"]
    with pytest.raises(UnknownLanguageError, match=r"unknown language code 'french'; did you mean 'fr' \(French\)\?"):
        get_language("french")
    with pytest.raises(UnknownLanguageError, match=r"'jpn'; did you mean 'ja' \(Japanese\)"):
        parse_langs("en,jpn")


def test_local_tofu_files_without_language_are_an_error(tmp_path: Path) -> None:
    d = tmp_path / "tofu"
    d.mkdir()
    for config in ("forget01_perturbed", "retain_perturbed", "real_authors_perturbed", "world_facts_perturbed"):
        (d / f"{config}.jsonl").write_text(json.dumps({"question": "q?", "answer": "a."}) + "\n", encoding="utf-8")
    with pytest.raises(
        DataError, match=r"no 'language' column and no language given; name it \(tofu:DIR:FORGET:LANG\)"
    ):
        resolve_data(f"tofu:{d}:forget01")
    assert {it.language for it in resolve_data(f"tofu:{d}:forget01:iw")} == {"he"}


def test_data_command_json_and_table(amnesia: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,language\nq0,a0,fr\nq1,,fr\nq2,a2,fr\n", encoding="utf-8")
    res = runner.invoke(app, ["data", str(bad), "--json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["languages"] == {"fr": {"retain": 2}} and report["shared_ids"] == {"retain": 2}
    assert report["skipped"] == [{"where": f"{bad}: line 3", "reason": "missing or empty field 'answer'"}]
    assert report["missing_optional"] == {"fr": {"retain": {"paraphrased_answer": 2, "perturbed_answer": 2}}}
    strict = runner.invoke(app, ["data", str(bad), "--strict"])
    assert strict.exit_code == 2 and "line 3: missing or empty field 'answer'" in strict.output
    table = runner.invoke(app, ["data", f"tofu:{amnesia}:forget01", "--langs", "iw,fr"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "shared ids" in table.output and "forget_train" in table.output
    assert "without paraphrased_answer" in table.output


def test_skipped_rows_warn_outside_the_cli(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"question": "q", "answer": "a", "language": "en"}\n{"question": "", "answer": "b", "language": "en"}\n',
        encoding="utf-8",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(resolve_data(str(bad))) == 1
    assert [w.category for w in caught] == [SkippedRowsWarning] and "line 2" in str(caught[0].message)


def test_load_learn_unlearn_eval_in_every_language(amnesia: Path, tmp_path: Path) -> None:
    """End to end on the tiny model: learn forget01 + retain99 of three languages, unlearn French
    forget01 (GradDiff with retain99 as retain set), evaluate: every language is in the summary,
    no training-only item is scored, and French forget Prob falls."""
    from polyunlearn.core.models import build_tiny_model, train_tokenizer
    from polyunlearn.core.trainloop import TrainConfig
    from polyunlearn.evaluation.records import EvalConfig
    from polyunlearn.pipeline.phases import UnlearnConfig, evaluate_to, item_texts, learn, unlearn, unlearn_sets

    items = resolve_data(f"tofu:{amnesia}:forget01")
    tok = train_tokenizer(item_texts(items), vocab_size=400)
    model, _ = learn(
        build_tiny_model(tok, "llama", seed=0),
        tok,
        items,
        TrainConfig(lr=3e-3, epochs=25, batch_size=12),
        progress=False,
    )
    cfg = EvalConfig(generate=False)
    before, s0 = evaluate_to(tmp_path / "before", model, tok, items, cfg)
    assert sorted(s0["language"]) == ["ar", "fr", "he"]
    assert {r["split"] for r in before} == {"forget", "retain", "real_authors", "world_facts"} and len(before) == 3 * (
        N_FORGET + N_RETAIN_EVAL + 2 * N_GENERAL
    )
    ucfg = UnlearnConfig(
        method="grad_diff", forget_langs="fr", alpha=1.0, train=TrainConfig(lr=1e-3, epochs=6, batch_size=4)
    )
    forget, retain, _ = unlearn_sets(items, ucfg)
    assert {it.split for it in forget} == {"forget_train"} and {it.split for it in retain} == {"retain_train"}
    model, _ = unlearn(model, tok, items, ucfg, progress=False)
    _, s1 = evaluate_to(tmp_path / "after", model, tok, items, cfg)
    fr0, fr1 = (s.set_index("language").loc["fr", "forget_prob"] for s in (s0, s1))
    assert sorted(s1["language"]) == ["ar", "fr", "he"] and fr1 < 0.5 * fr0, (fr0, fr1)


def test_language_suffix_loads_that_language_only_in_every_layout(amnesia: Path, translated_tofu_dir: Path) -> None:
    """`tofu:DIR:FORGET:LANG` means "only LANG" for the Amnesia folders and TOFU's own layout."""
    for suffix, expected in (("fr", "fr"), ("iw", "he"), ("he", "he")):
        res = runner.invoke(app, ["data", f"tofu:{amnesia}:forget01:{suffix}", "--json"], catch_exceptions=False)
        assert res.exit_code == 0, res.output
        assert list(json.loads(res.output)["languages"]) == [expected]
    assert {it.language for it in resolve_data(f"tofu:{translated_tofu_dir}:forget05:fr")} == {"fr"}
    with pytest.raises(DataError, match=r"no rows in language 'ja'; languages here: en, fr"):
        resolve_data(f"tofu:{translated_tofu_dir}:forget05:ja")
    with pytest.raises(DataError, match=r"no forget01 folders in language 'ja'; languages here: ar, fr, he"):
        resolve_data(f"tofu:{amnesia}:forget01:ja")
    # An unknown code is said as one (with a suggestion), not read as part of the folder's name.
    res = runner.invoke(app, ["data", f"tofu:{amnesia}:forget01:fre"])
    assert res.exit_code == 2 and "unknown language code 'fre'" in res.output and "did you mean 'fr'" in res.output
    assert "folder not found" not in res.output


def test_data_command_honours_strict_data_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("question,answer,language\nq0,a0,fr\nq1,,fr\n", encoding="utf-8")
    res = runner.invoke(app, ["data", str(bad)], env={"POLYUNLEARN_STRICT_DATA": "1"})
    assert res.exit_code == 2 and "line 3: missing or empty field 'answer'" in res.output
    assert runner.invoke(app, ["data", str(bad)], env={"POLYUNLEARN_STRICT_DATA": ""}).exit_code == 0


def test_data_command_says_general_splits_get_a_truth_ratio(amnesia: Path) -> None:
    res = runner.invoke(app, ["data", f"tofu:{amnesia}:forget01:fr"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("fr real_authors"))
    assert "without paraphrased_answer" in line and "compares the answer itself" in line
    assert "needs both" not in res.output


@pytest.fixture()
def translated_tofu_dir(tmp_path: Path) -> Path:
    """TOFU's own layout with a `language` column holding en and fr rows."""
    d = tmp_path / "tofu_en_fr"
    d.mkdir()
    for config in ("forget05_perturbed", "retain_perturbed", "real_authors_perturbed", "world_facts_perturbed"):
        rows = [{"question": f"{config} {lang}?", "answer": f"a {lang}.", "language": lang} for lang in ("en", "fr")]
        (d / f"{config}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return d


def test_forget_sets_the_data_lacks_are_refused_before_any_model(amnesia: Path, tmp_path: Path) -> None:
    """The demos' default forget sets 'en;all' on the authors' folders (no English): refused with
    the option, the languages present and a value that works, before any tokenizer or model
    (nothing is written); likewise unlearn's --forget-langs / --retain-langs (no model exists)."""
    data = f"tofu:{amnesia}:forget01"
    for command in ("demo", "concept-demo"):
        out = tmp_path / command
        res = runner.invoke(app, [command, "--data", data, "--out", str(out)], env={"COLUMNS": "300"})
        assert res.exit_code == 2, res.output
        assert "--forget-sets 'en;all': language 'en' is not available here; available: ar, fr, he" in res.output
        assert "e.g. --forget-sets 'ar;all'" in res.output and not out.exists()
    for option in ("--forget-langs", "--retain-langs"):
        args = ["unlearn", "--model", str(tmp_path / "none"), "--data", data, "--out", str(tmp_path / "u")]
        res = runner.invoke(app, [*args, "--forget-langs", "fr", option, "en"], env={"COLUMNS": "300"})
        assert res.exit_code == 2 and f"{option} 'en': language 'en' is not available here" in res.output


def test_study_a_refuses_forget_sets_and_fake_languages_the_data_lacks(tmp_path: Path) -> None:
    args = ["study-a", "--languages", "de,fr", "--out", str(tmp_path / "sa")]
    res = runner.invoke(app, [*args, "--fake-lang", "fr"], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "--forget-sets 'en;source;en+source;all' (fake language fr)" in res.output
    assert "e.g. --forget-sets 'de;source;de+source;all'" in res.output
    res = runner.invoke(app, [*args, "--fake-lang", "ru"], env={"COLUMNS": "300"})
    assert res.exit_code == 2 and "--fake-langs 'ru': language 'ru' is not available here" in res.output
    assert not (tmp_path / "sa").exists()
