"""Governance on the dashboard: the unsealed banner, the timelock queue with its Veto dialog, and
governance proposals (before → after) reviewed through their dialogs."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import streamlit as st

from core.allocation.current import get_current_allocation
from core.allocation.validation import ProposalInput
from core.governance.changes import governance_story, request_disable, request_policy_change
from core.governance.policy_store import get_policy, set_policy
from core.governance.sealing import seal
from core.proposals.lifecycle import get_proposal, propose_allocation, review_proposal
from core.proposals.queue import execute_due, queued_changes, veto
from db.types import utcnow
from tests.app.helpers import all_text, no_exception, open_page
from ui.page import PAGES

REVIEW = "pages/1_Review.py"
BANNER = "Governance is not sealed"
MAJOR_SPLIT = (64, 30, 3, 3)  # against 80/15/3/2: reinvestment -16, dao +15, beyond max_step 15


def _warnings(at) -> str:
    return "\n".join(w.value for w in at.warning)


def _keys(at) -> list[str]:
    return [b.key for b in at.button]


def _queued_major_change(db) -> str:
    """A major split proposal, approved by both governors through core: it waits 24 h."""
    assert get_current_allocation(db).split.label() == "80/15/3/2"
    proposal_id = propose_allocation(db, ProposalInput(
        *MAJOR_SPLIT, reasoning="Fund the DAO for the audit", confidence=Decimal("0.8")),
        by="ann").proposal_id
    review_proposal(db, proposal_id, "approved", by="gus")
    assert review_proposal(db, proposal_id, "approved", by="gil").status == "queued"
    return proposal_id


def test_every_page_says_governance_is_not_sealed_until_it_is_sealed(plain_db):
    for path, *_ in PAGES:
        at = open_page(path, user="ada")
        no_exception(at)
        assert BANNER in _warnings(at), path
    seal(plain_db, by="ada")
    st.cache_data.clear()
    for path, *_ in PAGES:
        at = open_page(path, user="ada")
        no_exception(at)
        assert BANNER not in _warnings(at), path


def test_a_queued_major_split_shows_its_time_left_and_a_governor_vetoes_it_with_a_reason(plain_db):
    proposal_id = _queued_major_change(plain_db)
    at = open_page(REVIEW, user="gil")
    no_exception(at)
    text = all_text(at)
    assert "### ⏳ In the queue (1)" in text
    assert "**Split:** 64\\/30\\/3\\/3\\: Fund the DAO for the audit" in text  # Markdown-escaped
    assert "23 h 59 min left" in text or "24 h 0 min left" in text
    assert "approved by gus, gil" in text

    at = at.button(key=f"veto_{proposal_id}").click().run()
    no_exception(at)
    assert "Veto **64\\/30\\/3\\/3" in all_text(at)
    assert at.button(key="confirm_veto").disabled
    assert "Write the reason to enable Veto." in all_text(at)
    at.text_area(key="veto_reason").input("   ")  # blanks are no reason
    at = at.run()
    assert at.button(key="confirm_veto").disabled
    at.text_area(key="veto_reason").input("Not before the audit")
    at = at.run()
    assert not at.button(key="confirm_veto").disabled
    assert get_proposal(plain_db, proposal_id).status == "queued"  # nothing written yet

    at = at.button(key="confirm_veto").click().run()
    no_exception(at)
    assert get_proposal(plain_db, proposal_id).status == "vetoed"
    assert "Vetoed **64\\/30\\/3\\/3\\: Fund the DAO for the audit**: it will not take effect." in \
        [s.value for s in at.success]
    assert "In the queue" not in all_text(at)
    assert not [k for k in _keys(at) if k.startswith("veto_")]
    assert not [b for b in at.button if b.key == "confirm_veto"]  # the dialog closed

    again = open_page(REVIEW, user="gus")
    no_exception(again)
    assert "In the queue" not in all_text(again)
    assert "Vetoed" not in all_text(again)  # the notice was for the one who vetoed, once
    assert get_current_allocation(plain_db).split.label() == "80/15/3/2"


def test_a_viewer_sees_the_queue_but_no_veto_button(plain_db):
    proposal_id = _queued_major_change(plain_db)
    at = open_page(REVIEW, user="vic")
    no_exception(at)
    assert "### ⏳ In the queue (1)" in all_text(at)
    assert f"veto_{proposal_id}" not in _keys(at)
    assert f"veto_{proposal_id}" in _keys(open_page(REVIEW, user="gus"))


def test_cancelling_a_veto_writes_nothing_and_keeps_the_change_queued(plain_db):
    proposal_id = _queued_major_change(plain_db)
    at = open_page(REVIEW, user="gil").button(key=f"veto_{proposal_id}").click().run()
    at.text_area(key="veto_reason").input("Changed my mind")
    at = at.run().button(key="cancel_veto").click().run()
    no_exception(at)
    assert not [b for b in at.button if b.key == "confirm_veto"]
    assert [c.id for c in queued_changes(plain_db)] == [proposal_id]
    # The next Veto starts with an empty reason, not the one typed before.
    at = at.button(key=f"veto_{proposal_id}").click().run()
    assert at.text_area(key="veto_reason").value == ""
    assert at.button(key="confirm_veto").disabled


def test_a_sealed_policy_change_shows_before_and_after_and_takes_effect_after_the_timelock(plain_db):
    seal(plain_db, by="ada")
    filing = request_policy_change(plain_db, "max_step", "20", by="ada")
    assert filing.status == "proposed"

    at = open_page(REVIEW, user="ada")
    no_exception(at)
    text = all_text(at)
    assert "### 🏛️ Governance proposals (1)" in text
    assert "**Policy change:** set max" in text
    table = next(d.value for d in at.dataframe if "Before" in d.value.columns)
    assert table.to_dict("records") == [{"What": "max_step", "Before": "15", "After": "20"}]
    assert f"gov_approve_{filing.id}" not in _keys(at)
    assert "This change is yours or about you" in text

    at = open_page(REVIEW, user="gus").button(key=f"gov_approve_{filing.id}").click().run()
    no_exception(at)
    assert "Your approval is 1 of 2: the change keeps waiting for more." in all_text(at)
    at = at.button(key="confirm_gov_approve").click().run()
    no_exception(at)
    assert "Approval recorded: 1 of 2." in all_text(at)
    assert "You approved this change; it waits for other governors." in all_text(at)
    assert f"gov_approve_{filing.id}" not in _keys(at)

    at = open_page(REVIEW, user="gil").button(key=f"gov_approve_{filing.id}").click().run()
    no_exception(at)
    dialog_table = next(d.value for d in at.dataframe if "Before" in d.value.columns)
    assert dialog_table.to_dict("records")[0]["After"] == "20"
    assert ("Your approval completes the count: the change goes into the queue and takes "
            "effect in 24 h unless a governor vetoes it.") in all_text(at)
    at.text_input(key="gov_approve_notes").input("Room for the audit fund")
    at = at.run().button(key="confirm_gov_approve").click().run()
    no_exception(at)
    assert any(s.value.startswith("Approved: the change takes effect ") and
               s.value.endswith(" unless vetoed.") for s in at.success)
    assert "**Governance:** set max" in all_text(at)  # now in the queue, with its Veto
    assert f"veto_{filing.id}" in _keys(at)
    assert "Governance proposals" not in all_text(at)

    assert get_policy(plain_db).max_step == Decimal(15)  # not before the timelock
    execute_due(plain_db, utcnow() + timedelta(hours=23))
    assert get_policy(plain_db).max_step == Decimal(15)
    execute_due(plain_db, utcnow() + timedelta(hours=24, minutes=1))
    assert get_policy(plain_db).max_step == Decimal(20)
    story = governance_story(plain_db, filing.id)
    assert story.status == "active"
    assert [e["notes"] for e in story.timeline if e["event"] == "approved"] == \
        [None, "Room for the audit fund"]


def test_a_governor_who_vetoed_sees_so_instead_of_a_second_veto_button(plain_db):
    set_policy(plain_db, "veto_approvals", "2", by="ada")
    proposal_id = _queued_major_change(plain_db)
    veto(plain_db, proposal_id, by="gus", reason="Too fast")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert "Vetoed by gus: Too fast" in all_text(at)
    assert "You vetoed this change; it is stopped once 1 more governor(s) veto it." in all_text(at)
    assert f"veto_{proposal_id}" not in _keys(at)
    at = open_page(REVIEW, user="gil").button(key=f"veto_{proposal_id}").click().run()
    at.text_area(key="veto_reason").input("Agreed, too fast")
    at = at.run().button(key="confirm_veto").click().run()
    no_exception(at)
    assert any(s.value.startswith("Vetoed ") for s in at.success)
    assert get_proposal(plain_db, proposal_id).status == "vetoed"


def test_a_veto_confirmed_after_another_governor_vetoed_says_who_did_and_changes_nothing(plain_db):
    proposal_id = _queued_major_change(plain_db)
    at = open_page(REVIEW, user="gil").button(key=f"veto_{proposal_id}").click().run()
    at.text_area(key="veto_reason").input("Not before the audit")
    at = at.run()
    # While gil writes, gus vetoes the same change in another browser.
    veto(plain_db, proposal_id, by="gus", reason="Wrong quarter")
    at = at.button(key="confirm_veto").click().run()
    no_exception(at)
    told = "\n".join(e.value for e in at.error)
    assert "Someone acted first: **64\\/30\\/3\\/3\\: Fund the DAO for the audit** is now vetoed " \
        "(vetoed by gus\\: Wrong quarter)." in told
    assert "is vetoed; only queued changes can be vetoed" in told
    assert "In the queue" not in all_text(at)  # the page reads the queue again
    assert get_proposal(plain_db, proposal_id).review_notes == "vetoed by gus: Wrong quarter"


def test_a_waiting_governance_proposal_is_not_called_nothing_waiting(plain_db):
    seal(plain_db, by="ada")
    request_policy_change(plain_db, "max_step", "20", by="ada")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert "### 🏛️ Governance proposals (1)" in all_text(at)
    assert "Nothing is waiting for review" not in all_text(at)


def test_the_unsealed_banner_says_whether_enough_governors_are_active_to_seal(plain_db):
    assert "2 governors or admins besides an admin are active: enough to seal it" in \
        _warnings(open_page(user="vic"))
    request_disable(plain_db, "gil", by="ada")  # unsealed: at once
    st.cache_data.clear()
    warnings = _warnings(open_page(user="vic"))
    assert "Once at least 2 governors or admins besides the sealing admin are active" in warnings
    assert "there is 1" in warnings


def test_a_sealed_enabling_of_a_governor_shows_disabled_to_active(plain_db):
    from core.governance.accounts import add_user, disable_user
    from core.governance.changes import request_enable

    add_user(plain_db, "gwen", "governor", "correct horse battery", by="ada")
    disable_user(plain_db, "gwen", by="ada")
    seal(plain_db, by="ada")
    filing = request_enable(plain_db, "gwen", by="ada")
    at = open_page(REVIEW, user="gus")
    no_exception(at)
    assert r"**Enable an account:** enable gwen \(a governor\)" in all_text(at)  # escaped text
    table = next(d.value for d in at.dataframe if "Before" in d.value.columns)
    assert table.to_dict("records") == [{"What": "gwen (governor)", "Before": "disabled",
                                         "After": "active"}]
    assert f"gov_approve_{filing.id}" in _keys(at)
