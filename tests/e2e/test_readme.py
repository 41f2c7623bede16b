"""README.md as a test plan: every `polyunlearn ...` command form README documents (in its bash
blocks, its inline code and the option forms of its command table) is run here, with its
placeholders (DIR, PATH, SPEC, LOGS, $MODEL ...) filled from small local fixtures: the session's
reduced demo (conftest.demo_run), the authors' layouts as the data-layer tests write them, a
two-run grid. Each case checks the exit code and the files or lines README says the command
produces. Forms that need a GPU or a download run with `--dry-run` and must finish offline, in
seconds: every test here runs with outside connections refused.

`test_readme_every_command_form_has_a_case` fails when README documents a form that no case
runs (or a case names a form README no longer has): a new README command comes with its test.

    python -m pytest tests/e2e/test_readme.py -q        # or -k readme
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.cli import cli as runner_cli

README = Path(__file__).resolve().parents[2] / "README.md"
AYA = "CohereLabs/aya-expanse-8b"


# ----------------------------------------------------------------------------- README's forms


def _norm(text: str) -> str:
    return " ".join(text.replace("\\|", "|").split())


def readme_forms(text: str | None = None) -> list[str]:
    """Every command form README documents: the `polyunlearn ...` lines of its bash blocks
    (continuation lines joined, comments skipped), its inline `polyunlearn ...` code, and the
    option forms (`... --dry-run`, `--log-with ...`) of the command table's first column."""
    text = README.read_text(encoding="utf-8") if text is None else text
    forms = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip())  # a trailing shell comment
            found = re.search(r"(?:^|[\s;&/])(polyunlearn [a-z-].*)$", line)
            if found and not line.startswith("#"):
                forms.append(_norm(found.group(1)))
    forms += [_norm(s) for s in re.findall(r"`([^`\n]+)`", text) if s.startswith("polyunlearn ")]
    table = text.split("\n## Commands", 1)[1].split("\n## ", 1)[0]
    for row in table.splitlines():
        if row.startswith("| `"):
            first = re.split(r"(?<!\\)\|", row)[1]
            forms += [_norm(s) for s in re.findall(r"`([^`]+)`", first) if s.startswith(("...", "--"))]
    return sorted(set(forms))


# ----------------------------------------------------------------------------- running commands

_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


@pytest.fixture(scope="module", autouse=True)
def no_network():
    """Every connection outside this machine fails at once (as in CI, but without a timeout):
    a README command that reaches for the network fails its test instead of hanging."""

    def refuse(host: object) -> None:
        if isinstance(host, str) and not host.startswith(_LOCAL):
            raise OSError(f"no network in README tests (tried {host})")

    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address[0])
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        refuse(host)
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


