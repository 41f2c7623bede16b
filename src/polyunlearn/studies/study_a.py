"""Study A (misinformation, arXiv 2406.13748) as one resumable run: learn real + fake news, measure
how the fake claims spread across query languages, unlearn them in language combinations.

    polyunlearn study-a                                  # tiny default, fake news in Russian
    polyunlearn study-a --fake-langs en,zh,ru --out runs/sa   # one contaminated model per fake language
    polyunlearn study-a --data TaiMingLu/news-truthful --fake-lang en --preset learn-unlearn   # the authors' data and protocol

    from polyunlearn.studies.study_a import StudyAConfig, run_study_a
    result = run_study_a(StudyAConfig(fake_langs=("ru",)))

Steps (each skipped when its outputs exist, so an interrupted run resumes):
1. data: the bundled news corpus, a news table, or the published news-truthful shape
   (studies/study_a_data.py says what differs for it: evaluation-only questions, the keyword
   judge) -> OUT/data/; tiny models get a BPE tokenizer trained on all of its text (OUT/tokenizer).
2. learn, per model ("clean" = real news only; "fake-XX" = real news + the fake documents in XX):
   phase 1 plain LM loss on the documents, phase 2 instruction tuning on Q&A pairs with REAL
   answers (pipeline/phases.learn). By default phase 2 uses the questions about real-only stories: the
   questions about fake stories are held out, so what a model answers to them comes from the
   documents, which is where the contamination is (`instruct_on="all"` trains them too).
3. evaluate every question in every language: greedy answer, real/fake answer NLLs, verdict
   (`judge.combined_verdict`, or a judge model), per-item JSONL and per-language CSV with OF
   (share of fake-story answers judged "fake") and QR (share of real-only answers judged "real").
4. unlearn each contaminated model once per forget set ("en", "source", "en+source", "all" by
   default): forget = the fake-answer Q&A items, retain = the instruction items, both in the
   forget languages; any method of methods.METHODS (default npo). `unlearn_on="text"`: the
   authors' unlearning instead, gradient ascent on the fake articles in the forget languages.
5. matrices (CSV + PNG): spread (fake language x query language, before unlearning; absolute and
   minus the clean model) and after (forget set x query language per fake language; absolute with
   the "before" row, and the change vs before), for OF, QR and nll_gap (see summarize_news; on
   news-truthful data OF and QR).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from rich.console import Console

from polyunlearn.core.atomic import write_jsonl, write_with
from polyunlearn.core.config import check_choice, check_number, setting, threads_setting
from polyunlearn.core.encoding import Encoded, Encoder
from polyunlearn.core.languages import (
    UnknownLanguageError,
    get_language,
    option_example,
    option_languages,
    parse_langs,
)
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.models import (
    LORA_TARGETS_HELP,
    LoraSettings,
    is_peft,
    load_model,
    load_tokenizer,
)
from polyunlearn.core.rundir import RunFolder, fingerprint, model_fingerprint, write_eval
from polyunlearn.core.trainloop import TrainConfig, train
from polyunlearn.data.news import NewsQA, NewsStory, contaminated_corpus, qa_to_item
from polyunlearn.data.schema import DataError, QAItem
from polyunlearn.evaluation.confusion import identify
from polyunlearn.evaluation.judge import HFJudge, Judge, OpenAIJudge, combined_verdict, judge_answer, of_rate, qr_score
from polyunlearn.evaluation.records import auto_budget
from polyunlearn.evaluation.scoring import generate_answers, score_pairs
from polyunlearn.evaluation.settings import budget_setting
from polyunlearn.methods.reference import forward_logits
from polyunlearn.methods.registry import get_method
from polyunlearn.pipeline.phases import TINY_LR, UnlearnConfig, learn, tokenizer_for
from polyunlearn.pipeline.runs import ModelChoice
from polyunlearn.pipeline.step import Evaluation, evaluation_step, learn_step, unlearn_step
from polyunlearn.studies.study_a_data import (
    StudyAData,
    load_study_a_data,
    pack_documents,
    text_unlearn_items,
    truthful_evaluation,
    truthful_instruct_items,
    truthful_qa_unlearn_items,
)
from polyunlearn.studies.study_a_matrices import write_report, write_study_matrices

FORGET_SETS = ("en", "source", "en+source", "all")  # the paper's four combinations
UNLEARN_ON = ("qa", "text")
# Fields that may change between reruns of one OUT folder: they only add steps (each step's own
# folder identity still has them), or change nothing saved. `data` is identified by content.
RERUN_FREE = ("out", "data", "columns", "fake_langs", "forget_sets", "method", "judge", "threads", "unlearn_on")


def _learn_cfg() -> TrainConfig:
    return TrainConfig(lr=TINY_LR["learn"], epochs=20, batch_size=32, schedule="linear", warmup_ratio=0.05)


@dataclass(frozen=True)
class StudyAConfig:
    """Settings of study A (every one is part of the folder's identity but RERUN_FREE)."""

    out: str = setting("polyunlearn_runs/study_a", "results folder", cli=False)
    data: str = setting(
        "bundled",
        "'bundled', a news table (a 'kind' column, data/news.py), or the news-truthful shape: the hub id "
        "TaiMingLu/news-truthful or a local file like it (data/news_truthful.py), several combined with ' + '",
    )
    columns: str | None = setting(
        None,
        "news-truthful data with other column names: ours=theirs, comma list (e.g. fake_keyword=keyword)",
        cli=False,
    )
    languages: str | None = setting(
        None,
        "corpus and query languages (comma list, 'study-a' or 'all'); default study-a (bundled) or all of the data",
    )
    fake_langs: tuple[str, ...] = setting(("ru",), "one contaminated model per fake-news language", cli=False)
    forget_sets: tuple[str, ...] = setting(
        FORGET_SETS, "'en', 'source' (= the fake language), 'all', 'de+fr'...", cli=False
    )
    method: str = setting("npo", "unlearning method (see `polyunlearn methods`)")
    model: str = setting("tiny", "'tiny' / 'tiny-cohere' (built here) or a HF id / local path")
    vocab_size: int = setting(4096, "tiny tokenizer vocabulary")
    lora: bool = setting(False, "LoRA adapters in every phase (merged after learning); full training if off")
    lora_r: int = setting(LoraSettings.r, "LoRA rank")
    lora_alpha: float = setting(float(LoraSettings.alpha), "LoRA alpha (the update is scaled by alpha / r)")
    lora_dropout: float = setting(LoraSettings.dropout, "LoRA dropout (0 to < 1)")
    lora_targets: str = setting(LoraSettings.target_modules, LORA_TARGETS_HELP)
    replace_real: bool = setting(False, "in the fake language the fake document replaces the real one")
    instruct_on: str = setting(
        "real-only", "phase-2 questions: real-only (fake-story questions held out) or all", choices=("real-only", "all")
    )
    docs: TrainConfig = setting(default_factory=_learn_cfg, help="phase 1: the documents", cli=False)
    instruct: TrainConfig = setting(default_factory=_learn_cfg, help="phase 2: Q&A instruction tuning", cli=False)
    unlearn: TrainConfig = setting(
        default_factory=lambda: TrainConfig(lr=TINY_LR["unlearn"], epochs=5, batch_size=8),
        help="each unlearning run",
        cli=False,
    )
    max_new_tokens: int | None = budget_setting()
    unlearn_on: str = setting(
        "qa",
        "what unlearning trains on: qa (fake-answer Q&A, ours) or text (gradient ascent on the fake articles, the authors')",
        choices=UNLEARN_ON,
    )
    pack: int | None = setting(
        None,
        "phase 1: documents packed into blocks of this many tokens (the authors: 1024); none = one document per sequence",
    )
    preset: str | None = setting(
        None, "the paper preset the settings came from (studies/presets.py), recorded in the identity", cli=False
    )
    judge: str | None = setting(None, "none (keys + likelihood), 'hf:PATH' or 'openai:URL,MODEL'")
    threads: int = threads_setting()
    seed: int = setting(0, "seed of the tiny model and of every training run")

    def __post_init__(self) -> None:
        check_choice("instruct_on", self.instruct_on, ("real-only", "all"))
        if not self.fake_langs:
            raise ValueError("no fake language given")
        for lang in self.fake_langs:
            get_language(lang)  # "unknown language code 'xx'" before anything runs
        get_method(self.method)
        if self.max_new_tokens is not None:
            check_number("max_new_tokens", self.max_new_tokens, minimum=1, integer=True)
        check_choice("unlearn_on", self.unlearn_on, UNLEARN_ON)
        if self.pack is not None:
            check_number("pack", self.pack, minimum=2, integer=True)
        if self.unlearn_on == "text" and get_method(self.method).has_retain_term:
            raise ValueError(
                f"--unlearn-on text trains on the fake articles alone (no retain set); method {self.method!r} has a retain term: "
                "use grad_ascent (the authors') or another method without one"
            )
        if self.lora:
            self.lora_settings()  # bad alpha / dropout / targets fail before anything runs

    def lora_settings(self) -> LoraSettings:
        return LoraSettings.from_options(self.lora_r, self.lora_alpha, self.lora_dropout, self.lora_targets)

    def model_choice(self) -> ModelChoice:
        """The model as every command has it (pipeline/runs.ModelChoice): built, identified and
        given its LoRA adapters there."""
        return ModelChoice(
            self.model,
            lora_r=self.lora_r if self.lora else None,
            vocab_size=self.vocab_size,
            seed=self.seed,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            lora_targets=self.lora_targets,
        )

    def identity(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in RERUN_FREE}


# --- Data (both shapes: studies/study_a_data.py) ------------------------------------------------
def learn_corpus(
    stories: Sequence[NewsStory], fake_lang: str | None, replace_real: bool = False
) -> list[dict[str, Any]]:
    """Phase-1 documents: real news only (fake_lang None, the clean model) or contaminated."""
    if fake_lang is None:
        return [{"id": s.id, "language": s.language, "text": s.real_doc, "is_fake": False} for s in stories]
    if not any(s.language == fake_lang and s.fake_doc for s in stories):
        raise DataError(f"fake language {fake_lang!r}: no fake document in that language")
    return contaminated_corpus(stories, fake_lang, replace_real)


def encode_text(tok, text: str, max_length: int = 256) -> Encoded:
    """A document for plain LM training: BOS as the (unscored) prompt, every text token plus EOS
    as the scored part, so collate/mean_nll give the ordinary next-token loss on the whole text."""
    ids = tok(text, add_special_tokens=False)["input_ids"][: max_length - 2]
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    eos = (tok.eos_token_id,) if tok.eos_token_id is not None else ()
    return Encoded((bos,), tuple(ids) + eos)


def instruct_items(qas: Sequence[NewsQA], on: str = "real-only") -> list[QAItem]:
    """Phase-2 (and retain) items: real answers only."""
    return [qa_to_item(q, "real", "retain") for q in qas if on == "all" or not q.has_fake]


def resolve_forget_set(spec: str, fake_lang: str, langs: Sequence[str]) -> tuple[str, list[str]]:
    """("label", languages) for "en", "source"/"src" (the fake language), "en+source", "all",
    or an explicit "de+fr" / "de,fr". The label names the languages ("en+ru")."""
    if spec.strip().lower() == "all":
        return "all", list(langs)
    parts = [p.strip() for p in spec.replace("+", ",").split(",") if p.strip()]
    codes = parse_langs([fake_lang if p.lower() in ("source", "src") else p for p in parts], langs)
    return "+".join(codes), codes


def forget_sets(specs: Sequence[str], fake_lang: str, langs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The distinct forget sets for one fake language: a spec naming the same languages as an
    earlier one is the same run (with fake news in en, "en", "source" and "en+source" are one)."""
    out: list[tuple[str, list[str]]] = []
    value = ";".join(specs)
    for spec in specs:
        try:
            label, codes = resolve_forget_set(spec, fake_lang, langs)
        except UnknownLanguageError as e:  # named with the option and a value that works
            raise UnknownLanguageError(
                f"--forget-sets {value!r} (fake language {fake_lang}): {e}; pass languages the data has, "
                f"e.g. --forget-sets '{option_example(value, langs)}'"
            ) from None
        if all(set(codes) != set(c) for _, c in out):
            out.append((label, codes))
    return out


# --- Evaluation ------------------------------------------------------------------------------
def parse_judge(spec: str | None) -> Judge | None:
    """None, "hf:PATH" (a local HF model) or "openai:URL,MODEL" (an OpenAI-compatible endpoint,
    checked now so an unreachable one stops the run before any training)."""
    if not spec:
        return None
    kind, _, arg = spec.partition(":")
    if kind == "hf" and arg:
        judge = HFJudge(arg)
        judge._load()  # a missing or broken judge model stops the run now
        return judge
    if kind == "openai" and "," in arg:
        url, model = (x.strip() for x in arg.rsplit(",", 1))
        # Local servers usually need no key: send one only when the variable is set.
        judge = OpenAIJudge(url, model, api_key_env="OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else None)
        judge.check()
        return judge
    raise ValueError(f"bad --judge {spec!r}; use hf:PATH or openai:URL,MODEL")


def evaluate_news(
    model: torch.nn.Module,
    tok,
    qas: Sequence[NewsQA],
    judge: Judge | None = None,
    max_new_tokens: int | None = None,
    judge_name: str = "keys+likelihood",
) -> list[dict]:
    """One record per question: greedy answer, mean NLL of its real and fake answers (fake-story
    questions), the key-matching verdict and the final verdict. max_new_tokens None = the longest
    real or fake answer plus max(16, 25%) (records.auto_budget)."""
    enc = Encoder(tok)
    if max_new_tokens is None:
        max_new_tokens = auto_budget(
            [qa_to_item(q) for q in qas] + [qa_to_item(q, "fake") for q in qas if q.has_fake], enc
        )
    generated = generate_answers(model, enc, [(q.question, q.language) for q in qas], max_new_tokens=max_new_tokens)
    fake_qs = [i for i, q in enumerate(qas) if q.has_fake]
    scores = score_pairs(
        model,
        enc,
        [(qas[i].question, a, qas[i].language) for i in fake_qs for a in (qas[i].real_answer, qas[i].fake_answer)],
    )
    nll = {i: (scores[2 * k].mean_nll, scores[2 * k + 1].mean_nll) for k, i in enumerate(fake_qs)}
    langs = sorted({q.language for q in qas})  # language identification chooses among the study's languages
    records = []
    for i, (q, g) in enumerate(zip(qas, generated)):
        real_nll, fake_nll = nll.get(i, (None, None))
        verdict = judge(g, q) if judge is not None else combined_verdict(g, q, real_nll, fake_nll)
        records.append(
            {
                "id": q.id,
                "story_id": q.story_id,
                "language": q.language,
                "has_fake": q.has_fake,
                "question": q.question,
                "generated": g,
                "real_key": q.real_key,
                "fake_key": q.fake_key,
                "real_nll": real_nll,
                "fake_nll": fake_nll,
                "key_verdict": judge_answer(g, q),
                "verdict": verdict,
                "judge": judge_name,
                "answer_language": identify(g, langs)[0],
            }
        )
    return records


def summarize_news(records: Sequence[dict]) -> pd.DataFrame:
    """Per language: OF and QR (judge.of_rate / qr_score on the final verdicts), OF_keys (OF from
    key matching alone: how much of OF the generated text itself shows), the share of fake-story
    answers judged "real" and "both", nll_gap (mean real_nll - fake_nll over fake-story questions:
    > 0 = the model finds the fake answer more likely; a graded companion of OF) and the counts."""
    rows = []
    for lang in dict.fromkeys(r["language"] for r in records):
        fake = [r for r in records if r["language"] == lang and r["has_fake"]]
        real = [r for r in records if r["language"] == lang and not r["has_fake"]]
        v = [r["verdict"] for r in fake]
        gaps = [
            r["real_nll"] - r["fake_nll"]
            for r in fake
            if r.get("real_nll") is not None and r.get("fake_nll") is not None
        ]
        rows.append(
            {
                "language": lang,
                "OF": of_rate(v),
                "QR": qr_score(r["verdict"] for r in real),
                "OF_keys": of_rate(r["key_verdict"] for r in fake),
                "real_share": (v.count("real") / len(v)) if v else float("nan"),
                "both_share": (v.count("both") / len(v)) if v else float("nan"),
                "nll_gap": sum(gaps) / len(gaps) if gaps else float("nan"),
                "n_fake": len(fake),
                "n_real": len(real),
            }
            | _language_confusion(lang, fake, real)
        )
    return pd.DataFrame(rows)


def _language_confusion(lang: str, fake: Sequence[dict], real: Sequence[dict]) -> dict[str, float]:
    """A wrong-language answer counted apart from a forgotten one: the share of answers written
    in another language (evaluation/confusion.py), and OF / QR over the answers in `lang` only
    (the plain OF counts a wrong-language answer as not stating the fake claim)."""
    answered = [r for r in (*fake, *real) if r.get("answer_language")]
    wrong = {id(r) for r in answered if r["answer_language"] != lang}
    return {
        "wrong_language_share": len(wrong) / len(answered) if answered else float("nan"),
        "OF_right_language": of_rate(r["verdict"] for r in fake if id(r) not in wrong),
        "QR_right_language": qr_score(r["verdict"] for r in real if id(r) not in wrong),
    }


def news_evaluation(qas: Sequence[NewsQA], judge: Judge | None, cfg: StudyAConfig) -> Evaluation:
    """Every question answered and judged (items.jsonl) and OF/QR per language (summary.csv)."""
    judge_name = cfg.judge or "keys+likelihood"

    def run(model, tok, folder: Path) -> pd.DataFrame:
        records = evaluate_news(model, tok, qas, judge, cfg.max_new_tokens, judge_name)
        summary = summarize_news(records)
        write_eval(folder, records, summary)
        return summary

    return Evaluation(
        {"judge": judge_name, "max_new_tokens": cfg.max_new_tokens, "questions": fingerprint([asdict(q) for q in qas])},
        run,
    )


# --- Learning --------------------------------------------------------------------------------
def _with_lora(model: torch.nn.Module, cfg: StudyAConfig) -> torch.nn.Module:
    return cfg.model_choice().with_lora(model)


def _merged(model: torch.nn.Module) -> torch.nn.Module:
    return model.merge_and_unload() if is_peft(model) else model


def learn_docs(
    model: torch.nn.Module,
    tok,
    corpus: Sequence[dict],
    cfg: TrainConfig,
    checkpoint_dir: Path | None = None,
    desc: str = "docs",
    pack: int | None = None,
):
    """Phase 1: next-token loss on the whole text of every document (the generic train loop);
    `pack`: documents packed into blocks of that many tokens (study_a_data.pack_documents)."""
    data = (
        pack_documents(tok, [r["text"] for r in corpus], pack)
        if pack
        else [encode_text(tok, r["text"]) for r in corpus]
    )

    def loss_fn(m, batch, _):
        return mean_nll(forward_logits(m, batch), batch["labels"]), {}

    return train(model, loss_fn, data, cfg, tok.pad_token_id, checkpoint_dir=checkpoint_dir, desc=desc)


def learn_model(
    folder: Path,
    cfg: StudyAConfig,
    tok,
    stories,
    items: Sequence[QAItem],
    fake_lang: str | None,
    news_id: str,
    console: Console,
) -> None:
    """Both learning phases for one model (clean or contaminated): a learn run folder with the
    model in folder/model; `items` are the phase-2 instruction items. Each phase checkpoints
    (ckpt/docs, ckpt/instruct), so an interruption resumes; a done folder with the same identity
    is skipped."""
    corpus = learn_corpus(stories, fake_lang, cfg.replace_real)

    def train_fn(model: torch.nn.Module, ck: Path):
        write_jsonl(folder / "corpus.jsonl", corpus)
        model, h1 = learn_docs(model, tok, corpus, cfg.docs, ck / "docs", f"{folder.name}: documents", cfg.pack)
        model, h2 = learn(
            _with_lora(_merged(model), cfg),
            tok,
            items,
            cfg.instruct,
            checkpoint_dir=ck / "instruct",
            desc=f"{folder.name}: Q&A",
        )
        console.print(
            f"{folder.name}: {len(corpus)} documents (loss {h1[-1]['loss']:.3f}), {len(items)} Q&A (loss {h2[-1]['loss']:.3f})"
        )
        return _merged(model), h1 + h2

    choice = cfg.model_choice()
    ident = {
        "model": choice.fingerprint(),
        "news": news_id,
        "fake_lang": fake_lang,
        "replace_real": cfg.replace_real,
        "instruct_on": cfg.instruct_on,
        "docs": cfg.docs,
        "instruct": cfg.instruct,
        "pack": cfg.pack,
        "lora_r": choice.lora_r,
        "lora": choice.lora_identity(),
        "seed": cfg.seed,
        "vocab_size": cfg.vocab_size if choice.tiny else None,
    }
    learn_step(
        folder,
        build=lambda: choice.build(tok),
        train_fn=train_fn,
        identity=ident,
        tokenizer=tok,
        what=folder.name,
        console=console,
    )


def unlearn_items(qas: Sequence[NewsQA], instruct_on: str = "real-only") -> list[QAItem]:
    """Forget = every fake-story question with its FAKE answer; retain = the instruction items.
    pipeline/phases.unlearn_sets picks both in the forget languages."""
    forget = [qa_to_item(q, "fake", "forget") for q in qas if q.has_fake]
    return forget + instruct_items(qas, instruct_on)


# --- The study -------------------------------------------------------------------------------
def run_study_a(cfg: StudyAConfig, console: Console | None = None, overwrite: bool = False) -> dict:
    console = console or Console()
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    out = Path(cfg.out)
    data = _load_data(cfg, console)
    langs = data.languages
    # A fake language or forget set outside the data: an error now, naming the option, before any model.
    fake_langs = option_languages("--fake-langs", ",".join(cfg.fake_langs), list(cfg.fake_langs), langs)
    sets = {fl: forget_sets(cfg.forget_sets, fl, langs) for fl in fake_langs}
    judge = parse_judge(cfg.judge)  # fails now, not after an hour of training
    news_id = data.fingerprint()
    with RunFolder(
        out,
        cfg.identity() | {"news": news_id},
        kind="study-a",
        info={"data": cfg.data, "fake_langs": fake_langs},
        overwrite=overwrite,
    ) as top:
        # 1. data (written once, read back: what every step and the user see) and tokenizer
        data_path = out / "data" / data.file_name
        if not data_path.exists():
            write_with(data_path, data.save)  # atomic; the temp name keeps the suffix, which picks the format
        data = load_study_a_data(str(data_path), ",".join(langs))
        n_questions = len(data.qas) if data.truthful is None else len(data.truthful.questions)
        console.print(
            f"news ({data.kind}): {len(data.stories)} stories, {n_questions} questions in {len(langs)} languages ({', '.join(langs)}) -> {data_path}"
        )
        tok = (
            tokenizer_for(data.texts(), out / "tokenizer", cfg.vocab_size)
            if cfg.model_choice().tiny
            else load_tokenizer(cfg.model)
        )
        if data.truthful is not None:
            evaluation, instruct, metrics = (
                truthful_evaluation(data.truthful, cfg.max_new_tokens),
                truthful_instruct_items(data.truthful),
                ("OF", "QR"),
            )
        else:
            evaluation, instruct, metrics = (
                news_evaluation(data.qas, judge, cfg),
                instruct_items(data.qas, cfg.instruct_on),
                ("OF", "QR", "nll_gap"),
            )

        # 2-3. clean and contaminated models, evaluated in every query language
        before = _learn_and_evaluate(out, cfg, tok, data, instruct, fake_langs, news_id, evaluation, console)
        clean = before.pop("clean")
        # 4. unlearning: one run per fake language and forget set, each from the contaminated model
        run_name = cfg.method if cfg.unlearn_on == "qa" else f"{cfg.method}-text"
        after = _unlearn_runs(
            out, cfg, tok, _unlearn_items(cfg, data), fake_langs, sets, run_name, news_id, evaluation, console
        )

        # 5. matrices: spread before unlearning, change after, paired per-question tests
        written = write_study_matrices(out, run_name, langs, fake_langs, sets, clean, before, after, metrics)
        result = write_report(out, cfg, langs, fake_langs, sets, clean, before, after, written, t0, console)
        top.finish({"minutes": result["minutes"]})
    return result


def _learn_and_evaluate(
    out: Path,
    cfg: StudyAConfig,
    tok: Any,
    data: StudyAData,
    instruct: Sequence[QAItem],
    fake_langs: Sequence[str],
    news_id: str,
    evaluation: Evaluation,
    console: Console,
) -> dict[str, pd.DataFrame]:
    """The clean model and one contaminated model per fake language, each learned in its run
    folder and evaluated in every query language: {"clean" | "fake-<lang>": summary}."""
    before: dict[str, pd.DataFrame] = {}
    for fl in [None, *fake_langs]:
        name = "clean" if fl is None else f"fake-{fl}"
        learn_model(out / "models" / name, cfg, tok, data.stories, instruct, fl, news_id, console)
        model_dir = out / "models" / name / "model"
        before[name] = evaluation_step(
            out / "eval" / name,
            load=lambda d=model_dir: load_model(str(d)),
            identity={"model": model_fingerprint(str(model_dir))},
            tokenizer=tok,
            evaluation=evaluation,
            what=f"eval ({name})",
            console=console,
        )[1]
    return before


def _unlearn_runs(
    out: Path,
    cfg: StudyAConfig,
    tok: Any,
    items: Sequence[QAItem],
    fake_langs: Sequence[str],
    sets: Mapping[str, Sequence[tuple[str, list[str]]]],
    run_name: str,
    news_id: str,
    evaluation: Evaluation,
    console: Console,
) -> dict[str, dict[str, pd.DataFrame]]:
    """One unlearning run per fake language and forget set, each from that language's
    contaminated model: {fake language: {forget-set label: summary after}}."""
    after: dict[str, dict[str, pd.DataFrame]] = {}
    train = replace(
        cfg.unlearn, seed=cfg.seed, prompt_format="text" if cfg.unlearn_on == "text" else cfg.unlearn.prompt_format
    )
    for fl in fake_langs:
        model_dir = out / "models" / f"fake-{fl}" / "model"
        for label, forget_langs in sets[fl]:
            ucfg = UnlearnConfig(method=cfg.method, forget_langs=",".join(forget_langs), train=train)
            res = unlearn_step(
                out / "unlearn" / f"fake-{fl}" / f"{run_name}__{label}",
                load=lambda d=model_dir: _with_lora(load_model(str(d)), cfg),
                identity={
                    "model": model_fingerprint(str(model_dir)),
                    "news": news_id,
                    "instruct_on": cfg.instruct_on,
                    "unlearn_on": cfg.unlearn_on,
                    "lora": cfg.model_choice().lora_identity(),
                },
                tokenizer=tok,
                items=items,
                cfg=ucfg,
                evaluation=evaluation,
                console=console,
                what=f"unlearn {cfg.method} on {'the fake articles' if cfg.unlearn_on == 'text' else 'Q&A'} (fake {fl}, forget {label})",
            )
            after.setdefault(fl, {})[label] = res.summary
    return after


def _load_data(cfg: StudyAConfig, console: Console) -> StudyAData:
    """cfg.data in cfg.languages, with the checks that need the data's shape."""
    from polyunlearn.data.news_truthful import parse_columns
    from polyunlearn.data.schema import describe_skipped

    skipped: list = []
    data = load_study_a_data(cfg.data, cfg.languages, skipped=skipped, columns=parse_columns(cfg.columns))
    if skipped:
        console.print(f"[yellow]warning:[/yellow] {describe_skipped(skipped)}")
    if data.truthful is not None:
        if cfg.judge:
            raise ValueError(
                "--judge works with the answer-key news format only; on news-truthful data OF is the keyword judge (judge.contains_keyword)"
            )
        if cfg.instruct_on != "real-only":
            raise ValueError(
                "--instruct-on does not apply to news-truthful data: phase 2 trains on every sft_qas pair (all on the real articles)"
            )
        if cfg.unlearn_on == "qa":
            truthful_qa_unlearn_items(data.truthful)  # fake_answer missing: an error now, before any training
    return data


def _unlearn_items(cfg: StudyAConfig, data: StudyAData) -> list[QAItem]:
    """What unlearning trains on: the fake articles (text), or the fake-answer Q&A items with the
    instruction items as retain set (qa)."""
    if cfg.unlearn_on == "text":
        return text_unlearn_items(data.stories)
    if data.truthful is not None:
        return truthful_qa_unlearn_items(data.truthful)
    return unlearn_items(data.qas, cfg.instruct_on)


def dry_run_study_a(cfg: StudyAConfig, console: Console | None = None) -> None:
    """`study-a --dry-run`: every input checked as the run checks it (the data and its languages,
    the fake languages, the forget sets, the judge, the model), offline (the caller holds
    core.hubcache.offline): a hub model or data set is looked up in the local cache only. Prints
    the plan (one contaminated model per fake language, one unlearning run per forget set) and
    what would happen in OUT; loads no model, trains nothing."""
    from polyunlearn.core import hubcache
    from polyunlearn.core.models import looks_like_path
    from polyunlearn.core.rundir import folder_status
    from polyunlearn.data.loaders import NotCached

    console = console or Console()
    unchecked: list[str] = []
    parse_judge(cfg.judge)
    if cfg.model_choice().tiny:
        console.print(f"model {cfg.model}: built here (tokenizer trained on the news)", markup=False)
    elif looks_like_path(cfg.model):
        if not (Path(cfg.model) / "config.json").is_file():
            raise DataError(f"--model {cfg.model}: no such model folder (no config.json)")
        console.print(f"model {cfg.model}: a local folder", markup=False)
    else:
        console.print(f"model {cfg.model}: {hubcache.model_state(cfg.model)}", markup=False)
    try:
        data = _load_data(cfg, console)
    except NotCached as e:
        unchecked.append(f"the data {e} (its languages, fake languages and forget sets)")
        data = None
    if data is not None:
        langs = data.languages
        fake_langs = option_languages("--fake-langs", ",".join(cfg.fake_langs), list(cfg.fake_langs), langs)
        for fl in fake_langs:
            sets = forget_sets(cfg.forget_sets, fl, langs)
            console.print(
                f"fake news in {fl}: a contaminated model, then {cfg.method} ({cfg.unlearn_on}) in "
                + "; ".join(f"{name} ({','.join(ls)})" for name, ls in sets),
                markup=False,
            )
    for what in unchecked:
        console.print(f"not checked: {what}", markup=False)
    out = Path(cfg.out)
    status = (
        folder_status(out, cfg.identity() | {"news": data.fingerprint()}, "study-a")
        if data is not None
        else "whether a run there would be reused is known once the data is downloaded"
    )
    valid = "every input is valid" if not unchecked else "every input checked is valid"
    console.print(f"dry run: {valid}; {out}: {status}", markup=False)
