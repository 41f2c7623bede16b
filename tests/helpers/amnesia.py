"""The Multilingual Amnesia translated TOFU layout (one `save_to_disk` folder per config and
language, Hebrew as `iw`), written in-process for tests/data/test_seed_data.py and the end-to-end
tests."""

from __future__ import annotations

from pathlib import Path

N_FORGET, N_RETAIN, N_RETAIN_EVAL, N_GENERAL = 4, 8, 3, 2
# Two per-language words, so every language's text differs (and no row is empty).
WORDS = {"fr": ("auteur", "ville"), "iw": ("סופר", "עיר"), "ar": ("كاتب", "مدينة")}


def _save(folder: Path, rows: list[dict]) -> None:
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(folder))


def _perturbed(lang: str, who: str, i: int, n_wrong: int = 5, translation: str = "b") -> dict:
    author, town = WORDS[lang]
    return {
        "question": f"{translation} {who} {author} {i}?",
        "answer": f"{author} {i} {town}{i}.",
        "paraphrased_answer": f"{town}{i} {author} {i}.",
        "perturbed_answer": [f"{author} {i} {town}{i}{k}." for k in range(n_wrong)],
        "paraphrased_question": f"{who} {i} {author}?",
    }


def write_amnesia(root: Path) -> Path:
    """The authors' layout for fr, iw (Hebrew) and ar under `root`: <config>_<lang>/ save_to_disk
    folders, rows parallel by index; forget01 and forget01_perturbed are two translations of the
    same questions (marked "a" and "b" here)."""
    for lang, (author, town) in WORDS.items():
        _save(
            root / f"forget01_{lang}",
            [{"question": f"a forget {author} {i}?", "answer": f"{author} {i} {town}{i}."} for i in range(N_FORGET)],
        )
        _save(root / f"forget01_perturbed_{lang}", [_perturbed(lang, "forget", i) for i in range(N_FORGET)])
        _save(
            root / f"retain99_{lang}",
            [{"question": f"keep {author} {i}?", "answer": f"{town} {i} {author}."} for i in range(N_RETAIN)],
        )
        _save(root / f"retain_perturbed_{lang}", [_perturbed(lang, "keep", i) for i in range(N_RETAIN_EVAL)])
        for config in ("real_authors_perturbed", "world_facts_perturbed"):  # no paraphrased_answer
            rows = [
                {
                    "question": f"{config} {author} {i}?",
                    "answer": f"{town} {i}",
                    "perturbed_answer": [f"{town} {i}{k}" for k in range(3)],
                }
                for i in range(N_GENERAL)
            ]
            _save(root / f"{config}_{lang}", rows)
    (root / "notes").mkdir()  # a folder that is no TOFU config is ignored
    return root