def cli(*args: object, code: int | tuple[int, ...] = 0, within: float | None = None, cwd: Path | None = None) -> str:
    """Run `polyunlearn ARGS` in-process; assert the exit code (and the wall time); return the
    output as one line."""
    t = time.time()
    with contextlib.chdir(cwd) if cwd else contextlib.nullcontext():
        res = runner_cli(*args, env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    codes = code if isinstance(code, tuple) else (code,)
    assert res.exit_code in codes, f"polyunlearn {' '.join(map(str, args))}: exit {res.exit_code}: {text[-3000:]}"
    if within is not None:
        assert time.time() - t < within, f"polyunlearn {' '.join(map(str, args))} took {time.time() - t:.0f} s"
    return text


class World:
    """The fixtures the cases share, each built on first use (module scope)."""

    def __init__(self, root: Path, request: pytest.FixtureRequest):
        self.root, self._request = root, request

    @cached_property
    def _demo(self) -> tuple[Path, str]:
        return self._request.getfixturevalue("demo_run")  # the session's reduced demo, built on first use

    @property
    def demo(self) -> Path:
        return self._demo[0]

    @property
    def demo_output(self) -> str:
        return " ".join(self._demo[1].split())

    @property
    def cwd(self) -> Path:
        return self.demo.parent.parent  # the folder the demo ran in: README's ./polyunlearn_runs/demo

    @property
    def data(self) -> Path:
        return self.demo / "data" / "benchmark.jsonl"

    @property
    def learned(self) -> Path:
        return self.demo / "models" / "learned" / "model"

    @property
    def retain_eval(self) -> Path:
        return self.demo / "eval" / "retain_model"

    @property
    def before_eval(self) -> Path:
        return self.demo / "eval" / "before"

    def path(self, name: str) -> Path:
        return self.root / name

    @cached_property
    def tofu_dir(self) -> Path:
        """The Multilingual Amnesia layout (fr, iw, ar; no English), test_seed_data's writer."""
        from helpers.amnesia import write_amnesia

        return write_amnesia(self.path("tofu"))

    @cached_property
    def mcq_dir(self) -> Path:
        """The authors' SeeGULL multiple-choice CSVs (en, fr, iw), test_seegull_mcq's writer."""
        import csv

        from helpers.seegull import HEADER, _row

        root = self.path("mcq")
        root.mkdir()
        for lang in ("en", "fr", "iw"):
            with open(root / f"mcq_stereotype_dataset_{lang}.csv", "w", encoding="utf-8", newline="") as f:
                w = csv.writer(f)
                w.writerow(HEADER)
                w.writerows(_row(lang, i) for i in range(4))
        return root

    @cached_property
    def grid(self) -> tuple[Path, Path]:
        """(SPEC.yaml, its OUT after a run): one npo run in en from the demo's learned model (a
        path base, with the demo's retain evaluation), 2 epochs, likelihood metrics only."""
        spec = {
            "base": {
                "data": str(self.data),
                "languages": "en,fr,ja",
                "model": str(self.learned),
                "retain_eval": str(self.retain_eval),
                "eval": {"generate": False},
            },
            "grid": {
                "methods": ["npo"],
                "forget_sets": ["en"],
                "seeds": [0],
                "params": {"lr": 1.0e-3, "epochs": 2, "batch_size": 8},
            },
        }
        path = self.path("grid.yaml")
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        out = self.path("grid_out")
        cli("grid", path, "--out", out, "--no-progress")
        return path, out

    @cached_property
    def tofu_logs(self) -> tuple[Path, Path]:
        """TOFU's per-sample eval logs for a model and its retain model (test_tofu_logs' writers)."""
        from helpers.tofu_logs import _write_logs, hand_logs, retain_model_logs

        return _write_logs(self.path("logs"), hand_logs()), _write_logs(self.path("retain_logs"), retain_model_logs())


@pytest.fixture(scope="module")
def world(tmp_path_factory, request) -> World:
    return World(tmp_path_factory.mktemp("readme"), request)


CASES: dict[str, Callable[[World], None]] = {}


def case(*forms: str):
    """Register a case for each README form it runs."""

    def register(fn: Callable[[World], None]) -> Callable[[World], None]:
        for form in forms:
            assert _norm(form) not in CASES, form
            CASES[_norm(form)] = fn
        return fn

    return register


# ----------------------------------------------------------------------------- the quick start


@case("polyunlearn demo")
def demo(w: World) -> None:
    """Writes under ./polyunlearn_runs/demo/ and prints that path; the files README lists."""
    assert f"results written under {w.demo.resolve()}" in w.demo_output
    assert "forgetting shown: yes" in w.demo_output
    for name in ("data/benchmark.jsonl", "models/learned/model", "models/retain/model", "report.html"):
        assert (w.demo / name).exists(), name
    for run in ("npo__en", "npo__all"):
        assert (w.demo / "unlearn" / run / "curves.csv").is_file() and (
            w.demo / "unlearn" / run / "curves.png"
        ).is_file()
        assert (w.demo / "unlearn" / run / "eval" / "items.jsonl").is_file()
    for name in ("npo_forget_prob.csv", "npo_forget_prob_p.csv", "npo_forget_prob_q.csv", "npo_forget_prob.png"):
        assert (w.demo / "matrices" / name).is_file(), name


@case("polyunlearn demo --attacks quant,relearn")
def demo_attacks(w: World) -> None:
    """The demo's defaults (per-epoch curves) composed with the probes: the finished runs are
    reused, each unsaved unlearned model re-created, quantization and relearning recovery written."""
    from helpers.cli import DEMO_ARGS

    text = cli(*DEMO_ARGS, "--attacks", "quant,relearn", cwd=w.cwd)
    assert "skipping" in text
    for run in ("npo__en", "npo__all"):
        matrices = w.demo / "unlearn" / run / "attacks" / "matrices"
        assert (matrices / "quant_forget_prob_recovery.csv").is_file()
        assert (matrices / "relearn_forget_prob_recovery.csv").is_file()
    assert "Is it really gone?" in (w.demo / "report.html").read_text(encoding="utf-8")


@case("polyunlearn attack RUN_DIR", "polyunlearn attack")
def attack(w: World) -> None:
    """README's `polyunlearn attack polyunlearn_runs/demo/unlearn/npo__en`, every probe, on the
    demo's default run (per-epoch evaluation on, no model saved: re-created through the engine)."""
    text = cli("attack", "polyunlearn_runs/demo/unlearn/npo__en", cwd=w.cwd)
    folder = w.demo / "unlearn" / "npo__en" / "attacks"
    assert len(list((folder / "matrices").glob("*.csv"))) >= 2 and (folder / "robustness.csv").is_file()
    manifest = json.loads((folder / "attack.json").read_text())
    assert manifest["unlearned_model"]["obtained"] == "re-created"
    assert "matrices:" in text


@case("polyunlearn report DIR")
def report(w: World) -> None:
    cli("report", w.demo)
    page = (w.demo / "report.html").read_text(encoding="utf-8")
    assert 'id="headline-table"' in page and "<img" in page


@case("polyunlearn analyze DIR [--minus retain_prob]")
def analyze(w: World) -> None:
    """The plain analysis and the one with general damage taken out land in two folders."""
    cli("analyze", w.demo)
    plain = sorted(p.name for p in (w.demo / "analysis").iterdir())
    text = cli("analyze", w.demo, "--minus", "retain_prob")
    assert sorted(p.name for p in (w.demo / "analysis").iterdir()) == plain
    minus = w.demo / "analysis_minus_retain_prob"
    assert minus.is_dir() and any(minus.iterdir()) and str(minus.name) in text


# ----------------------------------------------------------------------------- the steps


@case("polyunlearn learn --model tiny|HF_ID|PATH --out DIR [--lora] [--retain-only]")
def learn(w: World) -> None:
    out = w.path("learn")
    cli("learn", "--model", "tiny", "--langs", "en", "--epochs", 2, "--out", out)
    assert (out / "model" / "model.safetensors").is_file() and (out / "eval" / "summary.csv").is_file()
    cli("learn", "--model", w.learned, "--data", w.data, "--langs", "en", "--retain-only", "--lora", "--epochs", 1,
        "--no-evaluate", "--out", w.path("learn_retain"))  # fmt: skip
    assert (w.path("learn_retain") / "model" / "config.json").is_file()
    cli("learn", "--model", AYA, "--dry-run", "--out", w.path("learn_hub"), within=20)


@case("polyunlearn unlearn --model DIR/model --method npo --forget-langs en --out DIR")
def unlearn(w: World) -> None:
    """At its defaults from the demo's learned model: forget Prob in en falls below half."""
    out = w.path("unlearn")
    cli("unlearn", "--model", w.learned, "--data", w.data, "--method", "npo", "--forget-langs", "en", "--out", out)
    before = pd.read_csv(w.before_eval / "summary.csv").set_index("language")
    after = pd.read_csv(out / "eval" / "summary.csv").set_index("language")
    assert after.loc["en", "forget_prob"] < 0.5 * before.loc["en", "forget_prob"]
    assert (out / "model").is_dir() and (out / "done.json").is_file()


@case("polyunlearn unlearn ... --eval-every 1 --select first-below-retain|best-fq-mu|last [--retain-eval DIR]")
def unlearn_select(w: World) -> None:
    out = w.path("unlearn_select")
    cli("unlearn", "--model", w.learned, "--data", w.data, "--method", "npo", "--forget-langs", "en", "--epochs", 3,
        "--eval-every", 1, "--select", "first-below-retain", "--retain-eval", w.retain_eval, "--out", out)  # fmt: skip
    done = json.loads((out / "done.json").read_text())
    assert done["selected_epoch"] in (0, 1, 2, 3) and "selection_reason" in done
    assert (out / "curves.csv").is_file() and (out / "curves.png").is_file()


@case("polyunlearn eval --model PATH --out DIR [--retain-eval DIR] [--baseline DIR]")
def evaluate(w: World) -> None:
    out = w.path("eval")
    cli("eval", "--model", w.learned, "--data", w.data, "--retain-eval", w.retain_eval, "--baseline", w.before_eval,
        "--out", out)  # fmt: skip
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["language"]) == ["en", "fr", "ja"] and "forget_quality" in summary
    assert (out / "items.jsonl").is_file() and list((out / "matrices").glob("*_p.csv"))


