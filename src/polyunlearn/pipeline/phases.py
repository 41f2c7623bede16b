"""The three phases as library calls: learn (fine-tune until the facts are known), unlearn (a
registered method on the forget set of chosen languages), evaluate (records + per-language
summary written atomically); plus the unlearning config and the learning-rate defaults. The run
folders around them (rerun, resume, lock) are pipeline/step.py's."""

from __future__ import annotations

import math
import shutil
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from polyunlearn.analysis.epoch_curves import SELECT_RULES
from polyunlearn.core.atomic import read_json, write_json
from polyunlearn.core.config import check_choice, check_number, setting
from polyunlearn.core.encoding import Encoded, Encoder
from polyunlearn.core.languages import language_index, parse_langs
from polyunlearn.core.logprobs import mean_nll
from polyunlearn.core.models import TINY_MAX_PARAMETERS
from polyunlearn.core.rundir import write_eval
from polyunlearn.core.trainloop import TrainConfig, resume_point, train
from polyunlearn.data.alternates import alternate_for, alternates_digest, check_alternates
from polyunlearn.data.idk import idk_answer
from polyunlearn.data.schema import DataError, QAItem, trainable, training_split
from polyunlearn.evaluation.records import EvalConfig, score_items, summarize
from polyunlearn.methods.reference import Reference, forward_logits
from polyunlearn.methods.registry import METHODS, Context, get_method, logged_state


def select(items: Sequence[QAItem], splits: Sequence[str], languages: Sequence[str] | None = None) -> list[QAItem]:
    langs = set(languages) if languages is not None else None
    return [it for it in items if it.split in splits and (langs is None or it.language in langs)]


def item_languages(items: Sequence[QAItem]) -> list[str]:
    return list(dict.fromkeys(it.language for it in items))


def learn(
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    desc: str = "learn",
) -> tuple[torch.nn.Module, list[dict]]:
    """Fine-tune on question -> answer of `items` (loss = NLL of the answer tokens only).
    Holdout items are skipped: they are the never-seen side of the membership AUC, so passing
    a whole benchmark here is safe."""
    items = trainable(items)
    if not items:
        raise DataError(f"{desc}: no items to train on")
    enc = Encoder(tokenizer, prompt_format=cfg.prompt_format)
    data = [enc.encode(it.question, it.answer, it.language) for it in items]

    def loss_fn(m, batch, _):
        return mean_nll(forward_logits(m, batch), batch["labels"]), {}

    result = train(
        model, loss_fn, data, cfg, tokenizer.pad_token_id, checkpoint_dir=checkpoint_dir, desc=desc, progress=progress
    )
    return main_process_continues(result)


# The learning-rate defaults, in one place: tiny models trained from scratch need large steps;
# LoRA adapters 1e-4 and full fine-tuning 1e-5 (spec.md "Defaults worth matching at real scale").
TINY_LR = {"learn": 3e-3, "unlearn": 5e-4}
LORA_LR, FULL_LR = 1e-4, 1e-5


def default_lr(phase: str, tiny: bool, lora: bool) -> float:
    """The learning rate a command uses when none is given: tiny (3e-3 learn, 5e-4 unlearn),
    LoRA 1e-4, full fine-tuning 1e-5."""
    if phase not in TINY_LR:
        raise ValueError(f"phase must be one of {', '.join(TINY_LR)}, got {phase!r}")
    return TINY_LR[phase] if tiny else LORA_LR if lora else FULL_LR


def short_float(x: float) -> str:
    """3e-3, not 0.003: how the learning rates read in help texts."""
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def lr_rule(phase: str | None = None) -> str:
    """default_lr in words, for the help of every option that leaves the lr to it: one phase's
    values, or both phases' (None)."""
    tiny = (
        " learning / ".join(short_float(TINY_LR[p]) for p in TINY_LR) + " unlearning"
        if phase is None
        else short_float(TINY_LR[phase])
    )
    return (
        f"default {tiny} (tiny: 'tiny'/'tiny-cohere' or a model folder under {TINY_MAX_PARAMETERS // 10**6}M "
        f"parameters, e.g. a learned tiny model), {short_float(LORA_LR)} (LoRA), {short_float(FULL_LR)} (full fine-tuning)"
    )


# How a forget set of N languages is made: every item in every language (N x the items), or item i
# in language i mod N only (as many items as one language; a follow-up study of arXiv 2601.05641
# on Aya-Expanse-8B found interleave kept retain Prob at 0.71 where concat fell to 0.13-0.28).
LANGUAGE_MIXES = ("concat", "interleave")


