"""One settings object for the whole program, read from the environment (and `.env`).

Why a root-level package: every layer reads it (`db`'s Alembic env, `core`, `ui`, `cli`), so it
must sit below all of them. Inside `core` it made `db` import `core`; inside `db` it would make
the domain's OpenAI and cron settings look like database settings. It imports nothing of ours.

Why two modules: the `Settings` class (settings/model.py) needs pydantic-settings, which costs
about 0.15 s at start-up, and most commands need nothing of it but the database URL. This module
gives that URL (`database_url()`) without it; everything else goes through `get_settings()`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from settings.model import Settings

DEFAULT_DATABASE_URL = "sqlite:///data/profit_allocation.db"
ENV_FILE = ".env"


def normalise_database_url(url: str) -> str:
    """Accept the `postgres://` form that hosting providers hand out and pick the psycopg 3 driver."""
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    from settings.model import Settings

    return Settings()


def database_url() -> str:
    """`get_settings().database_url`, read without pydantic-settings where that gives the same
    answer: the environment first (names in any case, as pydantic-settings reads them), then
    `.env` through the parser pydantic-settings itself uses (python-dotenv), then the default.
    Once the settings object exists it answers, so one process never sees two URLs."""
    if get_settings.cache_info().currsize:
        return get_settings().database_url
    value = _lower_keys(os.environ).get("database_url")
    if value is None and Path(ENV_FILE).expanduser().is_file():
        from dotenv import dotenv_values

        found = _lower_keys(dotenv_values(Path(ENV_FILE).expanduser(), encoding="utf-8"))
        if "database_url" in found:
            value = found["database_url"]
            if value is None:  # a bare `DATABASE_URL` line: let pydantic-settings say what it means
                return get_settings().database_url
    return DEFAULT_DATABASE_URL if value is None else normalise_database_url(value)


def _lower_keys(values: Any) -> dict[str, Any]:
    return {key.lower(): value for key, value in values.items()}


def __getattr__(name: str) -> Any:
    # `from settings import Settings` keeps working; the class (and pydantic) load on that use.
    if name == "Settings":
        from settings.model import Settings

        return Settings
    raise AttributeError(f"module 'settings' has no attribute {name!r}")
