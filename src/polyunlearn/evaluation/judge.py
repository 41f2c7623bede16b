"""Judging Study A answers: does a generated answer state the real fact, the fake claim, both
or neither? And the two Study A metrics built on those verdicts, OF and QR.

Default judging needs no API and no second model:
- `key_match` / `judge_answer`: the answer key (a year, a count or a name, see
  `polyunlearn.data.news`) is looked for in the generated answer after Unicode normalisation;
- `likelihood_verdict`: which of the real and fake answers the model itself finds more likely
  (mean token NLL given the question, computed by the caller), useful when greedy answers are
  too garbled for key matching (tiny models);
- `contains_keyword` / `keyword_of_rate`: for the published news-truthful data, which has a fake
  keyword per story instead of answer keys: an answer counts as fake when it contains it.
Optional judge models, both callables `(generated, qa) -> verdict`: `HFJudge` (a local HF causal
LM, loaded on first use) and `OpenAIJudge` (any OpenAI-compatible endpoint, urllib only). A judge
that cannot be reached raises `JudgeUnavailableError`; nothing ever falls back silently.

Metrics (spec.md, Study A):
    OF = share of answers to questions about FAKE stories judged "fake" (the fake claim alone);
    QR = share of answers to questions about REAL-ONLY stories judged "real" (real key stated).
"""

from __future__ import annotations

import json
import math
import os
import re
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from polyunlearn.core.languages import get_language

VERDICTS = ("real", "fake", "both", "neither")
Judge = Callable[[str, Any], str]  # (generated answer, NewsQA-like) -> verdict


class JudgeError(RuntimeError):
    """A judge model could not be loaded or gave an unreadable reply."""


class JudgeUnavailableError(JudgeError):
    """A judge endpoint could not be reached or refused the request; the message names the URL."""


# --- Normalisation and answer-key matching ----------------------------------------------------
# Arabic-script harakat and tatweel are optional in writing; Arabic letter variants that models
# often emit in Urdu text are folded to the Urdu letters (both sides are folded, so this is
# harmless for Arabic and Farsi).
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLD = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9", "\u0647": "\u06c1"})
# Armenian emphasis/exclamation/question marks sit INSIDE a word (Ո՞ր): delete, don't split.
_IN_WORD_MARKS = {"\u055b", "\u055c", "\u055e"}
# Russian declines names (Велора -> Велоры, Велоре): there the key's final vowel may change.
_STEM_LANGS = {"ru"}
_NUMERIC_KEY = re.compile(r"\d+(?: \d{3})*")
_GROUPED = re.compile(r"(?<!\d)\d{1,3}(?: \d{3})+(?!\d)")  # "1 200" after "1,200"/"1.200" lost punctuation