@case("polyunlearn eval ... --generation-backend vllm")
def eval_vllm(w: World) -> None:
    """GPU only: without vLLM installed the run is refused in one line, before any model loads."""
    text = cli("eval", "--model", w.learned, "--data", w.data, "--generation-backend", "vllm", "--out",
               w.path("eval_vllm"), code=2, within=30)  # fmt: skip
    assert "vllm" in text.lower() and "Traceback" not in text


@case("--eval-batch-tokens N")
def eval_batch_tokens(w: World) -> None:
    out = w.path("eval_tokens")
    cli("eval", "--model", w.learned, "--data", w.data, "--langs", "en", "--no-generate", "--eval-batch-tokens", 512,
        "--out", out)  # fmt: skip
    assert json.loads((out / "run.json").read_text())["identity"]["evaluation"]["eval"]["eval_batch_tokens"] == 512


@case("polyunlearn eval ... --lm-eval xnli_fr,belebele_fra_Latn [--lm-eval-include DIR] [--lm-eval-limit N]")
def eval_lm_eval(w: World) -> None:
    """README's tasks need their data sets from the hub: a dry run checks them offline; the same
    command runs on local task files (--lm-eval-include) with --lm-eval-limit."""
    from helpers.items import small_items
    from helpers.lm_eval_tasks import write_tasks

    cli("eval", "--model", w.learned, "--data", w.data, "--lm-eval", "xnli_fr,belebele_fra_Latn", "--dry-run",
        "--out", w.path("eval_lm_dry"), within=60)  # fmt: skip
    write_tasks(w.path("tasks"), small_items())
    out = w.path("eval_lm")
    cli("eval", "--model", w.learned, "--data", w.data, "--langs", "en,fr", "--no-generate", "--lm-eval",
        "pu_qa_en,pu_qa_fr", "--lm-eval-include", w.path("tasks"), "--lm-eval-limit", 4, "--out", out)  # fmt: skip
    assert json.loads((out / "lm_eval.json").read_text())["n-samples"]["pu_qa_en"]["effective"] == 4


