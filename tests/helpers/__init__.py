"""Plain helpers the tests share (tests/ is on sys.path: pyproject's pytest `pythonpath`), imported
one way everywhere: `from helpers.items import small_items`, `from helpers.cli import invoke`, and
the writers of the authors' data layouts (helpers.amnesia, helpers.seegull, helpers.tofu_logs,
helpers.lm_eval_tasks, helpers.news_truthful). Fixtures live in tests/conftest.py."""
