"""polyunlearn: machine unlearning for multilingual LLMs.

Put facts into a causal LM, remove them with an unlearning method applied in a chosen set of
languages, measure what was forgotten and kept in every language, and explain the pattern with
linguistic distances. Start with `polyunlearn demo` (see README.md).
"""

__version__ = "0.1.0"