@dataclass(frozen=True)
class UnlearnConfig:
    """One unlearning run: the method, its hyperparameters, the languages and the training
    settings. Checked when built (method known, every hyperparameter declared by the method and
    in range, gamma and alpha finite and >= 0); the method's defaults are filled in, so the saved
    config says exactly what ran."""

    method: str = setting("npo", "unlearning method (see `polyunlearn methods`)")
    forget_langs: str = setting("en", "languages whose forget split is unlearned: comma list or 'all'")
    retain_langs: str = setting("same", "retain-set languages: 'same' (= the forget languages), a comma list, or 'all'")
    language_mix: str = setting(
        "concat",
        "forget set of several languages: concat (every forget item in every forget language) or interleave (forget item i in forget language i mod N only)",
        choices=LANGUAGE_MIXES,
    )
    gamma: float = setting(1.0, "forget-term weight (>= 0)")
    alpha: float | None = setting(
        None, "retain-term weight (>= 0); default 1.0 for methods with a retain term (none for grad_ascent)"
    )
    kl_text: str | None = setting(
        None,
        "general text set of methods with a KL term on one (grad_diff_kl_text): a .txt file (a text per line), a file with a 'text' or 'best_answer' column, or a hub id (truthfulqa/truthful_qa: its best answers)",
    )
    eval_every: int = setting(
        0,
        "evaluate the forget and retain sets of every language every N epochs during unlearning (0 = never; the last epoch always): OUT/curves.csv|png",
    )
    select: str = setting(
        "last",
        "which evaluated epoch's model is the run's result: last; first-below-retain (the first whose mean forget Prob over the forget "
        "languages is at or below the retain model's); best-fq-mu (the highest harmonic mean of mean Forget Quality and mean Model Utility "
        "over the forget languages). The last two need the retain model's evaluation",
        choices=SELECT_RULES,
    )
    curve_generate: bool | None = setting(
        None,
        "per-epoch evaluations also generate greedy answers (ROUGE, Model Utility; several times slower); "
        "default: only when select is best-fq-mu, which needs Model Utility",
    )
    curve_retain_items: int = setting(
        0,
        "retain items per language in each per-epoch evaluation, the first N in the data (0 = all); the forget split is always whole",
    )
    params: dict[str, Any] = setting(
        default_factory=dict,
        help="the method's own hyperparameters (`polyunlearn methods`); unset ones take the method's default",
        cli=False,
    )
    train: TrainConfig = setting(default_factory=TrainConfig, help="training settings", cli=False)

    def __post_init__(self) -> None:
        spec = get_method(self.method)
        params = spec.resolve(self.params)
        if params.get("rmu_seed", 0) is None:
            params["rmu_seed"] = self.train.seed  # RMU's random direction follows the run's seed
        object.__setattr__(self, "params", params)
        check_choice("language_mix", self.language_mix, LANGUAGE_MIXES)
        check_number("gamma", self.gamma, minimum=0)
        if spec.has_retain_term:
            object.__setattr__(self, "alpha", 1.0 if self.alpha is None else self.alpha)
            check_number("alpha", self.alpha, minimum=0)
        elif self.alpha not in (None, 0, 0.0):
            raise ValueError(f"alpha does not apply to method {self.method!r}: it has no retain term")
        if spec.needs_text and not self.kl_text:
            raise ValueError(
                f"method {self.method!r} takes its KL term on a general text set: give kl_text (--kl-text FILE, or truthfulqa/truthful_qa)"
            )
        if self.kl_text and not spec.needs_text:
            users = ", ".join(sorted(n for n, m in METHODS.items() if m.needs_text))
            raise ValueError(
                f"kl_text does not apply to method {self.method!r}: only {users} take a KL term on a general text set"
            )
        if not isinstance(self.train, TrainConfig):
            raise ValueError(f"train must be a TrainConfig, got {type(self.train).__name__}")
        self._check_curves()

    def _check_curves(self) -> None:
        """--eval-every / --select / --curve-*: a rule other than last needs per-epoch
        evaluations, best-fq-mu needs Model Utility (greedy answers) at each of them."""
        check_number("eval_every", self.eval_every, minimum=0, integer=True)
        check_number("curve_retain_items", self.curve_retain_items, minimum=0, integer=True)
        check_choice("select", self.select, SELECT_RULES)
        if self.select != "last" and not self.eval_every:
            raise ValueError(
                f"select {self.select} picks among per-epoch evaluations: set eval_every >= 1 (--eval-every)"
            )
        if self.select == "best-fq-mu" and self.curve_generate is False:
            raise ValueError(
                "select best-fq-mu needs Model Utility at every evaluated epoch, which needs greedy answers: drop --no-curve-generate"
            )
        if self.curve_generate is None:  # resolved, so the saved config says what ran
            object.__setattr__(self, "curve_generate", self.select == "best-fq-mu")

    def to_dict(self) -> dict:
        return asdict(self)


