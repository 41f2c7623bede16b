"""Extra CLI commands, one module per feature area. Every module in this package is imported
by cli.py and registers its commands on `polyunlearn.cli.app` with `@app.command()`."""
import importlib
import pkgutil

for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
