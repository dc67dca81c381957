"""The community vote on Review and on a proposal's page: the tally, the quorum bar and the time
left, shown only for a proposal put to a vote (votes signed with eth-account from known keys)."""

from __future__ import annotations

from core.allocation.validation import ProposalInput
from core.proposals.lifecycle import propose_allocation
from core.voting.service import cast_vote
from db.types import utcnow
from streamlit.testing.v1 import AppTest
from ui.proposals import REPLACED_CAPTION

from tests.app.helpers import ROOT, TIMEOUT, all_text, no_exception, open_page, sign_in_as
from tests.integration.voters import ADDRESS, seconds, sign, voting_on

REVIEW = "pages/1_Review.py"


def _voted_on(db, tmp_path) -> str:
    """A proposal put to an advisory vote, with alice's 400 for and bob's 300 against."""
    voting_on(db, tmp_path)
    proposal = propose_allocation(db, ProposalInput(75, 15, 6, 4, reasoning="Q1 strategy"),
                                  by="ann").proposal_id
    now = seconds(utcnow())
    for name, support in (("alice", "for"), ("bob", "against")):
        cast_vote(db, proposal, **sign(proposal, name, support, now))
    return proposal


def _proposal_page(user: str, proposal_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(at, user)
    at.query_params["proposal"] = proposal_id
    return at.switch_page(REVIEW).run()


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_review_shows_the_tally_the_quorum_bar_and_the_time_left_of_a_voted_proposal(
        plain_db, tmp_path):
    _voted_on(plain_db, tmp_path)
    at = open_page(REVIEW, user="vic")
    no_exception(at)
    assert {k: v for k, v in _metrics(at).items() if k in ("For", "Against", "Abstain",
                                                             "Voters")} == {
        "For": "400", "Against": "300", "Abstain": "0", "Voters": "2"}
    [bar] = at.get("progress")
    assert bar.proto.value == 100  # 700 of the 40 tokens the 4% quorum asks: full
    assert "Quorum 40 (4% of the snapshot): met" in bar.proto.text
    text = all_text(at)
    assert "**Community vote** (advisory, open)" in text
    assert "left · passes so far" in text


def test_the_proposal_page_shows_the_tally_too(plain_db, tmp_path):
    proposal = _voted_on(plain_db, tmp_path)
    at = _proposal_page("gus", proposal)
    no_exception(at)
    assert _metrics(at)["For"] == "400" and _metrics(at)["Voters"] == "2"
    assert len(at.get("progress")) == 1


def test_a_proposal_not_put_to_a_vote_shows_no_vote_panel(plain_db):
    proposal = propose_allocation(plain_db, ProposalInput(75, 15, 6, 4, reasoning="Q1 strategy"),
                                  by="ann").proposal_id
    at = _proposal_page("gus", proposal)
    no_exception(at)
    assert "Community vote" not in all_text(at)
    assert not at.get("progress") and "For" not in _metrics(at)


def test_a_replaced_vote_is_listed_apart_under_its_caption_and_not_summed(plain_db, tmp_path):
    proposal = _voted_on(plain_db, tmp_path)
    cast_vote(plain_db, proposal, **sign(proposal, "bob", "abstain", seconds(utcnow()) + 1))
    at = _proposal_page("gus", proposal)
    no_exception(at)
    assert {k: _metrics(at)[k] for k in ("For", "Against", "Abstain", "Voters")} == {
        "For": "400", "Against": "0", "Abstain": "300", "Voters": "2"}
    assert "Votes: 2 counted, 1 replaced" in [e.label for e in at.expander]
    tables = [d.value for d in at.dataframe if "signed" in d.value.columns]
    [counted, replaced] = tables  # the replaced ones in a table of their own
    assert sorted(counted["support"]) == ["abstain", "for"]
    assert list(replaced["support"]) == ["against"]
    assert list(replaced["address"]) == [ADDRESS["bob"]] and replaced["replaced"][0] != "—"
    assert REPLACED_CAPTION in [c.value for c in at.caption]

