"""The local Hugging Face cache, for the checks that must not touch the network: a dry run checks
its inputs with the hub switched offline (`offline()`), and says of each hub id whether it is in
the local cache (and at which commit) or will be downloaded at run time.

    with offline():                                  # every hub call in here reads the cache only
        print(model_state("CohereLabs/aya-expanse-8b"))   # "not in the local cache: will download at run time"

The model cache is huggingface_hub's (HF_HUB_CACHE); a data set counts as cached when `datasets`
has prepared it (HF_DATASETS_CACHE/<owner>___<name>/<config>/<version>/<commit>), which is what
`datasets.load_dataset` reads in offline mode.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

NOT_CACHED = "not in the local cache: will download at run time"
_active = 0


def active() -> bool:
    """Whether the code runs inside `offline()`."""
    return _active > 0


@contextmanager
def offline() -> Iterator[None]:
    """Hub offline mode for huggingface_hub, transformers and datasets (modules imported later
    read the environment variables), restored afterwards."""
    global _active
    import huggingface_hub.constants as hub

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    saved_hub = hub.HF_HUB_OFFLINE
    ds = sys.modules.get("datasets.config")
    saved_ds = getattr(ds, "HF_HUB_OFFLINE", None)
    os.environ.update({k: "1" for k in saved_env})
    hub.HF_HUB_OFFLINE = True
    if ds is not None:
        ds.HF_HUB_OFFLINE = True
    _active += 1
    try:
        yield
    finally:
        _active -= 1
        hub.HF_HUB_OFFLINE = saved_hub
        if ds is not None:
            ds.HF_HUB_OFFLINE = saved_ds
        elif (late := sys.modules.get("datasets.config")) is not None:  # imported inside: as it was
            late.HF_HUB_OFFLINE = saved_hub
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def model_commit(repo_id: str) -> str | None:
    """The commit of the cached snapshot of hub model `repo_id` (its config.json), else None."""
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # noqa: BLE001 - a malformed id or cache is "not cached" here
        return None
    return Path(cached).parent.name if isinstance(cached, str) else None


def dataset_commit(repo_id: str, config: str | None = None) -> str | None:
    """The commit of the prepared copy of hub data set `repo_id` (config `config`, else any) in
    the `datasets` cache, else None."""
    import datasets.config

    owner_name = repo_id.split("/")
    owner_name[-1] = _snake(owner_name[-1])
    root = Path(datasets.config.HF_DATASETS_CACHE).expanduser() / "___".join(owner_name)
    found = sorted(p for p in root.glob(f"{config or '*'}/*/*") if p.is_dir())
    return found[-1].name if found else None


def _snake(name: str) -> str:
    from datasets.naming import camelcase_to_snakecase

    return camelcase_to_snakecase(name)


def state(commit: str | None) -> str:
    return f"in the local cache (commit {commit})" if commit else NOT_CACHED


def model_state(repo_id: str) -> str:
    return state(model_commit(repo_id))