def normalize(text: str) -> str:
    """NFKC, casefold, any Unicode decimal digit as ASCII, punctuation/symbols as spaces,
    whitespace collapsed. Format characters (ZWNJ inside Urdu/Farsi words) are dropped."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_FOLD)
    out: list[str] = []
    for ch in text:
        if ch in _IN_WORD_MARKS:
            continue
        digit = unicodedata.decimal(ch, None)  # ٢٠١٩, ۲۰۱۹, ২০১৯ ... all read as 2019
        if digit is not None:
            out.append(str(digit))
            continue
        cat = unicodedata.category(ch)
        if cat == "Cf":
            continue
        out.append(" " if cat[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


def _numbers(norm: str) -> set[str]:
    """Every maximal digit run, plus thousands-grouped forms joined ("1 200" -> "1200")."""
    found = set(re.findall(r"\d+", norm))
    found.update(m.group(0).replace(" ", "") for m in _GROUPED.finditer(norm))
    return found


def key_match(answer_text: str, key: str, language: str) -> bool:
    """True when `key` is stated in `answer_text`.

    - numeric keys (2019, 1 200): equal to a whole digit run of the answer, so "2019" does not
      match "12019" and "20" does not match "2020";
    - languages written without spaces (zh, ja): substring of the answer with spaces removed;
    - other languages: the key must start a word, its end is free, so suffixes stay matched
      (Armenian Բադինայում, German Badinas); for Russian a final vowel of the key may change.
    """
    nk = normalize(key)
    if not nk:
        raise ValueError(f"empty answer key {key!r}")
    na = normalize(answer_text)
    if _NUMERIC_KEY.fullmatch(nk):
        return nk.replace(" ", "") in _numbers(na)
    if not get_language(language).spaces:
        return nk.replace(" ", "") in na.replace(" ", "")
    if re.search(rf"(?<!\w){re.escape(nk)}", na):
        return True
    if language in _STEM_LANGS and len(nk) >= 4 and " " not in nk and nk[-1] in "аеёиоуыэюя":
        return re.search(rf"(?<!\w){re.escape(nk[:-1])}\w{{0,2}}(?!\w)", na) is not None
    return False


def judge_answer(generated: str, qa: Any) -> str:
    """ "real", "fake", "both" or "neither" by answer-key matching (qa: a NewsQA or anything with
    language, real_key and fake_key). Questions without a fake key give "real" or "neither"."""
    real = key_match(generated, qa.real_key, qa.language)
    fake = qa.fake_key is not None and key_match(generated, qa.fake_key, qa.language)
    return "both" if real and fake else "real" if real else "fake" if fake else "neither"


def likelihood_verdict(real_nll: float, fake_nll: float, margin: float = 0.0) -> str:
    """The answer the model finds more likely: "real" when real_nll < fake_nll - margin, "fake"
    when fake_nll < real_nll - margin, else "both" (no preference). Pass length-normalised
    NLLs (mean over answer tokens), so a longer name is not penalised for its length."""
    for name, value in (("real_nll", real_nll), ("fake_nll", fake_nll)):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    if real_nll < fake_nll - margin:
        return "real"
    if fake_nll < real_nll - margin:
        return "fake"
    return "both"


def combined_verdict(generated: str, qa: Any, real_nll: float | None = None, fake_nll: float | None = None) -> str:
    """Key matching first; when it cannot decide ("neither" or "both") and both NLLs are given
    for a question with a fake answer, the model's likelihood preference decides."""
    verdict = judge_answer(generated, qa)
    if verdict in ("neither", "both") and qa.fake_key is not None and real_nll is not None and fake_nll is not None:
        return likelihood_verdict(real_nll, fake_nll)
    return verdict


# --- Keyword judge (the published news-truthful data: a fake keyword, no answer keys) --------
def contains_keyword(answer_text: str, keyword: str, language: str) -> bool:
    """True when the fake `keyword` appears in `answer_text`, after the normalisation the key
    matcher uses (`normalize`: NFKC, casefold, digits, punctuation as spaces). A plain substring
    test, as counting the fake detail in an answer is (so "toxic waste" is found in "the toxic
    waste dump", and "waste" in "wastewater"); for languages written without spaces (zh, ja)
    spaces are removed from both sides first."""
    nk = normalize(keyword)
    if not nk:
        raise ValueError(f"empty fake keyword {keyword!r}")
    na = normalize(answer_text)
    if not get_language(language).spaces:
        return nk.replace(" ", "") in na.replace(" ", "")
    return nk in na


def keyword_of_rate(answers: Sequence[str], keywords: Sequence[str], languages: Sequence[str]) -> float:
    """OF on the published data: the share of answers (to the fake-detail questions) that contain
    their story's fake keyword; NaN for no answers."""
    if not (len(answers) == len(keywords) == len(languages)):
        raise ValueError(f"{len(answers)} answers, {len(keywords)} keywords, {len(languages)} languages")
    hits = [contains_keyword(a, k, lang) for a, k, lang in zip(answers, keywords, languages)]
    return sum(hits) / len(hits) if hits else float("nan")


# --- Metrics ---------------------------------------------------------------------------------
def _check(verdicts: Iterable[str]) -> list[str]:
    out = list(verdicts)
    bad = sorted({v for v in out if v not in VERDICTS})
    if bad:
        raise ValueError(f"unknown verdicts {bad}; expected one of {VERDICTS}")
    return out


def of_rate(verdicts: Iterable[str]) -> float:
    """OF: share of verdicts that are "fake" (NaN for no verdicts). Pass the verdicts of
    questions about fake stories. "both" is NOT counted: such answers mostly contrast the two
    values ("not 1999 but 1997") or list them, which is not repeating the fake claim; report
    `verdict_shares(...)["both"]` next to OF when it matters."""
    v = _check(verdicts)
    return sum(x == "fake" for x in v) / len(v) if v else float("nan")


def qr_score(verdicts: Iterable[str]) -> float:
    """QR: share of verdicts that are "real" (NaN for no verdicts). Pass the verdicts of
    questions about real-only stories (no fake version exists, so the only right answer is the
    real key): QR measures whether learning or unlearning fakes damaged knowledge of real news."""
    v = _check(verdicts)
    return sum(x == "real" for x in v) / len(v) if v else float("nan")