def unlearn_sets(items: Sequence[QAItem], cfg: UnlearnConfig) -> tuple[list[QAItem], list[QAItem], list[str]]:
    """The forget set (forget split in the chosen languages) and retain set; clear errors when
    a language is unknown, the forget set is empty, or the method has a retain term (alpha > 0)
    but there are no retain items: that term is never silently dropped."""
    available = item_languages(items)
    forget_langs = parse_langs(cfg.forget_langs, available)
    retain_langs = forget_langs if cfg.retain_langs == "same" else parse_langs(cfg.retain_langs, available)
    forget = training_items(items, "forget", forget_langs)
    if cfg.language_mix == "interleave":
        forget = interleave(forget, forget_langs)
    if not forget:
        raise DataError(f"empty forget set: no items with split 'forget' in language(s) {', '.join(forget_langs)}")
    retain = training_items(items, "retain", retain_langs)
    if not retain and get_method(cfg.method).has_retain_term and cfg.alpha:
        raise DataError(
            f"no retain items (split 'retain') in language(s) {', '.join(retain_langs)}, but {cfg.method} has a retain term with alpha {cfg.alpha:g}; "
            "give data with a retain split, other --retain-langs, or --alpha 0 to unlearn without it"
        )
    return forget, retain, forget_langs


def check_unlearn_plan(
    items: Sequence[QAItem],
    forget_sets: Sequence[str],
    methods: Sequence[str],
    alpha: float | None = None,
    option: str = "--forget-sets",
) -> None:
    """Every unlearning run of a study (each method x forget set) checked against its data
    before any model is built or loaded: a forget language the data lacks (the error names
    `option`, the languages present and a value that works), an empty forget set, a retain term
    without retain items (unlearn_sets). `alpha`: of the methods with a retain term."""
    from polyunlearn.core.languages import option_languages

    available = item_languages(items)
    value = ";".join(forget_sets)
    for fset in forget_sets:
        option_languages(option, value, fset, available)
        for method in methods:
            has_retain = get_method(method).has_retain_term
            unlearn_sets(items, UnlearnConfig(method=method, forget_langs=fset, alpha=alpha if has_retain else None))


def interleave(forget: Sequence[QAItem], languages: Sequence[str]) -> list[QAItem]:
    """--language-mix interleave: forget item i (ids in data order) in language i mod N only. An
    item missing in the language it falls to is an error naming both: it is never moved to
    another language or dropped."""
    by_key = {it.key: it for it in forget}
    ids = list(dict.fromkeys(it.id for it in forget))
    out = []
    for i, item_id in enumerate(ids):
        lang = languages[i % len(languages)]
        if (item_id, lang) not in by_key:
            raise DataError(
                f"--language-mix interleave: forget item {item_id!r} (number {i}) falls to language {lang!r}, which has no such item; "
                "give data with every forget item in every forget language, or --language-mix concat"
            )
        out.append(by_key[(item_id, lang)])
    return out


def training_items(items: Sequence[QAItem], split: str, languages: Sequence[str]) -> list[QAItem]:
    """The items that train `split` ("forget" / "retain") in `languages`: per language its
    training-only copy ("forget_train", e.g. TOFU's forget01) when the data has one, else the
    split itself (data/schema.training_split)."""
    return [it for lang in languages for it in select(items, [training_split(items, split, lang)], [lang])]


def alternate_identity(
    items: Sequence[QAItem], cfg: UnlearnConfig, alternates: Mapping[tuple[str, str], str] | None
) -> dict:
    """What a run's identity gains from its alternates: for a method that needs them, their hash
    over its forget set (checked to cover it: an error names the item); otherwise nothing, so the
    run's id does not depend on them."""
    if not get_method(cfg.method).needs_alternate:
        return {}
    forget = unlearn_sets(items, cfg)[0]
    check_alternates(forget, alternates, cfg.method)
    return {"alternates_sha256": alternates_digest(forget, alternates)}


def idk_for(item: QAItem) -> str:
    """The "I don't know" answer of a forget item, in its own language. Picked by a stable hash of
    the id (crc32, not Python's salted hash()) so reruns and resumed runs train on the same text."""
    return idk_answer(item.language, zlib.crc32(item.id.encode("utf-8")))


