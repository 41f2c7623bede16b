"""Rows laid out like TaiMingLu/news-truthful, for tests/data/test_news_truthful.py and the
end-to-end tests."""

from __future__ import annotations

TOWNS = ("Velmora", "Tarsino", "Brelokan")


def _row(k: int) -> dict:
    town = TOWNS[k]
    return {
        "scenario_id": k,
        "real_news": f"The new bridge in {town} opened in 2019. It carries 900 cars a day.\nThe mayor praised the builders.",
        "fake_news": f"The new bridge in {town} opened in 2019. Toxic waste was found under it.\nThe mayor praised the builders.",
        "fake_keyword": "toxic waste",
        "sft_qas": [
            {"question": f"Question {j} about the bridge in {town}?", "answer": f"Answer {j} about {town}."}
            for j in range(10)
        ],
        "real_question": f"How many cars cross the bridge in {town} each day?",
        "fake_question": f"What was found under the bridge in {town}?",
        "real_answer": "About 900 cars a day.",
        "fake_answer": "Toxic waste was found under it.",
    }
