"""The dashboard names its channel and the signed-in session in every activity row it writes,
never the session's token (the trust issue, part 6)."""

from __future__ import annotations

import json

from core.governance.web_sessions import public_session_id
from core.record.activity import list_activity
from tests.app.helpers import no_exception, open_page
from ui.auth import TOKEN_KEY


def test_a_proposal_filed_on_the_dashboard_names_the_web_session_but_not_its_token(plain_db):
    at = open_page("pages/2_Propose.py", user="ann")
    token = at.session_state[TOKEN_KEY]
    for bucket, value in (("reinvestment", 75.0), ("lucky", 6.0), ("creator", 4.0)):
        at.number_input(key=f"propose_{bucket}").set_value(value)
    at.text_area(key="propose_reasoning").input("Manual adjustment for Q1 strategy")
    at = at.run().button(key="propose_submit").click().run()
    no_exception(at)
    (filed,) = list_activity(plain_db, 10, "allocation_proposed")
    assert filed.metadata["via"] == {"channel": "web", "session_id": public_session_id(token)}
    assert token not in json.dumps([e.as_json() for e in list_activity(plain_db, 1000)])