@case("... --overwrite")
def overwrite(w: World) -> None:
    out = w.path("eval_overwrite")
    args = ("eval", "--model", w.learned, "--data", w.data, "--langs", "en", "--no-generate", "--out", out)
    cli(*args)
    text = cli(*args, "--max-length", 128, code=2)
    assert "max_length: 256 -> 128" in text and "--overwrite" in text
    cli(*args, "--max-length", 128, "--overwrite")
    assert json.loads((out / "run.json").read_text())["identity"]["evaluation"]["eval"]["max_length"] == 128


@case("... --dry-run")
def dry_run(w: World) -> None:
    out = w.path("dry")
    text = cli("learn", "--model", "tiny", "--langs", "en", "--dry-run", "--out", out, within=20)
    assert "would run" in text and not (out / "model").exists()
    text = cli("unlearn", "--model", w.path("no_such_model"), "--data", w.data, "--forget-langs", "en", "--dry-run",
               "--out", out, code=2, within=20)  # fmt: skip
    assert "no_such_model" in text


@case(
    "... --prompt-format auto|chat|plain|amnesia|amnesia-concept|text",
    "--language-mix concat|interleave",
    "--lora-alpha --lora-dropout --lora-targets",
    "--max-new-tokens",
)
def protocol_options(w: World) -> None:
    """Each option reaches the run's identity (dry runs), and a chat format for a model without a
    chat template is refused by the dry run as by the real run."""
    out = w.path("protocol")
    base = ("unlearn", "--model", w.learned, "--data", w.data, "--forget-langs", "en,fr", "--dry-run", "--out", out)
    text = cli(*base, "--prompt-format", "plain", "--language-mix", "interleave", "--lora", "--lora-alpha", 8,
               "--lora-dropout", 0.1, "--lora-targets", "q_proj,v_proj", "--max-new-tokens", 12, within=20)  # fmt: skip
    for shown in (
        '"prompt_format": "plain"',
        '"language_mix": "interleave"',
        '"alpha": 8.0',
        '"dropout": 0.1',
        '"max_new_tokens": 12',
    ):
        assert shown in text, shown
    text = cli(*base, "--prompt-format", "chat", code=2, within=20)
    assert "chat" in text and "template" in text


