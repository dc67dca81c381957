"""Propose: checks as you type, exactly as core reports them; a valid proposal is filed."""

from __future__ import annotations

from core.allocation.money import calculate_amounts
from core.allocation.split import BUCKETS, Split
from core.proposals.lifecycle import get_allocation_history, get_pending_proposals
from tests.app.helpers import all_text, no_exception, open_page

PROPOSE = "pages/2_Propose.py"


def _set(at, **values):
    for bucket, value in values.items():
        at.number_input(key=f"propose_{bucket}").set_value(value)
    return at.run()


def test_the_form_starts_from_the_live_split_with_a_live_sum(plain_db):
    at = open_page(PROPOSE, user="ann")
    no_exception(at)
    assert [at.number_input(key=f"propose_{b}").value for b in ("reinvestment", "dao", "lucky",
                                                                "creator")] == [80, 15, 3, 2]
    assert {m.label: m.value for m in at.metric}["Sum"] == "100%"
    at = _set(at, dao=20.0)
    assert {m.label: m.value for m in at.metric}["Sum"] == "105%"
    assert "total: the four sum to 105, not exactly 100" in [e.value for e in at.error]


def test_errors_and_warnings_appear_as_core_reports_them_while_typing(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=69.0, dao=31.0, lucky=0.0, creator=0.0)
    no_exception(at)
    errors = [e.value for e in at.error]
    assert "dao: 31 is above the maximum 30" in errors
    assert "lucky: 0 is below the minimum 1" in errors
    assert "creator: 0 is below the minimum 1" in errors
    warnings = [w.value for w in at.warning]
    assert "lucky: 0 is under 1, may reduce user engagement" in warnings
    at.slider(key="propose_confidence").set_value(0.3).run()
    assert "confidence: 0.3 is below 0.5, consider gathering more data" in [w.value for w in at.warning]


def test_an_invalid_proposal_shows_the_error_and_files_nothing(plain_db):
    before = len(get_allocation_history(plain_db))
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=70.0, dao=31.0, lucky=0.0)
    at.text_area(key="propose_reasoning").input("too much for the DAO")
    at = at.button(key="propose_submit").click().run()
    no_exception(at)
    assert "dao: 31 is above the maximum 30" in [e.value for e in at.error]
    assert len(get_allocation_history(plain_db)) == before


