"""Input rules the second pass found skipped: every new text and number goes through the shared
parsers (core.base.parsing), refused with the field named and nothing written."""

from __future__ import annotations

import re

import pytest

from core.base.errors import ValidationFailed
from core.base.parsing import TEXT_LIMITS
from core.governance.api_tokens import create_token
from core.proposals.lifecycle import withdraw_proposal
from tests.integration.state import every_row, file
from tests.integration.test_cli_contract import refused


@pytest.mark.parametrize(("notes", "problem"), [
    ("x" * (TEXT_LIMITS["notes"] + 1), f"at most {TEXT_LIMITS['notes']} are allowed"),
    ("stop\x1b[31m", "control character U+001B"),
])
def test_withdrawal_notes_follow_the_rules_of_review_notes(team, notes, problem):
    proposal = file(team)
    before = every_row(team)
    with pytest.raises(ValidationFailed, match=f"notes: .*{re.escape(problem)}"):
        withdraw_proposal(team, proposal, by="ann", notes=notes)
    assert every_row(team) == before


@pytest.mark.parametrize("name", ["two\nlines", "tab\tbed", "bell\x07", "nul\x00"])
def test_a_token_name_is_one_line_of_plain_text(team, name):
    before = every_row(team)
    with pytest.raises(ValidationFailed, match="name: "):
        create_token(team, "ann", name, by="ada")
    assert every_row(team) == before


@pytest.mark.parametrize("limit", ["100000000000000000000000000000", "0", "-1", "ten"])
def test_the_delivery_log_limit_is_read_like_every_other_limit(db, limit):
    url = db.engine.url.render_as_string(hide_password=False)
    problems = refused(url, "webhooks", "deliveries", "--limit", limit)
    assert problems[0].startswith("limit:")