@case("--log-with tensorboard|wandb|trackio|mlflow")
def log_with(w: World) -> None:
    out = w.path("tracked")
    cli("learn", "--model", "tiny", "--langs", "en", "--epochs", 1, "--no-evaluate", "--log-with", "tensorboard",
        "--out", out)  # fmt: skip
    assert list((out / "tracking").rglob("events.out.tfevents*"))


@case("polyunlearn learn/unlearn/eval --preset amnesia ...")
def preset_amnesia(w: World) -> None:
    """The Aya-Expanse-8B protocol: dry runs finish offline in seconds."""
    cli("learn", "--preset", "amnesia", "--dry-run", "--out", w.path("aya_learn"), within=20)
    cli("unlearn", "--preset", "amnesia", "--method", "npo", "--model", AYA, "--forget-langs", "en", "--dry-run",
        "--out", w.path("aya_unlearn"), within=20)  # fmt: skip
    cli("eval", "--preset", "amnesia", "--model", AYA, "--dry-run", "--out", w.path("aya_eval"), within=20)


@case(
    "polyunlearn learn --model $MODEL --langs study-b --lora --lora-r 16 --bf16 --lr 1e-4 --epochs 10 --batch-size 16 --out $RUNS/learned",
    "polyunlearn learn --model $MODEL --langs study-b --retain-only --lora --lora-r 16 --bf16 --lr 1e-4 --epochs 10 --batch-size 16 --out $RUNS/retain",
    "polyunlearn unlearn --model $RUNS/learned/model --langs study-b --method $method --forget-langs $forget --lora --bf16 --lr 1e-4 --epochs 5 --batch-size 8 --retain-eval $RUNS/retain/eval --baseline $RUNS/learned/eval --out $RUNS/$method-$forget",
)
def aya_block(w: World) -> None:
    """The Aya-Expanse-8B block on a GPU: the learn lines as dry runs with the hub id (offline);
    the unlearn loop's lines as dry runs on a learned folder (the demo's, in its languages)."""
    for extra in ((), ("--retain-only",)):
        cli("learn", "--model", AYA, "--langs", "study-b", *extra, "--lora", "--lora-r", 16, "--bf16", "--lr", 1e-4,
            "--epochs", 10, "--batch-size", 16, "--dry-run", "--out", w.path("aya"), within=20)  # fmt: skip
    for method in ("npo", "grad_diff_kl"):
        for forget in ("en", "all"):
            cli("unlearn", "--model", w.learned, "--data", w.data, "--method", method, "--forget-langs", forget,
                "--lora", "--bf16", "--lr", 1e-4, "--epochs", 5, "--batch-size", 8, "--retain-eval", w.retain_eval,
                "--baseline", w.before_eval, "--dry-run", "--out", w.path(f"aya_{method}_{forget}"), within=20)  # fmt: skip


