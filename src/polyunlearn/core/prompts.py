"""Prompt formats: how a (question, answer) pair becomes the text a model is trained and scored on.
A format is named, and the name is part of every run's identity (TrainConfig.prompt_format for
learning and unlearning, EvalConfig.prompt_format for evaluation), so a model trained in one
format and evaluated in another is visible in run.json.

    from polyunlearn.core.prompts import prompt_text, answer_text
    prompt_text(tok, "Où est la tour ?", "amnesia", "fr")     # 'Question: Où est la tour ? \\nReponse:'
    answer_text(tok, "À Paris.", "amnesia", "fr")             # ' À Paris.'

Formats (PROMPT_FORMATS):
- auto: the model's chat template when its tokenizer has one, else `plain` (the default; what
  polyunlearn always did).
- chat: the chat template; an error for a tokenizer without one.
- plain: "Question: {question}\\nAnswer:" + " {answer}", in every language.
- amnesia: the Multilingual Amnesia authors' TOFU format (arXiv 2601.05641):
  "{question tag}{question} \\n{answer tag}{answer}" with per-language tags (AMNESIA_TAGS) and no
  chat template. French is "Reponse: " (unaccented, as in their TOFU code).
- amnesia-concept: the same with their concept code's tags (French "Réponse: ").
- text: no frame at all: an empty prompt (BOS only) and the whole text as the scored part, for
  next-token training on documents (Study A's text-level unlearning).

The amnesia tags end in ": "; the space is moved to the front of the answer ("...Answer:" +
" Paris"), which is the same string, because the authors tokenize prompt + answer as ONE text
(TOFU's data module) and a BPE tokenizer joins a space to the word after it: tokenizing the
prompt with its trailing space apart would give a lone space token no joint encoding has.
A language without tags is an error naming the languages that have them: never another
language's tags.
"""

from __future__ import annotations

PROMPT_FORMATS = ("auto", "chat", "plain", "amnesia", "amnesia-concept", "text")
# Formats whose text depends on the item's language.
LANGUAGE_FORMATS = ("amnesia", "amnesia-concept")

# (question tag, answer tag) per language, as listed from the authors' code in issue 12.
AMNESIA_TAGS: dict[str, tuple[str, str]] = {
    "en": ("Question: ", "Answer: "),
    "fr": ("Question: ", "Reponse: "),
    "ar": ("السؤال: ", "الإجابة: "),
    "fa": ("سوال: ", "پاسخ: "),
    "hi": ("प्रश्न: ", "उत्तर: "),
    "he": ("שאלה: ", "תשובה: "),
    "id": ("Pertanyaan: ", "Jawaban: "),
    "ja": ("質問: ", "回答: "),
    "ko": ("질문: ", "답변: "),
    "ru": ("Вопрос: ", "Ответ: "),
}
# Their concept (SeeGULL) code differs in one tag only.
AMNESIA_CONCEPT_TAGS: dict[str, tuple[str, str]] = AMNESIA_TAGS | {"fr": ("Question: ", "Réponse: ")}
# Legacy codes in the authors' files (their Hebrew folders are `iw`); core cannot import the
# language table's aliases without a cycle, so the two this format meets are listed here.
_ALIASES = {"iw": "he", "in": "id"}


class PromptFormatError(ValueError):
    """A prompt format that cannot render this item (unknown name, language without tags,
    no chat template); the message names the format and the language."""


def check_prompt_format(name: str) -> None:
    if name not in PROMPT_FORMATS:
        raise PromptFormatError(f"prompt_format is {name!r}; choose from {', '.join(PROMPT_FORMATS)}")


def _tags(fmt: str, language: str | None) -> tuple[str, str]:
    table = AMNESIA_TAGS if fmt == "amnesia" else AMNESIA_CONCEPT_TAGS
    if language is None:
        raise PromptFormatError(f"prompt format {fmt!r} needs the item's language (its tags are per language)")
    code = _ALIASES.get(language, language)
    if code not in table:
        raise PromptFormatError(
            f"prompt format {fmt!r} has no tags for language {language!r}; it has {', '.join(table)} (core/prompts.py)"
        )
    return table[code]


def _has_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def resolved(tokenizer, fmt: str) -> str:
    """The concrete format `fmt` means for `tokenizer` ("auto" -> "chat" or "plain")."""
    check_prompt_format(fmt)
    if fmt == "auto":
        return "chat" if _has_template(tokenizer) else "plain"
    if fmt == "chat" and not _has_template(tokenizer):
        raise PromptFormatError("prompt format 'chat': the tokenizer has no chat template (use auto, plain or amnesia)")
    return fmt


def prompt_text(tokenizer, question: str, fmt: str = "auto", language: str | None = None) -> str:
    """The prompt `question` is asked with in format `fmt` (module docstring)."""
    kind = resolved(tokenizer, fmt)
    if kind == "chat":
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        )
    if kind == "plain":
        return f"Question: {question}\nAnswer:"
    if kind == "text":
        return ""
    qtag, atag = _tags(kind, language)
    return f"{qtag}{question} \n{atag.rstrip()}"


def answer_text(tokenizer, answer: str, fmt: str = "auto", language: str | None = None) -> str:
    """The answer as appended to its prompt in format `fmt`."""
    kind = resolved(tokenizer, fmt)
    if kind in ("chat", "text"):
        return answer
    if kind in LANGUAGE_FORMATS:
        _, atag = _tags(kind, language)
        return atag[len(atag.rstrip()) :] + answer  # the tag's trailing space (see the module docstring)
    return " " + answer
