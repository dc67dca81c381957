"""Activity: the transparency feed with a type filter, and the weekly reports."""

from __future__ import annotations

import re

from decimal import Decimal

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.proposals.lifecycle import get_proposal, propose_allocation, review_proposal
from core.record.activity import list_activity
from tests.app.helpers import all_text, no_exception, open_page
from ui.format import share

ACTIVITY = "pages/7_Activity.py"


def test_the_feed_lists_the_newest_activity_first(db):
    at = open_page(ACTIVITY, user="vic")
    no_exception(at)
    feed = at.dataframe[0].value
    assert list(feed["when"]) == [e.timestamp.strftime("%Y-%m-%d %H:%M UTC")
                                  for e in list_activity(db, limit=50)]


def test_proposals_are_named_by_their_split_and_linked_to_their_page(plain_db):
    filed = propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning="why",
                                                       confidence=Decimal("0.9")), by="ann")
    review_proposal(plain_db, filed.proposal_id, "rejected", by="gus", notes="no")
    at = open_page(ACTIVITY, user="vic")
    at.selectbox(key="activity_type").set_value("allocation_rejected").run()
    feed = at.dataframe[0].value
    proposal = get_proposal(plain_db, filed.proposal_id)
    assert proposal.id in list_activity(plain_db, activity_type="allocation_rejected")[0].description
    assert proposal.id not in feed["description"].iloc[0]
    assert f"proposal {proposal.split.label()} ({proposal.id[:8]})" in feed["description"].iloc[0]
    assert feed["proposal"].iloc[0] == f"Review?proposal={proposal.id}"


def test_the_feed_filters_by_type(db):
    at = open_page(ACTIVITY, user="vic")
    at.selectbox(key="activity_type").set_value("allocation_rejected").run()
    no_exception(at)
    feed = at.dataframe[0].value
    assert set(feed["type"]) == {"allocation_rejected"}
    assert len(feed) == len(list_activity(db, activity_type="allocation_rejected"))


def test_an_analyst_writes_the_weekly_report_and_sees_it(db):
    at = open_page(ACTIVITY, user="ann").button(key="activity_report").click().run()
    no_exception(at)
    assert "Weekly report written" in all_text(at)
    [report] = list_activity(db, activity_type="weekly_allocation_report")
    shown = {m.label: m.value for m in at.metric}
    split = report.metadata["active_split"]
    assert shown["Active split"] == get_current_allocation(db).split.label()  # `80/15/3/2`
    assert split["allocation_id"] == get_current_allocation(db).id
    assert shown["Proposals in the week"] == str(report.metadata["proposals_count"])
    average = report.metadata["avg_confidence"]
    assert shown["Average confidence"] == ("—" if average is None else share(average))
    assert re.fullmatch(r"—|\d{1,3}%", shown["Average confidence"])


def test_a_viewer_reads_reports_but_is_not_offered_writing_one(db):
    at = open_page(ACTIVITY, user="vic")
    assert "activity_report" not in [b.key for b in at.button]
    assert "No weekly report yet" in all_text(at)
