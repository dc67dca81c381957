"""The weekly allocation report, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from typer.testing import CliRunner

from cli import app
from core.allocation.validation import ProposalInput
from core.jobs.reports import weekly_report
from core.proposals.distribution import distribute
from core.proposals.lifecycle import propose_allocation, review_proposal
from core.record.activity import list_activity
from db.types import utcnow


def test_the_weekly_report_summarises_the_week_and_is_logged(db):
    approved = propose_allocation(db, ProposalInput(75, 15, 6, 4, reasoning="a", confidence="0.9"),
                                  by="ann").proposal_id
    rejected = propose_allocation(db, ProposalInput(70, 18, 8, 4, reasoning="b", confidence="0.5"),
                                  by="ann").proposal_id
    propose_allocation(db, ProposalInput(72, 16, 8, 4, reasoning="c", confidence="0.7"), by="ann")
    review_proposal(db, approved, "approved", by="bob")
    review_proposal(db, rejected, "rejected", by="bob")
    distribute(db, "100.10", "week-1")
    distribute(db, "0.20", "week-2")

    report = weekly_report(db, now=utcnow() + timedelta(minutes=1))

    assert report["active_split"]["reinvestment"] == 75
    assert report["active_split"]["allocation_id"] == approved
    assert report["proposals_count"] == 3  # the default split seeded at install is no proposal
    assert (report["approved"], report["rejected"], report["pending"]) == (1, 1, 1)
    assert report["avg_confidence"] == 0.7
    assert report["distributions"] == {"count": 2, "total": "100.30"}
    logged = list_activity(db, limit=1, activity_type="weekly_allocation_report")
    assert logged[0].metadata == report
    assert logged[0].description == "Weekly allocation analysis"


def test_a_week_without_activity_reports_zeros(db):
    report = weekly_report(db, now=utcnow() + timedelta(days=30))
    assert report["proposals_count"] == 0 and report["avg_confidence"] is None
    assert report["distributions"] == {"count": 0, "total": "0"}
    assert report["active_split"] == {**report["active_split"], "reinvestment": 80, "dao": 15,
                                      "lucky": 3, "creator": 2, "source": "database"}


def test_the_report_command_prints_the_metadata_as_json(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "report", "weekly", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"active_split", "proposals_count", "avg_confidence", "approved", "rejected",
            "pending", "distributions"} <= set(data)


def test_schedule_once_runs_the_weekly_report_when_it_is_due(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "schedule", "--once", "--at",
                                      "2025-01-06T09:00:20Z", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # The timelock queue's job runs every minute; the report ran at its own fire time.
    assert [(r["job"], r["ok"], r["fired_at"]) for r in data["ran"]] == [
        ("weekly_report", True, "2025-01-06T09:00:00+00:00"),
        ("execute_due", True, "2025-01-06T09:00:00+00:00"),
        ("experiments", True, "2025-01-06T09:00:00+00:00")]
    assert data["ran"][0]["result"]["period"]["to"] == "2025-01-06T09:00:00+00:00"
    assert data["next"] == {"rebalance": "2025-01-07T00:00:00+00:00",
                            "weekly_report": "2025-01-13T09:00:00+00:00",
                            "execute_due": "2025-01-06T09:01:00+00:00",
                            "prune_webhooks": "2025-01-07T03:30:00+00:00",
                            "experiments": "2025-01-06T09:01:00+00:00"}


def test_schedule_once_with_nothing_due_runs_nothing(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "schedule", "--once", "--at",
                                      "2025-01-06T10:00:00Z", "--json"])
    assert result.exit_code == 0, result.output
    # Only the every-minute jobs ran (the queue's, the experiments'), and nothing was due in them.
    ran = json.loads(result.stdout)["ran"]
    assert [(r["job"], r["result"]) for r in ran] == [
        ("execute_due", {"executed": [], "expired": [], "votes_closed": []}),
        ("experiments", {"started": [], "switched": [], "finished": [], "stopped": []})]


def test_schedule_refuses_a_bad_cron_override(db_url):
    result = CliRunner().invoke(app, ["--db", db_url, "schedule", "--once",
                                      "--rebalance-cron", "61 * * * *", "--json"])
    assert result.exit_code == 3
    assert "rebalance: '61 * * * *' is not a valid cron expression" in result.stderr