# ----------------------------------------------------------------------------- data


@case("polyunlearn data SPEC [--json] [--langs L] [--strict]", "polyunlearn data SPEC", "polyunlearn data")
def data(w: World) -> None:
    report = json.loads(cli("data", "bundled", "--json", "--langs", "en,fr"))
    assert sorted(report["languages"]) == ["en", "fr"]
    only_fr = json.loads(cli("data", f"tofu:{w.tofu_dir}:forget01:fr", "--json"))
    assert sorted(only_fr["languages"]) == ["fr"]
    bad = w.path("bad.jsonl")
    bad.write_text(
        '{"question": "q?", "answer": "", "language": "en"}\n{"question": "q2?", "answer": "a", "language": "en"}\n'
    )
    assert "skipped" in cli("data", bad).lower()
    text = cli("data", bad, "--strict", code=2)
    assert "answer" in text and "bad.jsonl" in text


@case("polyunlearn demo --data tofu:DIR:forget01 --forget-sets 'fr;all'")
def demo_authors_tofu(w: World) -> None:
    """No English in the authors' folders: without --forget-sets the demo is refused before any
    model loads, naming en, the languages present and the option; the documented form runs."""
    out = w.path("demo_tofu")
    text = cli("demo", "--data", f"tofu:{w.tofu_dir}:forget01", "--out", out, code=2, within=30)
    assert "'en'" in text and "ar, fr, he" in text and "--forget-sets" in text
    assert not (out / "models").exists()
    text = cli("demo", "--data", f"tofu:{w.tofu_dir}:forget01", "--forget-sets", "fr;all", "--methods", "grad_diff",
               "--learn-epochs", 5, "--unlearn-epochs", 1, "--vocab-size", 400, "--max-new-tokens", 8, "--out", out,
               code=(0, 1))  # fmt: skip
    change = pd.read_csv(out / "matrices" / "grad_diff_forget_prob.csv", index_col=0)
    assert list(change.index) == ["fr", "all"] and sorted(change.columns) == ["ar", "fr", "he"]


@case("polyunlearn concept-demo --data seegull-mcq:DIR --methods concept_mcq")
def concept_demo_mcq(w: World) -> None:
    out = w.path("concept_mcq")
    cli("concept-demo", "--data", f"seegull-mcq:{w.mcq_dir}", "--methods", "concept_mcq", "--forget-sets", "en",
        "--learn-epochs", 3, "--unlearn-epochs", 1, "--no-generate", "--out", out, code=(0, 1))  # fmt: skip
    assert (out / "concept_result.json").is_file() and list(out.rglob("mcq*.csv"))


@case("polyunlearn tofu-aggregate LOGS [--retain LOGS]", "polyunlearn tofu-aggregate")
def tofu_aggregate(w: World) -> None:
    logs, retain = w.tofu_logs
    text = cli("tofu-aggregate", logs, "--retain", retain, "--out", w.path("agg.csv"))
    assert "Model Utility" in text and "0.644" in text
    assert list(pd.read_csv(w.path("agg.csv")).columns)[-1] == "Forget Quality"


@case("polyunlearn translate --data IN.jsonl --to de,zh --model facebook/nllb-200-distilled-600M --out DIR")
def translate(w: World) -> None:
    """The translation model is a download: a dry run checks the request offline."""
    text = cli("translate", "--data", w.data, "--to", "de,zh", "--model", "facebook/nllb-200-distilled-600M",
               "--out", w.path("translated"), "--dry-run", within=20)  # fmt: skip
    assert "de" in text and "zh" in text and "local cache" in text
    text = cli("translate", "--data", w.data, "--to", "fr", "--model", "facebook/nllb-200-distilled-600M",
               "--out", w.path("translated"), "--dry-run", code=2, within=20)  # fmt: skip
    assert "fr already in the data" in text


