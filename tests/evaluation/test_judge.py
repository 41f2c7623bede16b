"""Answer judging for Study A: key matching, likelihood verdicts, OF/QR, and the judge backends
(a stub HF model; an OpenAI-compatible server on 127.0.0.1 started by the test)."""

from __future__ import annotations

import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import torch

from polyunlearn.data.news import NewsQA, bundled_news
from polyunlearn.evaluation.judge import (
    HFJudge,
    JudgeError,
    JudgeUnavailableError,
    OpenAIJudge,
    combined_verdict,
    judge_all,
    judge_answer,
    judge_prompt,
    key_match,
    likelihood_verdict,
    normalize,
    of_rate,
    parse_judge_reply,
    qr_score,
    scores_by_language,
    verdict_shares,
)

_, QAS = bundled_news()


def qa(lang: str, real_key: str, fake_key: str | None, qid: str = "q") -> NewsQA:
    return NewsQA(qid, "s", lang, "?", f"real {real_key}", f"fake {fake_key}" if fake_key else None, real_key, fake_key)


def test_normalize():
    assert normalize("  Ｈｅｌｌｏ，  WORLD! ") == "hello world"  # NFKC full-width, casefold
    assert normalize("سال ۲۰۱۹ میں") == "سال 2019 میں"  # Urdu digits read as ASCII
    assert normalize("Ո՞ր ընկերությունն է։") == "որ ընկերությունն է"  # ՞ sits inside the word
    assert normalize("«Ванити»") == "ванити"


@pytest.mark.parametrize(
    "text, key, lang, expected",
    [
        ("It opened in 2019.", "2019", "en", True),
        ("It opened in 12019.", "2019", "en", False),  # digit runs are whole numbers
        ("Sie wurde 2020 eröffnet.", "20", "de", False),
        ("About 1,200 people came.", "1200", "en", True),  # thousands separator
        ("Environ 1 200 personnes.", "1200", "fr", True),
        ("پل کا افتتاح سال ۱۹۹۷ میں ہوا۔", "1997", "ur", True),  # Extended Arabic-Indic digits
        ("这座桥于1997年开通。", "1997", "zh", True),
        ("这座桥是由瓦尼蒂公司开通的。", "瓦尼蒂", "zh", True),  # no spaces: character substring
        ("这座桥是由索比洛公司开通的。", "瓦尼蒂", "zh", False),
        ("Die Brücke wurde vom Unternehmen VANITI eröffnet.", "Vaniti", "de", True),  # casefold
        ("Kamfanin Sobilo ne ya buɗe gadar.", "Vaniti", "ha", False),
        ("The company Bikalo built it.", "Kalo", "en", False),  # the key must start a word
        ("Նա ապրում է Բադինայում։", "Բադինա", "hy", True),  # Armenian case suffix
        ("Мост построен компанией Велоры.", "Велора", "ru", True),  # Russian declension
        ("Мост построен компанией Велосипед.", "Велора", "ru", False),
        ("پل کا افتتاح سوبيلو کمپنی نے کیا۔", "سوبیلو", "ur", True),  # Arabic yeh for Urdu yeh
    ],
)
def test_key_match(text, key, lang, expected):
    assert key_match(text, key, lang) is expected


def test_key_match_rejects_empty_key():
    with pytest.raises(ValueError):
        key_match("anything", " ... ", "en")


def test_judge_answer_on_bundled_questions():
    for lang in ("en", "zh", "ur", "hy", "ru", "ha"):
        q = next(x for x in QAS if x.language == lang and x.has_fake)
        assert judge_answer(q.real_answer, q) == "real"
        assert judge_answer(q.fake_answer, q) == "fake"
        assert judge_answer(q.real_answer + " " + q.fake_answer, q) == "both"
        assert judge_answer(q.question, q) == "neither"
        real_only = next(x for x in QAS if x.language == lang and not x.has_fake)
        assert judge_answer(real_only.real_answer, real_only) == "real"
        assert judge_answer("?", real_only) == "neither"


def test_likelihood_and_combined_verdicts():
    assert likelihood_verdict(1.0, 2.0) == "real"
    assert likelihood_verdict(2.0, 1.0) == "fake"
    assert likelihood_verdict(1.5, 1.5) == "both"
    assert likelihood_verdict(1.0, 1.2, margin=0.5) == "both"
    with pytest.raises(ValueError, match="real_nll"):
        likelihood_verdict(float("nan"), 1.0)
    q = qa("en", "1997", "1999")
    assert combined_verdict("no idea", q) == "neither"
    assert combined_verdict("no idea", q, real_nll=3.0, fake_nll=1.0) == "fake"  # likelihood decides
    assert combined_verdict("in 1997", q, real_nll=3.0, fake_nll=1.0) == "real"  # key match wins
    assert combined_verdict("no idea", qa("en", "1997", None), 3.0, 1.0) == "neither"  # nothing to compare


def test_of_and_qr_hand_worked():
    v = ["fake", "both", "real", "neither"]
    assert of_rate(v) == 0.25  # only the clean "fake": "both" is not counted
    assert qr_score(v) == 0.25
    assert verdict_shares(v) == {"real": 0.25, "fake": 0.25, "both": 0.25, "neither": 0.25}
    assert of_rate(["fake", "fake", "real"]) == pytest.approx(2 / 3)
    assert math.isnan(of_rate([])) and math.isnan(qr_score([]))
    with pytest.raises(ValueError, match="unknown verdicts"):
        of_rate(["fake", "maybe"])


