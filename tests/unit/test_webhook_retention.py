"""The README's webhook retention is the one the code applies: the default days, the variable,
the bounds of `--older-than-days` and the schedule's fire time."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.base.errors import ValidationFailed
from core.jobs import schedule, webhooks
from settings import get_settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_configuration_table_gives_the_variable_and_its_default():
    assert f"| `PA_WEBHOOK_RETENTION_DAYS` | `{webhooks.RETENTION_DAYS}` |" in README


def test_the_webhooks_section_states_the_retention_the_bounds_and_the_command():
    assert f"kept for {webhooks.RETENTION_DAYS} days from the event" in README
    assert f"(N from 1 to {webhooks.MAX_RETENTION_DAYS};" in README
    assert "webhooks prune [--older-than-days N] [--at ISO] --json" in README
    assert "never pruned" in README


def test_the_documented_daily_fire_time_is_the_jobs_cron():
    times = set(re.findall(r"daily at (\d\d):(\d\d) UTC", README))
    assert len(times) == 1  # the Webhooks section and the schedule's say the same
    [(hour, minute)] = times
    assert schedule.PRUNE_WEBHOOKS_CRON == f"{int(minute)} {int(hour)} * * *"
    assert schedule.default_crons()["prune_webhooks"] == schedule.PRUNE_WEBHOOKS_CRON


def test_a_retention_setting_outside_its_bounds_is_refused_naming_the_variable(monkeypatch):

    monkeypatch.setenv("PA_WEBHOOK_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationFailed, match=r"^PA_WEBHOOK_RETENTION_DAYS: 0 is outside "
                                                   rf"1\.\.{webhooks.MAX_RETENTION_DAYS}$"):
            webhooks.retention_days()
    finally:
        monkeypatch.delenv("PA_WEBHOOK_RETENTION_DAYS")
        get_settings.cache_clear()
    assert webhooks.retention_days() == webhooks.RETENTION_DAYS