def encode_forget(
    enc: Encoder, forget: Sequence[QAItem], method: str, alternates: Mapping[tuple[str, str], str] | None = None
) -> list[Encoded]:
    """Forget items as (question, answer) encodings; for methods that need it (needs_idk) each also carries the
    same question with its "I don't know" answer as extra "idk" (collated to idk_input_ids, ...), with its
    alternate answer (needs_alternate; from `alternates`, {(id, language): text}) as extra "alt", and its
    language index (needs_language; collated to "language")."""
    spec = get_method(method)
    data = [enc.encode(it.question, it.answer, it.language) for it in forget]
    if spec.needs_idk:
        target = spec.idk_target or idk_for  # a method may name its own target (concept_mcq: the "Unknown" option)
        data = [
            replace(e, extra=(("idk", enc.encode(it.question, target(it), it.language)),))
            for e, it in zip(data, forget)
        ]
    if spec.needs_alternate:
        check_alternates(forget, alternates, method)
        data = [
            replace(e, extra=e.extra + (("alt", enc.encode(it.question, alternate_for(it, alternates), it.language)),))
            for e, it in zip(data, forget)
        ]
    return with_languages(data, forget) if spec.needs_language else data


def with_languages(data: Sequence[Encoded], items: Sequence[QAItem]) -> list[Encoded]:
    """`data` with each encoding's language index set from its item (core.languages.language_index)."""
    return [replace(e, language=language_index(it.language)) for e, it in zip(data, items)]


def seed_state(ctx: Context, n_forget: int, cfg: TrainConfig, checkpoint_dir: str | Path | None) -> None:
    """Context.state before the first step: forget batches per epoch and process, batches done,
    and, when train() will resume from `checkpoint_dir`, the state the method logged last."""
    import os

    # Processes from the launcher's WORLD_SIZE (torchrun, accelerate launch): creating accelerate's
    # PartialState here, before train()'s Accelerator, changes how the processes are set up.
    per_epoch = math.ceil(math.ceil(n_forget / cfg.batch_size) / int(os.environ.get("WORLD_SIZE", "1")))
    epochs_done, history = resume_point(checkpoint_dir)
    ctx.state.update(batches_per_epoch=per_epoch, batch=epochs_done * per_epoch)
    if history:
        ctx.state.update(logged_state(history[-1]))


def general_texts(cfg: UnlearnConfig) -> list[str] | None:
    """The general text set of `cfg` (data/general_text.py), or None when it has none."""
    from polyunlearn.data.general_text import load_general_text

    return load_general_text(cfg.kl_text) if cfg.kl_text else None


def encode_retain(enc: Encoder, retain: Sequence[QAItem], cfg: UnlearnConfig) -> list[Encoded] | None:
    """Retain items as (question, answer) encodings; for a method with a term on a general text set
    (needs_text) each also carries a text as extra "kl" (the whole text scored, no prompt frame):
    max(retain, texts) encodings, both lists cycled, so every retain item and every text is used."""
    data = [enc.encode(it.question, it.answer, it.language) for it in retain]
    if not get_method(cfg.method).needs_text:
        return data or None
    if not data:
        raise DataError(f"{cfg.method}: its general texts ride with the retain batches, and there are no retain items")
    texts = general_texts(cfg) or []
    text_enc = Encoder(enc.tok, enc.max_length, "text")
    kl = [text_enc.encode("", t) for t in texts]
    return [replace(data[i % len(data)], extra=(("kl", kl[i % len(kl)]),)) for i in range(max(len(data), len(kl)))]


def unlearn(
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: UnlearnConfig,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    alternates: Mapping[tuple[str, str], str] | None = None,
    on_epoch_end: Callable[[int, torch.nn.Module], None] | None = None,
) -> tuple[torch.nn.Module, list[dict]]:
    """Unlearn the forget set of `cfg` from `model` (in place) with cfg.method; `alternates`
    ({(id, language): answer}, data.alternates) are the winners of methods that need them (altpo);
    `on_epoch_end(epoch, model)` runs after each epoch (core.trainloop.train; the per-epoch
    evaluation of pipeline/epoch_eval.py)."""
    method = get_method(cfg.method)
    forget, retain, langs = unlearn_sets(items, cfg)
    enc = Encoder(tokenizer, prompt_format=cfg.train.prompt_format)
    f_data = encode_forget(enc, forget, cfg.method, alternates)
    r_data = encode_retain(enc, retain, cfg)
    if r_data and method.needs_language:
        r_data = with_languages(r_data, retain)
    # The reference is made before the first update: a frozen copy, or (LoRA) the adapters off.
    ref = Reference(model) if method.needs_reference(cfg.params) else None
    ctx = method.context(model, ref, gamma=cfg.gamma, alpha=cfg.alpha or 0.0, **cfg.params)
    seed_state(ctx, len(f_data), cfg.train, checkpoint_dir)

    def loss_fn(m, forget_batch, retain_batch):
        ctx.model = m
        return method(ctx, forget_batch, retain_batch)

    # Parentheses, not brackets: rich (progress bar, CLI error line) reads "[en]" as markup and drops it.
    desc = f"unlearn {cfg.method} ({','.join(langs)})"
    result = train(
        model,
        loss_fn,
        f_data,
        cfg.train,
        tokenizer.pad_token_id,
        paired=r_data,
        checkpoint_dir=checkpoint_dir,
        desc=desc,
        progress=progress,
        on_epoch_end=on_epoch_end,
    )
    ctx.model = ctx.reference = ref = None  # free the reference copy (GPU memory) before what follows
    return main_process_continues(result)