# ----------------------------------------------------------------------------- studies


@case("polyunlearn study-a", "polyunlearn study-a --fake-lang zh")
def study_a(w: World) -> None:
    out = w.path("study_a")
    cli("study-a", "--fake-lang", "zh", "--languages", "en,zh,ru", "--doc-epochs", 2, "--instruct-epochs", 2,
        "--unlearn-epochs", 1, "--forget-sets", "source", "--out", out, code=(0, 1))  # fmt: skip
    assert (out / "study_a_result.json").is_file() and (out / "eval" / "clean" / "summary.csv").is_file()
    assert list((out / "matrices").glob("*.csv"))


@case("polyunlearn study-a --preset learn-unlearn --data TaiMingLu/news-truthful --fake-lang en")
def study_a_preset(w: World) -> None:
    """Llama-3.1-8B on the authors' hub data: a dry run, offline."""
    text = cli("study-a", "--preset", "learn-unlearn", "--data", "TaiMingLu/news-truthful", "--fake-lang", "en",
               "--dry-run", "--out", w.path("study_a_preset"), within=20)  # fmt: skip
    assert "local cache" in text
    text = cli("study-a", "--fake-lang", "zh", "--languages", "en,zh,ru", "--dry-run", "--out", w.path("study_a_dry"))
    assert "fake news in zh" in text and "new: would run" in text
    text = cli(
        "study-a", "--fake-lang", "de", "--languages", "en,zh,ru", "--dry-run", "--out", w.path("study_a_dry"), code=2
    )
    assert "--fake-langs" in text and "en, zh, ru" in text


@case("polyunlearn concept-demo")
def concept_demo(w: World) -> None:
    out = w.path("concept")
    cli("concept-demo", "--languages", "en,fr", "--n-facts", 10, "--methods", "npo", "--forget-sets", "en",
        "--learn-epochs", 5, "--unlearn-epochs", 1, "--no-generate", "--out", out, code=(0, 1))  # fmt: skip
    assert (out / "biased_answer_rate.csv").is_file() and (out / "concept_result.json").is_file()


@case(
    "polyunlearn grid src/polyunlearn/configs/grids/study_b_tiny.yaml",
    "polyunlearn grid src/polyunlearn/configs/grids/all_methods_tiny.yaml",
)
def shipped_grids(w: World) -> None:
    """The shipped specs (5 and 7 minutes): their dry runs list every run, offline."""
    root = README.parent
    for spec in ("study_b_tiny.yaml", "all_methods_tiny.yaml"):
        text = cli("grid", root / "src/polyunlearn/configs/grids" / spec, "--out", w.path(spec), "--dry-run", within=30)
        assert "pending" in text or "new" in text


@case("polyunlearn grid SPEC.yaml --status")
def grid_status(w: World) -> None:
    spec, out = w.grid
    text = cli("grid", spec, "--out", out, "--status")
    assert "done" in text


@case("polyunlearn grid SPEC --attacks all")
def grid_attacks(w: World) -> None:
    spec, out = w.grid
    cli("grid", spec, "--out", out, "--no-progress", "--attacks", "all")
    runs = [d for d in (out / "runs").iterdir() if (d / "done.json").is_file()]
    assert len(runs) == 1
    for run in runs:
        assert len(list((run / "attacks" / "matrices").glob("*.csv"))) >= 2
    assert "Is it really gone?" in (out / "report.html").read_text(encoding="utf-8")


