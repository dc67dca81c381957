"""Activity: the transparency feed with a type filter, and the weekly reports."""

from __future__ import annotations

from core.activity import list_activity
from tests.app.helpers import all_text, no_exception, open_page

ACTIVITY = "pages/7_Activity.py"


def test_the_feed_lists_the_newest_activity_first(db):
    at = open_page(ACTIVITY, user="vic")
    no_exception(at)
    feed = at.dataframe[0].value
    assert list(feed["description"]) == [e.description for e in list_activity(db, limit=50)]


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
    assert shown["Active split"] == "/".join(str(split[b]) for b in
                                             ("reinvestment", "dao", "lucky", "creator"))
    assert shown["Proposals in the week"] == str(report.metadata["proposals_count"])


def test_a_viewer_reads_reports_but_is_not_offered_writing_one(db):
    at = open_page(ACTIVITY, user="vic")
    assert "activity_report" not in [b.key for b in at.button]
    assert "No weekly report yet" in all_text(at)
