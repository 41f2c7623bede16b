"""The run contract, as a user meets it on the command line: a rerun never reuses a result made
with other settings (it names each differing field), bad input fails early in one line with exit
code 2 (before any model loads), a folder is used by one process at a time, a missing optional
field is reported instead of silently replaced, and every run folder follows one layout.

Each case here was a silent wrong result, a traceback or an unclear error before the run-folder
module existed (issue "Run contract")."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import pandas as pd
import pytest

from helpers.cli import invoke
from polyunlearn.core.atomic import strict_json
from polyunlearn.core.models import save_model
from polyunlearn.core.rundir import check_run_folder, lock_folder, run_folders


@pytest.fixture(scope="module")
def files(learned_folder):
    """Items (en + fr slice), the same without paraphrases / without a retain split, and the
    shared learned tiny model saved as a plain model folder and as a `learn` run."""
    from helpers.items import small_items

    root = learned_folder("contract")
    items = small_items()
    rows = [it.to_dict() for it in items]
    (root / "no_paraphrase.jsonl").write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "paraphrased_answer"}) + "\n" for r in rows)
    )
    (root / "no_retain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r["split"] != "retain"))
    code, text = invoke(
        "learn",
        "--model",
        "tiny",
        "--data",
        root / "items.jsonl",
        "--langs",
        "en",
        "--epochs",
        1,
        "--batch-size",
        16,
        "--no-evaluate",
        "--vocab-size",
        600,
        "--out",
        root / "learn_en",
    )
    assert code == 0, text
    return root


def unlearn_args(files: Path, out: Path, *extra) -> list:
    return [
        "unlearn",
        "--model",
        files / "learned",
        "--data",
        files / "items.jsonl",
        "--forget-langs",
        "en",
        "--epochs",
        1,
        "--batch-size",
        5,
        "--lr",
        1e-3,
        "--no-evaluate",
        "--out",
        out,
        *extra,
    ]


# ----------------------------------------------------------------------------- reruns


def test_rerun_with_other_method_or_languages_is_refused_and_names_the_fields(files, tmp_path):
    out = tmp_path / "u"
    assert invoke(*unlearn_args(files, out, "--method", "npo"))[0] == 0
    code, text = invoke(*unlearn_args(files, out, "--method", "grad_diff"))
    assert code == 2 and "unlearn.method: 'npo' -> 'grad_diff'" in text and "--overwrite" in text
    code, text = invoke(*[a if a != "en" else "fr" for a in unlearn_args(files, out, "--method", "npo")])
    assert code == 2 and "unlearn.forget_langs: 'en' -> 'fr'" in text
    code, text = invoke(*unlearn_args(files, out, "--method", "npo", "--alpha", 2))
    assert code == 2 and "unlearn.alpha: 1.0 -> 2.0" in text
    # The same settings: reused (nothing trained); --overwrite: redone with the new ones.
    weights = (out / "model" / "model.safetensors").read_bytes()
    code, text = invoke(*unlearn_args(files, out, "--method", "npo"))
    assert code == 0 and "skipping" in text
    code, text = invoke(*unlearn_args(files, out, "--method", "grad_diff", "--overwrite"))
    assert code == 0 and "skipping" not in text
    assert (out / "model" / "model.safetensors").read_bytes() != weights
    assert json.loads((out / "run.json").read_text())["identity"]["unlearn"]["method"] == "grad_diff"
    assert check_run_folder(out) == [] and not (out / "ckpt").exists()


def test_retain_only_rerun_is_refused(files, tmp_path):
    out = tmp_path / "l"
    args = [
        "learn",
        "--model",
        "tiny",
        "--data",
        files / "items.jsonl",
        "--epochs",
        1,
        "--batch-size",
        16,
        "--no-evaluate",
        "--vocab-size",
        600,
        "--out",
        out,
    ]
    assert invoke(*args)[0] == 0
    code, text = invoke(*args, "--retain-only")
    assert code == 2 and "retain_only: false -> true" in text


def test_changed_data_file_is_other_data(files, tmp_path):
    data = tmp_path / "items.jsonl"
    data.write_text((files / "items.jsonl").read_text())
    out = tmp_path / "u"
    args = [
        "unlearn",
        "--model",
        files / "learned",
        "--data",
        data,
        "--forget-langs",
        "en",
        "--epochs",
        1,
        "--batch-size",
        5,
        "--no-evaluate",
        "--out",
        out,
    ]
    assert invoke(*args)[0] == 0
    rows = data.read_text().splitlines()
    first = json.loads(rows[0]) | {"answer": "Something else entirely."}
    data.write_text("\n".join([json.dumps(first), *rows[1:]]) + "\n")
    code, text = invoke(*args)
    assert code == 2 and "data:" in text and "other settings" in text


def test_unlearn_defaults_to_the_languages_the_model_learned(files, tmp_path):
    code, text = invoke(
        "unlearn",
        "--model",
        files / "learn_en" / "model",
        "--data",
        files / "items.jsonl",
        "--forget-langs",
        "en",
        "--epochs",
        1,
        "--batch-size",
        5,
        "--out",
        tmp_path / "u",
        "--no-evaluate",
    )
    assert code == 0, text
    assert "languages: en (those the model learned" in text
    assert json.loads((tmp_path / "u" / "run.json").read_text())["identity"]["data"]  # identified by content


def test_second_process_on_a_locked_folder_gets_one_line(files, tmp_path):
    out = tmp_path / "busy"
    out.mkdir()
    ready, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_lock, args=(out, ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        code, text = invoke(*unlearn_args(files, out))
        assert code == 2 and f"{out} is in use by pid {holder.pid}" in text
    finally:
        release.set()
        holder.join(30)
    assert invoke(*unlearn_args(files, out))[0] == 0  # released with the process


def _hold_lock(out: Path, ready, release) -> None:
    fd = lock_folder(out)
    ready.set()
    release.wait(60)
    os.close(fd)


# ----------------------------------------------------------------------------- missing fields


def test_missing_paraphrase_is_reported_not_replaced(files, tmp_path):
    code, text = invoke(
        "eval",
        "--model",
        files / "learned",
        "--data",
        files / "no_paraphrase.jsonl",
        "--no-generate",
        "--out",
        tmp_path / "e",
    )
    assert code == 0, text
    summary = pd.read_csv(tmp_path / "e" / "summary.csv").set_index("language")
    assert (
        "forget_truth_ratio_score" not in summary and "model_utility" not in summary
    )  # not computed against the answer
    assert "forget truth ratio: 10 of 10 items have no paraphrased_answer" in summary.loc["en", "unavailable"]
    assert (
        "unavailable (en): retain truth ratio: 20 of 20 items have no paraphrased_answer; forget truth ratio: 10 of 10"
        in text
    )
    assert summary.loc["en", "forget_prob"] > 0.5  # what does not need the field is still there


def test_no_retain_split_refuses_a_method_with_a_retain_term(files, tmp_path):
    code, text = invoke(
        *[
            a if a != files / "items.jsonl" else files / "no_retain.jsonl"
            for a in unlearn_args(files, tmp_path / "u", "--method", "grad_diff")
        ]
    )
    assert code == 2 and "no retain items" in text and "--alpha 0" in text
    code, text = invoke(
        *[
            a if a != files / "items.jsonl" else files / "no_retain.jsonl"
            for a in unlearn_args(files, tmp_path / "u", "--method", "grad_diff", "--alpha", 0)
        ]
    )
    assert code == 0, text
    code, text = invoke(*unlearn_args(files, tmp_path / "ga", "--method", "grad_ascent", "--alpha", 3))
    assert code == 2 and "alpha does not apply to method 'grad_ascent'" in text


# ----------------------------------------------------------------------------- bad input, before any model loads


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lr", "nan"], "lr must be a finite number"),
        (["--lr", "0"], "lr must be > 0"),
        (["--gamma", "-1"], "gamma must be >= 0"),
        (["--alpha", "inf"], "alpha must be a finite number"),
        (["--retain-loss", "mse"], "retain_loss is 'mse'; choose from nll, kl"),
        (["--method", "rmu", "--rmu-layer", "7"], "rmu_layer 7 out of range for a model with 2 layers"),
        (["--delta", "1"], "delta does not apply to method 'npo'"),
        (["--epochs", "0"], "epochs must be >= 1"),
        (["--baseline", "/nonexistent/eval"], "--baseline /nonexistent/eval is not an evaluation folder"),
        (["--retain-eval", "/nonexistent/eval"], "--retain-eval /nonexistent/eval is not an evaluation folder"),
        (["--forget-langs", "xx"], "unknown language code 'xx'"),
    ],
)
def test_bad_unlearn_input_fails_before_the_model_loads(files, tmp_path, monkeypatch, extra, message):
    import polyunlearn.core.models as models

    monkeypatch.setattr(
        models, "load_model", lambda *a, **k: pytest.fail("the model was loaded before the input was checked")
    )
    code, text = invoke(*unlearn_args(files, tmp_path / "u"), *extra)
    assert code == 2 and message in text, text
    assert "Traceback" not in text


def test_output_path_problems_are_one_line(files, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    code, text = invoke(
        "eval", "--model", files / "learned", "--data", files / "items.jsonl", "--no-generate", "--out", blocker
    )
    assert code == 2 and f"output path {blocker} is a file" in text
    # /proc is a read-only place even for root: discovered before the evaluation, not after it.
    import polyunlearn.evaluation.records as records

    monkeypatch.setattr(records, "score_items", lambda *a, **k: pytest.fail("evaluated into a folder it cannot write"))
    code, text = invoke(
        "eval",
        "--model",
        files / "learned",
        "--data",
        files / "items.jsonl",
        "--no-generate",
        "--out",
        "/proc/polyunlearn_out",
    )
    assert code == 2 and "/proc/polyunlearn_out" in text and "Traceback" not in text


def test_full_disk_while_writing_results_is_one_line(files, tmp_path, monkeypatch):
    import errno

    import polyunlearn.core.atomic as atomic

    real = atomic.os.replace

    def full(src, dst):
        if str(dst).endswith("items.jsonl"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", full)
    code, text = invoke(
        "eval", "--model", files / "learned", "--data", files / "items.jsonl", "--no-generate", "--out", tmp_path / "e"
    )
    assert code == 2 and "could not write" in text and "items.jsonl: No space left on device" in text
    assert not list((tmp_path / "e").glob(".*tmp*"))


def test_corrupt_checkpoint_and_trainer_state_name_the_file(files, tmp_path, monkeypatch):
    import polyunlearn.core.trainloop as trainloop

    out = tmp_path / "u"
    real = trainloop._save_checkpoint

    def stop_after_epoch_1(acc, ckpt, epoch, history, cfg):
        real(acc, ckpt, epoch, history, cfg)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainloop, "_save_checkpoint", stop_after_epoch_1)
    assert invoke(*unlearn_args(files, out, "--epochs", 2))[0] == 130
    monkeypatch.setattr(trainloop, "_save_checkpoint", real)
    state = out / "ckpt" / "state"
    (state / "model.safetensors").write_bytes(b"not a safetensors file")
    code, text = invoke(*unlearn_args(files, out, "--epochs", 2))
    assert code == 2 and f"checkpoint {state} cannot be loaded" in text and "--overwrite" in text
    (state / "trainer_state.json").write_text("{ not json")
    code, text = invoke(*unlearn_args(files, out, "--epochs", 2))
    assert code == 2 and f"{state / 'trainer_state.json'}: not valid JSON" in text


def test_tokenizer_model_vocabulary_mismatch_is_one_line(files, tmp_path, tokenizer, _learned):
    from helpers.items import all_texts, small_items
    from polyunlearn.core.models import train_tokenizer

    bigger = train_tokenizer(all_texts(small_items()) + [f"word{i} " * 3 for i in range(3000)], vocab_size=1200)
    assert len(bigger) > _learned.get_input_embeddings().num_embeddings
    save_model(_learned, bigger, tmp_path / "mismatch")
    code, text = invoke(
        "eval",
        "--model",
        tmp_path / "mismatch",
        "--data",
        files / "items.jsonl",
        "--no-generate",
        "--out",
        tmp_path / "e",
    )
    assert code == 2 and "tokenizer has" in text and "embedding has" in text


def test_data_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, text = invoke("eval", "--model", "/nonexistent", "--data", empty, "--out", tmp_path / "e")
    assert code == 2 and f"{empty}: no items" in text
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("question,answer,language,id\nQuelle ann\xe9e ?,1200,fr,1\n".encode("latin-1"))
    code, text = invoke("eval", "--model", "/nonexistent", "--data", latin, "--out", tmp_path / "e")
    assert code == 2 and f"{latin}: not UTF-8 text" in text


# ----------------------------------------------------------------------------- strict JSON, layout


def test_results_are_strict_json(tmp_path):
    from polyunlearn.core.atomic import read_json, write_json, write_jsonl

    write_json(tmp_path / "r.json", {"of": float("nan"), "rows": [1.0, float("inf")]})
    assert strict_json((tmp_path / "r.json").read_text()) == {"of": None, "rows": [1.0, None]}
    write_jsonl(tmp_path / "r.jsonl", [{"x": float("-inf")}])
    assert strict_json((tmp_path / "r.jsonl").read_text()) == {"x": None}
    with pytest.raises(ValueError, match="NaN"):
        strict_json('{"x": NaN}')
    assert read_json(tmp_path / "r.json")["of"] is None


def test_every_run_folder_follows_the_layout(files, tmp_path):
    out = tmp_path / "u"
    code, text = invoke(
        "unlearn",
        "--model",
        files / "learn_en" / "model",
        "--data",
        files / "items.jsonl",
        "--forget-langs",
        "en",
        "--epochs",
        1,
        "--batch-size",
        5,
        "--out",
        out,
        "--baseline",
        files / "learn_en" / "eval",
    )
    assert code == 2 and "is not an evaluation folder" in text  # learn_en ran with --no-evaluate
    for folder in [files / "learn_en", *run_folders(files)]:
        assert check_run_folder(folder) == [], folder
    assert (
        invoke(
            "eval",
            "--model",
            files / "learned",
            "--data",
            files / "items.jsonl",
            "--no-generate",
            "--out",
            tmp_path / "e",
        )[0]
        == 0
    )
    assert check_run_folder(tmp_path / "e") == []
    run = json.loads((tmp_path / "e" / "run.json").read_text())
    assert run["identity"]["kind"] == "eval" and run["identity"]["polyunlearn"] and run["environment"]["torch"]
    assert time.time() - json.loads((tmp_path / "e" / "done.json").read_text())["finished"] < 600


def test_dry_run_checks_everything_and_says_what_would_happen(files, tmp_path, monkeypatch):
    import polyunlearn.core.models as models

    out = tmp_path / "u"
    monkeypatch.setattr(models, "load_tokenizer", lambda *a, **k: pytest.fail("a dry run loaded the tokenizer"))
    code, text = invoke(*unlearn_args(files, out, "--dry-run"))
    assert code == 0 and f"dry run: every input is valid; {out}: new: would run" in text and '"method": "npo"' in text
    assert not out.exists()
    code, text = invoke(*unlearn_args(files, out, "--dry-run", "--lr", "nan"))
    assert code == 2 and "lr must be a finite number" in text
    monkeypatch.undo()
    assert invoke(*unlearn_args(files, out))[0] == 0
    assert "done: would be reused" in invoke(*unlearn_args(files, out, "--dry-run"))[1]
    assert (
        "refused (made with other settings: unlearn.train.epochs: 1 -> 2)"
        in invoke(*unlearn_args(files, out, "--dry-run", "--epochs", 2))[1]
    )


def test_hf_judge_loads_safetensors_only(monkeypatch):
    import transformers

    from polyunlearn.evaluation.judge import HFJudge

    seen = {}

    def capture(name, **kwargs):
        seen.update(kwargs)
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", capture)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: object())
    with pytest.raises(Exception, match="could not load judge model"):
        HFJudge("some/judge")._load()
    assert seen["use_safetensors"] is True and seen["trust_remote_code"] is False