def verdict_shares(verdicts: Iterable[str]) -> dict[str, float]:
    """Share of each of the four verdicts (all NaN for no verdicts)."""
    v = _check(verdicts)
    return {k: (sum(x == k for x in v) / len(v) if v else float("nan")) for k in VERDICTS}


def judge_all(
    generated: Sequence[str],
    qas: Sequence[Any],
    judge: Judge | None = None,
    real_nlls: Sequence[float] | None = None,
    fake_nlls: Sequence[float] | None = None,
) -> list[str]:
    """Verdicts for parallel lists of answers and questions: with a `judge` (HFJudge,
    OpenAIJudge, any callable) it decides; otherwise `combined_verdict` (keys, then NLLs)."""
    if len(generated) != len(qas):
        raise ValueError(f"{len(generated)} answers for {len(qas)} questions")
    if judge is not None:
        return [judge(g, qa) for g, qa in zip(generated, qas)]
    real = real_nlls if real_nlls is not None else [None] * len(qas)
    fake = fake_nlls if fake_nlls is not None else [None] * len(qas)
    return [combined_verdict(g, qa, r, f) for g, qa, r, f in zip(generated, qas, real, fake)]


def scores_by_language(qas: Sequence[Any], verdicts: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per query language: OF over questions with a fake answer, QR over real-only questions,
    plus how many of each ({"OF", "QR", "both", "n_fake", "n_real"})."""
    if len(qas) != len(verdicts):
        raise ValueError(f"{len(verdicts)} verdicts for {len(qas)} questions")
    out: dict[str, dict[str, float]] = {}
    for lang in dict.fromkeys(qa.language for qa in qas):
        fake_v = [v for qa, v in zip(qas, verdicts) if qa.language == lang and qa.fake_key is not None]
        real_v = [v for qa, v in zip(qas, verdicts) if qa.language == lang and qa.fake_key is None]
        out[lang] = {
            "OF": of_rate(fake_v),
            "QR": qr_score(real_v),
            "both": verdict_shares(fake_v)["both"],
            "n_fake": len(fake_v),
            "n_real": len(real_v),
        }
    return out


# --- Judge models ------------------------------------------------------------------------------
def judge_prompt(generated: str, qa: Any) -> tuple[str, dict[str, str]]:
    """The multiple-choice question put to a judge model, and letter -> verdict.

    Instructions are in English (judge models follow them best); the question and answers stay
    in their own language. Which of A/B is the real answer depends on a checksum of the item id,
    so a judge's bias toward "A" cannot systematically favour either verdict.
    """
    head = (
        f"You are checking an answer to a question about a news story.\nQuestion: {qa.question}\n"
        f"Answer to check: {generated}\n"
    )
    if qa.fake_answer is None:
        options = [
            ("A", f"It states the same fact as: {qa.real_answer}", "real"),
            ("B", "It does not state that fact", "neither"),
        ]
    else:
        pair = [(qa.real_answer, "real"), (qa.fake_answer, "fake")]
        if zlib.crc32(str(qa.id).encode()) % 2:
            pair.reverse()
        options = [
            ("A", pair[0][0], pair[0][1]),
            ("B", pair[1][0], pair[1][1]),
            ("C", "Both A and B", "both"),
            ("D", "Neither A nor B", "neither"),
        ]
    body = "Which statement does the answer to check make?\n" + "".join(f"{k}) {t}\n" for k, t, _ in options)
    letters = "/".join(k for k, _, _ in options)
    return head + body + f"Reply with one letter only ({letters}).", {k: v for k, _, v in options}


def parse_judge_reply(reply: str, mapping: dict[str, str]) -> str:
    """The verdict for a judge's reply ("B", "B)", "Answer: B"); JudgeError if there is none."""
    # The first option letter standing alone: "B", "B)", "I think B" (not the A of "Answer").
    m = re.search(rf"(?<![A-Za-z])([{''.join(mapping)}])(?![A-Za-z])", reply)
    if m is None:
        raise JudgeError(f"could not read a verdict ({'/'.join(mapping)}) from judge reply {reply!r}")
    return mapping[m.group(1)]


class HFJudge:
    """A local Hugging Face causal LM as judge: the verdict is the option letter with the highest
    next-token logit after the prompt (no sampling, no reply parsing). The model is loaded on
    the first call; `model`/`tokenizer` can be passed directly (tests, an already loaded model)."""

    def __init__(self, model_id_or_path: str, device: str | None = None, model: Any = None, tokenizer: Any = None):
        self.model_id_or_path = model_id_or_path
        self.device = device
        self._model = model
        self._tok = tokenizer

    def _load(self) -> None:
        if self._model is not None and self._tok is not None:
            return
        from transformers import AutoModelForCausalLM, AutoTokenizer

        try:
            # Safetensors only and no code from the hub, as for every model polyunlearn loads.
            self._tok = AutoTokenizer.from_pretrained(self.model_id_or_path, trust_remote_code=False)
            self._model = AutoModelForCausalLM.from_pretrained(
                self.model_id_or_path, use_safetensors=True, trust_remote_code=False
            )
        except Exception as e:
            raise JudgeError(f"could not load judge model {self.model_id_or_path!r}: {e}") from e
        self._model.eval()
        if self.device:
            self._model.to(self.device)

    def _letter_ids(self, letters: Iterable[str]) -> dict[str, list[int]]:
        """Token ids a letter can start the reply with ("A" after a chat template, " A" after
        "Reply:"); only single-token spellings are usable as next-token candidates."""
        out: dict[str, list[int]] = {}
        for letter in letters:
            ids = [
                enc[0]
                for enc in (self._tok(s, add_special_tokens=False).input_ids for s in (letter, " " + letter))
                if len(enc) == 1
            ]
            if not ids:
                raise JudgeError(f"the judge tokenizer splits the option letter {letter!r}; cannot score it")
            out[letter] = ids
        return out

    def __call__(self, generated: str, qa: Any) -> str:
        import torch

        self._load()
        prompt, mapping = judge_prompt(generated, qa)
        chat = bool(getattr(self._tok, "chat_template", None))
        if chat:
            text = self._tok.apply_chat_template(
                [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
            )
        else:
            text = prompt + "\nReply:"
        # a chat template already holds the special tokens (BOS): don't add them twice
        ids = torch.tensor([self._tok(text, add_special_tokens=not chat).input_ids])  # (1, T)
        device = next(self._model.parameters()).device
        with torch.no_grad():
            logits = self._model(input_ids=ids.to(device)).logits[0, -1]  # (V,)
        scores = {k: max(float(logits[i]) for i in idx) for k, idx in self._letter_ids(mapping).items()}
        return mapping[max(scores, key=scores.get)]


class OpenAIJudge:
    """An OpenAI-compatible chat endpoint as judge (OpenAI, vLLM, llama.cpp server...), over
    urllib. `api_key_env` names the environment variable holding the key (None: send no key).
    Call `check()` before a run: it raises JudgeUnavailableError unless the endpoint answers."""

    def __init__(self, base_url: str, model: str, api_key_env: str | None = "OPENAI_API_KEY", timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        # A proxy cannot reach this machine's loopback: bypass any configured proxy for it.
        handlers = [urllib.request.ProxyHandler({})] if host in ("localhost", "127.0.0.1", "::1") else []
        self._opener = urllib.request.build_opener(*handlers)

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise JudgeError(
                    f"environment variable {self.api_key_env} is not set "
                    f"(pass api_key_env=None for an endpoint without a key)"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _request(self, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        data = json.dumps(payload).encode() if payload is not None else None
        req = urllib.request.Request(url, data=data, headers=self._headers(), method="POST" if data else "GET")
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode(errors="replace")
            raise JudgeUnavailableError(f"judge endpoint {url} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:  # refused, DNS, timeout
            reason = getattr(e, "reason", e)
            raise JudgeUnavailableError(f"judge endpoint {url} is unreachable: {reason}") from None
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            raise JudgeUnavailableError(f"judge endpoint {url} did not return JSON: {body[:200]!r}") from None

    def check(self) -> None:
        """Raise JudgeUnavailableError unless GET {base_url}/models answers with JSON."""
        self._request("/models")

    def __call__(self, generated: str, qa: Any) -> str:
        prompt, mapping = judge_prompt(generated, qa)
        reply = self._request(
            "/chat/completions",
            {
                "model": self.model,
                "temperature": 0,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": prompt}],
            },
        )
        try:
            text = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"unexpected reply from {self.base_url}/chat/completions: {str(reply)[:200]}") from None
        return parse_judge_reply(text or "", mapping)
