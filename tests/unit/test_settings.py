"""settings: the database URL read without pydantic-settings is the one the settings object reads,
wherever it comes from (the environment, `.env`, the default)."""

from __future__ import annotations

from pathlib import Path

import pytest

import settings
from settings import Settings, database_url, get_settings

URL = "sqlite:///from-env.db"
CASES = {
    "default": ({}, None),
    "environment": ({"DATABASE_URL": URL}, None),
    "environment-in-lower-case": ({"database_url": URL}, None),
    "environment-postgres-form": ({"DATABASE_URL": "postgres://u:p@h:5/d"}, None),
    "environment-empty": ({"DATABASE_URL": ""}, None),
    "dotenv": ({}, "DATABASE_URL=sqlite:///from-dotenv.db\n"),
    "dotenv-quoted-with-export-and-comment": (
        {}, "# local\nexport DATABASE_URL='postgresql://u@h/d'  # the dev server\n"),
    "dotenv-in-lower-case": ({}, "database_url=sqlite:///lower.db\n"),
    "dotenv-other-keys-only": ({}, "OPENAI_MODEL=gpt-4o\n"),
    "dotenv-interpolated": ({"DB_HOST": "db.internal"},
                            "DATABASE_URL=postgresql://u@${DB_HOST}/d\n"),
    "environment-beats-dotenv": ({"DATABASE_URL": URL}, "DATABASE_URL=sqlite:///dotenv.db\n"),
}


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run in an empty folder with no DATABASE_URL in the environment and no settings read yet."""
    for name in ("DATABASE_URL", "database_url"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize(("environment", "dotenv"), CASES.values(), ids=CASES.keys())
def test_the_url_read_without_pydantic_is_the_settings_objects(place, monkeypatch, environment,
                                                               dotenv):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if dotenv is not None:
        (place / ".env").write_text(dotenv, encoding="utf-8")
    light = database_url()
    assert get_settings.cache_info().currsize == 0  # it did not build the settings object
    assert light == Settings().database_url


def test_once_the_settings_object_is_read_it_answers(place, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", URL)
    assert get_settings().database_url == URL
    monkeypatch.setenv("DATABASE_URL", "sqlite:///changed.db")  # no cache_clear: still one answer
    assert database_url() == URL


def test_the_settings_class_is_still_importable_from_the_package():
    assert settings.Settings is Settings
    with pytest.raises(AttributeError):
        settings.no_such_setting  # noqa: B018