def test_scores_by_language_routes_questions():
    qs = [qa("en", "1", "2"), qa("en", "3", "4"), qa("en", "5", None), qa("zh", "6", "7"), qa("zh", "8", None)]
    answers = ["2", "3 or 4", "5", "6", "nothing"]
    verdicts = judge_all(answers, qs)
    assert verdicts == ["fake", "both", "real", "real", "neither"]
    s = scores_by_language(qs, verdicts)
    assert s["en"] == {"OF": 0.5, "QR": 1.0, "both": 0.5, "n_fake": 2, "n_real": 1}
    assert s["zh"]["OF"] == 0.0 and s["zh"]["QR"] == 0.0
    with pytest.raises(ValueError):
        judge_all(["a"], qs)


def test_judge_prompt_and_reply_parsing():
    fake_q = next(x for x in QAS if x.language == "ur" and x.has_fake)
    prompt, mapping = judge_prompt("جواب", fake_q)
    assert fake_q.real_answer in prompt and fake_q.fake_answer in prompt and "جواب" in prompt
    assert sorted(mapping.values()) == sorted(["real", "fake", "both", "neither"])
    # the real answer is option A for some items and B for others (position bias cancels out)
    firsts = {judge_prompt("x", x)[1]["A"] for x in QAS if x.language == "en" and x.has_fake}
    assert firsts == {"real", "fake"}
    assert parse_judge_reply("B", mapping) == mapping["B"]
    assert parse_judge_reply("Answer: C)", mapping) == "both"
    assert parse_judge_reply("I think D.", mapping) == "neither"
    with pytest.raises(JudgeError, match="could not read a verdict"):
        parse_judge_reply("the first one", mapping)
    real_only = next(x for x in QAS if not x.has_fake)
    assert judge_prompt("x", real_only)[1] == {"A": "real", "B": "neither"}


class CharTokenizer:
    """One token per character (id = code point mod 256): enough to drive HFJudge."""

    chat_template = None

    def __call__(self, text: str, add_special_tokens: bool = True):
        return SimpleNamespace(input_ids=[ord(c) % 256 for c in text])


class FavouriteLetterLM(torch.nn.Module):
    """Next-token logits that prefer one letter: a judge model with a fixed opinion."""

    def __init__(self, letter: str):
        super().__init__()
        self.letter = letter
        self.dummy = torch.nn.Parameter(torch.zeros(1))  # gives the model a device

    def forward(self, input_ids):
        logits = torch.zeros(*input_ids.shape, 256)  # (B, T, V)
        logits[..., ord(self.letter)] = 5.0
        return SimpleNamespace(logits=logits)


def test_hf_judge_with_stub_model():
    q = next(x for x in QAS if x.language == "hy" and x.has_fake)
    _, mapping = judge_prompt("x", q)
    fake_letter = next(k for k, v in mapping.items() if v == "fake")
    judge = HFJudge("stub", model=FavouriteLetterLM(fake_letter), tokenizer=CharTokenizer())
    assert judge(q.real_answer, q) == "fake"  # the judge's opinion, not key matching
    assert HFJudge("stub", model=FavouriteLetterLM("D"), tokenizer=CharTokenizer())("x", q) == "neither"


def test_hf_judge_loads_lazily_and_reports_failures(tmp_path):
    judge = HFJudge(str(tmp_path / "no-such-model"))  # constructing loads nothing
    with pytest.raises(JudgeError, match="could not load judge model"):
        judge("x", QAS[0])


# --- OpenAI-compatible endpoint on loopback ---------------------------------------------------
class FakeOpenAI(BaseHTTPRequestHandler):
    reply = "A"
    seen: list[dict] = []

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, code: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/v1/models":
            self._send(200, {"data": [{"id": "judge-1"}]})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.seen.append({"auth": self.headers.get("Authorization"), **request})
        if request["model"] == "broken":
            self._send(500, {"error": "model crashed"})
        else:
            self._send(200, {"choices": [{"message": {"role": "assistant", "content": FakeOpenAI.reply}}]})


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_judge_against_local_server(server, monkeypatch):
    monkeypatch.setenv("POLYUNLEARN_TEST_KEY", "sk-test")
    judge = OpenAIJudge(server, "judge-1", api_key_env="POLYUNLEARN_TEST_KEY", timeout=5)
    judge.check()
    q = next(x for x in QAS if x.language == "zh" and x.has_fake)
    _, mapping = judge_prompt("x", q)
    FakeOpenAI.reply = next(k for k, v in mapping.items() if v == "fake") + ")"
    assert judge("x", q) == "fake"
    sent = FakeOpenAI.seen[-1]
    assert sent["auth"] == "Bearer sk-test" and sent["temperature"] == 0
    assert q.question in sent["messages"][0]["content"]
    FakeOpenAI.reply = "I cannot tell."
    with pytest.raises(JudgeError, match="could not read a verdict"):
        judge("x", q)
    with pytest.raises(JudgeUnavailableError, match="HTTP 500"):
        OpenAIJudge(server, "broken", api_key_env=None, timeout=5)("x", q)
    monkeypatch.delenv("POLYUNLEARN_TEST_KEY")
    with pytest.raises(JudgeError, match="POLYUNLEARN_TEST_KEY is not set"):
        judge.check()


def test_openai_judge_unreachable_raises():
    with socket.socket() as s:  # a port that was free a moment ago and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    judge = OpenAIJudge(f"http://127.0.0.1:{port}/v1", "judge-1", api_key_env=None, timeout=5)
    with pytest.raises(JudgeUnavailableError, match=rf"127\.0\.0\.1:{port}/v1/models is unreachable"):
        judge.check()
    with pytest.raises(JudgeUnavailableError, match="unreachable"):
        judge("x", QAS[0])