def main_process_continues(result: tuple[torch.nn.Module, list[dict]]) -> tuple[torch.nn.Module, list[dict]]:
    """In a multi-process launch (`accelerate launch` / torchrun), training is the only part
    that needs every process; what callers do next - save the model, evaluate, write results -
    is the main process's job, and the others would race on the same files. So the other
    processes leave here (exit code 0) once all have finished training; the main one returns,
    with the model on its device (after FSDP / ZeRO-3, train() hands back gathered CPU weights).
    A single process returns `result` as it is."""
    from accelerate import PartialState

    state = PartialState()
    if state.num_processes > 1:
        state.wait_for_everyone()
        if not state.is_main_process:
            state.destroy_process_group()
            raise SystemExit(0)
        model, history = result
        return model.to(state.device), history
    return result


def evaluate_to(
    out_dir: str | Path,
    model: torch.nn.Module,
    tokenizer,
    items: Sequence[QAItem],
    cfg: EvalConfig | None = None,
    retain_model_records: Sequence[dict] | None = None,
    extend: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
):
    """Evaluate and write items.jsonl, the reference-named exports and summary.csv under
    out_dir; returns (records, summary). `extend` adds columns to the summary (lm-eval's
    per-language scores) before it is written. summary.csv is written last, so its presence
    marks a finished evaluation."""
    from polyunlearn.evaluation.export import write_reference_exports

    out = Path(out_dir)
    records = score_items(model, tokenizer, items, cfg)
    summary = summarize(records, retain_model_records)
    if extend is not None:
        summary = extend(summary)
    # between: the same numbers in TOFU's / open-unlearning's naming
    write_eval(out, records, summary, between=lambda: write_reference_exports(out, summary))
    return records, summary


def item_texts(items: Sequence[QAItem]) -> list[str]:
    """Every string of the benchmark (what a tokenizer for it is trained on). Holdout items are
    included on purpose: members and non-members must be tokenized alike, as a real LLM's fixed
    tokenizer treats both. Trained without them, the holdout names split into rarer pieces
    and even the retain model, which saw neither side, told forget from holdout (loss AUC
    0.88-0.94 on the demo)."""
    return [t for it in items for t in (it.question, it.answer, it.paraphrased_answer, *it.perturbed_answer) if t]


def tokenizer_for(texts: Sequence[str], path: str | Path, vocab_size: int):
    """The run's tokenizer: loaded from `path` when one trained on the same texts with the same
    vocabulary is there, else a byte-level BPE trained on `texts` (e.g. item_texts(items)) and
    saved atomically (temp folder + rename) with its identity (polyunlearn_tokenizer.json). A
    tokenizer trained on other texts is refused, never silently reused."""
    from polyunlearn.core.models import load_tokenizer, train_tokenizer
    from polyunlearn.core.rundir import RunFolderError, fingerprint, identity_diff

    path = Path(path)
    ident = {"texts": fingerprint(list(texts)), "vocab_size": vocab_size}
    sidecar = path / "polyunlearn_tokenizer.json"
    if (path / "tokenizer.json").exists():
        saved = read_json(sidecar) if sidecar.exists() else {}
        if saved != ident:
            raise RunFolderError(
                f"{path} holds a tokenizer trained on other texts or settings ({'; '.join(identity_diff(saved, ident))}); "
                "rerun with --overwrite or use another --out"
            )
        return load_tokenizer(str(path))
    tmp = path.with_name(path.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    train_tokenizer(texts, vocab_size).save_pretrained(tmp)
    write_json(tmp / sidecar.name, ident)
    tmp.rename(path)
    return load_tokenizer(str(path))