def test_missing_reasoning_is_reported_on_submit_only(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    assert "reasoning: must not be empty" not in all_text(at)
    at = at.button(key="propose_submit").click().run()
    assert "reasoning: must not be empty" in [e.value for e in at.error]
    assert get_pending_proposals(plain_db) == []


def test_a_valid_proposal_is_filed_and_appears_in_the_log_and_on_review(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("Manual adjustment for Q1 strategy")
    at.slider(key="propose_confidence").set_value(0.8)
    at = at.run()
    assert "Valid: this proposal can be filed." in all_text(at)
    at = at.button(key="propose_submit").click().run()
    no_exception(at)
    assert "Proposal 75/15/6/4 filed" in all_text(at)
    newest = get_allocation_history(plain_db, limit=1)[0]
    assert (newest.status, newest.split.label(), newest.proposer_username) == \
        ("proposed", "75/15/6/4", "ann")
    assert str(newest.confidence.normalize()) == "0.8"
    assert newest.reasoning == "Manual adjustment for Q1 strategy"
    review = open_page("pages/1_Review.py", user="gus")
    assert "Manual adjustment for Q1 strategy" in all_text(review)


def test_after_filing_the_form_starts_again_from_the_live_split_with_a_link_to_the_proposal(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("Manual adjustment for Q1 strategy")
    at = at.run().button(key="propose_submit").click().run()
    no_exception(at)
    filed = get_pending_proposals(plain_db)
    assert len(filed) == 1
    assert [at.number_input(key=f"propose_{b}").value for b in BUCKETS] == [80, 15, 3, 2]
    assert at.text_area(key="propose_reasoning").value == ""
    assert "Valid: this proposal can be filed." not in all_text(at)
    links = [l.proto for l in at.get("page_link")]
    assert any(l.label == "Open the proposal you filed"
               and f"proposal={filed[0].record.id}" in l.query_string for l in links)
    at = at.button(key="propose_submit").click().run()  # a second click files nothing
    assert len(get_pending_proposals(plain_db)) == 1


def test_the_preview_shows_exact_amounts_for_a_sample_profit(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_input(key="propose_sample").input("999.99").run()
    rows = at.dataframe[0].value.to_dict("records")
    proposed = calculate_amounts("999.99", Split.of(75, 15, 6, 4))
    live = calculate_amounts("999.99", Split.of(80, 15, 3, 2))
    assert [r["Proposed"] for r in rows] == [str(getattr(proposed, b)) for b in BUCKETS]
    assert [r["Proposed"] for r in rows] == ["749.99", "150.00", "60.00", "40.00"]
    assert [r["Under the live split"] for r in rows] == [str(getattr(live, b)) for b in BUCKETS]


def test_out_of_range_and_over_precise_values_reach_core_as_typed_and_file_nothing(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=79.999, creator=-1.0)
    no_exception(at)
    errors = [e.value for e in at.error]
    assert "reinvestment: 79.999 has more than 2 decimal places" in errors
    at = _set(at, reinvestment=83.0)
    assert "creator: -1 is below the minimum 1" in [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Sum"] == "100%"
    at.text_area(key="propose_reasoning").input("a negative creator share")
    at = at.button(key="propose_submit").click().run()
    assert get_pending_proposals(plain_db) == []


def test_the_step_limit_wording_is_truthful_and_a_major_change_is_marked(plain_db):
    at = open_page(PROPOSE, user="ann")
    assert "is a **minor** change" in all_text(at) and "needs 2 approvals" in all_text(at)
    at = _set(at, reinvestment=64.0, dao=16.0, lucky=10.0, creator=10.0)
    at.text_area(key="propose_reasoning").input("a big move")
    at = at.run()
    assert any("tier: a major change" in w.value for w in at.warning)
    assert "Valid: this proposal can be filed. It is a major change." in all_text(at)


def test_filing_what_is_already_pending_is_refused_next_to_the_form(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("first")
    at = at.run().button(key="propose_submit").click().run()
    at = _set(at, reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("again")
    at = at.run()
    [pending] = get_pending_proposals(plain_db)
    assert any(pending.record.id in e.value for e in at.error)
    at = at.button(key="propose_submit").click().run()
    assert len(get_pending_proposals(plain_db)) == 1


def test_the_form_does_not_shout_that_it_holds_the_live_split_until_submitted(plain_db):
    at = open_page(PROPOSE, user="ann")
    no_exception(at)
    assert not [e.value for e in at.error]
    assert "The form starts from the live split" in all_text(at)
    at.text_area(key="propose_reasoning").input("no change at all")
    at = at.button(key="propose_submit").click().run()
    refusals = [e.value for e in at.error if "already the live split" in e.value]
    assert len(refusals) == 1, refusals  # said once, not by the check and the filing both
    assert len(get_allocation_history(plain_db)) == 1


def test_every_broken_rule_is_shown_at_once_decimals_and_bounds_together(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=95.0, dao=3.0, lucky=1.555,
              creator=0.445)
    no_exception(at)
    errors = [e.value for e in at.error]  # each under its own input
    assert sorted(errors) == sorted(["lucky: 1.555 has more than 2 decimal places",
                                     "creator: 0.445 has more than 2 decimal places",
                                     "reinvestment: 95 is above the maximum 90",
                                     "dao: 3 is below the minimum 5",
                                     "creator: 0.445 is below the minimum 1"])


def test_a_split_summing_to_100_with_too_many_decimals_says_why_there_is_no_preview(plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=80.0, dao=15.0, lucky=1.555,
              creator=3.445)  # sums to 100: the sum is not what holds the preview back
    no_exception(at)
    assert not [d for d in at.dataframe if d.key == "propose_preview"]
    captions = " ".join(c.value for c in at.caption)
    assert "at most 2 decimal places that sum to 100" in captions


def test_a_double_click_arriving_with_the_values_just_filed_shows_the_filing_not_a_refusal(
        plain_db):
    at = _set(open_page(PROPOSE, user="ann"), reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("Manual adjustment for Q1 strategy")
    at = at.run().button(key="propose_submit").click().run()
    [filed] = get_pending_proposals(plain_db)
    # The second click of a double click reached the server before the browser showed the reset.
    at = _set(at, reinvestment=75.0, lucky=6.0, creator=4.0)
    at.text_area(key="propose_reasoning").input("Manual adjustment for Q1 strategy")
    at = at.button(key="propose_submit").click().run()
    no_exception(at)
    assert not [e.value for e in at.error]
    assert any("filed; it now waits for a governor" in s.value for s in at.success)
    links = [l.proto for l in at.get("page_link")]
    assert any(f"proposal={filed.record.id}" in l.query_string for l in links)
    assert [at.number_input(key=f"propose_{b}").value for b in BUCKETS] == [80, 15, 3, 2]
    assert len(get_pending_proposals(plain_db)) == 1
