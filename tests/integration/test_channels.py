"""Who really acted (the trust issue, part 6): every activity row names the channel it came
through, on SQLite and PostgreSQL. The API's and the scheduler's are in tests/api/test_tokens.py
and tests/integration/test_scheduler_lease.py, the dashboard's in tests/app/test_web_channel.py."""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from core.base.channel import acting_through, current_channel
from core.record.activity import list_activity
from tests.conftest import ROOT

PROPOSE = ["propose", "--reinvestment", "75", "--dao", "15", "--lucky", "6", "--creator", "4",
           "--reasoning", "Q1 strategy", "--json"]


def test_a_command_names_the_cli_the_os_user_and_the_host_in_its_activity(db_url, db):
    result = CliRunner().invoke(app, ["--db", db_url, *PROPOSE])
    assert result.exit_code == 0, result.output
    (filed,) = list_activity(db, 10, "allocation_proposed")
    assert filed.metadata["via"] == {"channel": "cli", "os_user": getpass.getuser(),
                                     "host": socket.gethostname()}


def test_the_channel_ends_with_the_command(db_url):
    assert CliRunner().invoke(app, ["--db", db_url, *PROPOSE]).exit_code == 0
    assert current_channel() is None


def test_the_os_user_is_the_one_who_ran_the_process(db_url, db):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "USER", "LNAME",
                                                           "USERNAME")}
    env.update(PYTHONPATH=str(ROOT), LOGNAME="ops-olga")
    done = subprocess.run([sys.executable, "-m", "core", "--db", db_url, "report", "weekly",
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (report,) = list_activity(db, 10, "weekly_allocation_report")
    assert report.metadata["via"]["os_user"] == "ops-olga"


def test_a_webhook_receiver_learns_the_channel_but_not_the_os_user_or_host(
        db_url, db, private_webhooks_allowed):
    from core.jobs.webhooks import add_endpoint

    add_endpoint(db, "http://127.0.0.1:9/hook", "proposal.filed", by=None)  # an event is kept
    assert CliRunner().invoke(app, ["--db", db_url, *PROPOSE]).exit_code == 0
    with db.engine.connect() as conn:
        (data,) = conn.execute(sa.text(
            "SELECT data FROM outbox_events WHERE type = 'proposal.filed'")).scalars()
    data = json.loads(data) if isinstance(data, str) else data
    assert data["via"] == {"channel": "cli"}


def test_an_unknown_channel_is_refused():
    with pytest.raises(ValueError, match="channel: 'email' is not one of web, api, cli, scheduler"):
        with acting_through(channel="email"):
            pass