@case(
    "polyunlearn grid SPEC.yaml --executor ray --address auto --gpus-per-run 1",
    "polyunlearn grid SPEC.yaml [--executor ray --address auto --gpus-per-run 1]",
)
def grid_ray(w: World) -> None:
    """A Ray cluster with GPUs is not here: the dry run lists the runs without connecting."""
    spec, out = w.grid
    text = cli("grid", spec, "--out", w.path("grid_ray"), "--executor", "ray", "--address", "auto", "--gpus-per-run", 1,
               "--dry-run", within=30)  # fmt: skip
    assert "run" in text


# ----------------------------------------------------------------------------- reference commands


@case("polyunlearn methods")
def methods(w: World) -> None:
    text = cli("methods")
    for name in ("grad_ascent", "npo", "simnpo", "rmu", "lingtea", "concept_mcq"):
        assert name in text


@case("polyunlearn languages")
def languages(w: World) -> None:
    text = cli("languages")
    assert "Hausa" in text and "Armenian" in text and "Hebrew" in text


@case("polyunlearn metrics")
def metrics(w: World) -> None:
    text = cli("metrics")
    assert "forget_quality" in text and "forget_Q_A_Prob" in text
    assert "[a-z0-9]" in cli("metrics", "--full")  # the "where we differ" text; rich markup ate the brackets


@case("polyunlearn presets")
def presets(w: World) -> None:
    text = cli("presets")
    assert "amnesia" in text and "learn-unlearn" in text


@case("polyunlearn --help")
def help_(w: World) -> None:
    text = cli("--help")
    for command in ("demo", "learn", "unlearn", "eval", "attack", "grid", "study-a", "bench", "report"):
        assert command in text


@case(
    "polyunlearn bench", "polyunlearn bench [--sizes tiny,small] [--max-new-tokens N] [--eval-batch-tokens N] [--json]"
)
def bench(w: World) -> None:
    """Both forms are one measurement (the tiny size, 3 items in 2 languages): made once."""
    out = w.path("bench")
    if not (out / "results.json").is_file():
        text = cli("bench", "--sizes", "tiny", "--languages", "en,fr", "--items-per-lang", 3, "--repeats", 3,
                   "--max-new-tokens", 16, "--eval-batch-tokens", 4096, "--json", "--out", out)  # fmt: skip
        printed, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])  # progress lines go before it
        assert len(printed["tiny"]["total"]["vs_peer"]) == 3  # min, median, max
    assert (out / "results.csv").is_file() and (out / "eval_parts.csv").is_file()


def test_readme_every_command_form_has_a_case():
    forms = readme_forms()
    assert len(forms) >= 20
    missing = [f for f in forms if f not in CASES]
    stale = [f for f in CASES if f not in forms]
    assert not missing, f"README documents command forms that no test runs: {missing}"
    assert not stale, f"cases for command forms README no longer has: {stale}"


def test_readme_forms_are_read_from_blocks_inline_code_and_the_table():
    text = (
        "```bash\npolyunlearn learn --model $M \\\n    --out X   # a comment\n# polyunlearn skipped\n```\n"
        "Run `polyunlearn data SPEC` or `--help`.\n\n## Commands\n\n| command | what |\n|---|---|\n"
        "| `polyunlearn demo` / `... --dry-run` | x `--not-a-form` |\n\n## Next\n| `--other` | y |\n"
    )
    assert readme_forms(text) == [
        "... --dry-run",
        "polyunlearn data SPEC",
        "polyunlearn demo",
        "polyunlearn learn --model $M --out X",
    ]


@pytest.mark.parametrize("form", sorted(CASES))
def test_readme_command(form: str, world: World):
    CASES[form](world)


def test_readme_defaults_table_is_the_presets_table():
    """README's "our defaults vs the papers' protocols" table is `polyunlearn presets`' table."""
    from polyunlearn.studies.presets import DEFAULTS_VS_PAPERS

    text = README.read_text(encoding="utf-8")
    head = "| setting | ours | Study B authors | Study A authors | why ours |\n|---|---|---|---|---|\n"
    rows = text.split(head, 1)[1].split("\n\n", 1)[0].splitlines()
    assert rows == ["| " + " | ".join(row) + " |" for row in DEFAULTS_VS_PAPERS]
