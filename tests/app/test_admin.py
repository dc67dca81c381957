"""Admin: the policy and the accounts, for admins only."""

from __future__ import annotations

from core.governance.accounts import get_account
from core.governance.policy_store import get_policy
from tests.app.helpers import all_text, button, no_exception, open_page

ADMIN = "pages/8_Admin.py"


def test_only_an_admin_opens_the_admin_page(plain_db):
    for user in ("vic", "ann", "gus"):
        at = open_page(ADMIN, user=user)
        no_exception(at)
        assert "This page is for the admin role" in all_text(at)
        assert not at.dataframe
    assert open_page(ADMIN, user="ada").dataframe


def test_an_admin_changes_the_policy(plain_db):
    at = open_page(ADMIN, user="ada")
    at.selectbox(key="policy_key").set_value("approvals_required")
    at.text_input(key="policy_value").input("2")
    at = button(at, "💾 Change the policy…").click().run()
    no_exception(at)
    assert "**approvals_required**: 1 → **2**" in all_text(at)
    assert get_policy(plain_db).approvals_required == 1  # not before the confirmation
    at = at.button(key="confirm_policy").click().run()
    assert get_policy(plain_db).approvals_required == 2
    assert "approvals_required is now 2" in all_text(at)


def test_a_bad_policy_value_is_explained_and_changes_nothing(plain_db):
    at = open_page(ADMIN, user="ada")
    at.selectbox(key="policy_key").set_value("dao_max")
    at.text_input(key="policy_value").input("300")
    at = button(at, "💾 Change the policy…").click().run()
    assert not [b for b in at.button if b.key == "confirm_policy"]
    assert "dao_max: 300 is outside 0..100" in [e.value for e in at.error]
    assert get_policy(plain_db).bounds["dao"][1] == 30


def test_an_admin_changes_a_role_and_disables_an_account(plain_db):
    at = open_page(ADMIN, user="ada")
    at = at.selectbox(key="change_who").set_value("vic").run()  # the browser reruns on a choice
    at.selectbox(key="change_role").set_value("analyst")
    at = at.button(key="change_set_role").click().run()
    assert "**vic**: viewer → **analyst**" in all_text(at)
    assert get_account(plain_db, "vic").role == "viewer"  # not before the confirmation
    at = at.button(key="confirm_set_role").click().run()
    assert get_account(plain_db, "vic").role == "analyst"
    at.selectbox(key="change_who").set_value("vic")
    at = at.button(key="change_disable").click().run()
    assert get_account(plain_db, "vic").active  # not before the confirmation
    at = at.button(key="confirm_disable").click().run()
    no_exception(at)
    assert not get_account(plain_db, "vic").active


def test_disabling_an_account_ends_its_open_sessions_at_once(plain_db):
    from tests.app.helpers import sign_in_as
    from streamlit.testing.v1 import AppTest
    from tests.app.helpers import ROOT, TIMEOUT
    vic = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    sign_in_as(vic, "vic")
    assert "`vic` · viewer" in "\n".join(m.value for m in vic.run().sidebar.markdown)
    at = open_page(ADMIN, user="ada")
    at.selectbox(key="change_who").set_value("vic")
    at = at.button(key="change_disable").click().run()
    at.button(key="confirm_disable").click().run()
    assert [t.value for t in vic.run().title] == ["🔐 Sign in"]


def test_an_admin_creates_a_token_shown_once_and_revokes_it(plain_db):
    from core.governance.api_tokens import authenticate_token, list_tokens

    at = open_page(ADMIN, user="ada")
    at.selectbox(key="token_user").set_value("ann")
    at.text_input(key="token_name").input("billing")
    at = button(at, "🔑 Create token").click().run()
    no_exception(at)
    [token] = [c.value for c in at.code]
    assert authenticate_token(plain_db, token).username == "ann"
    assert "shown this once" in all_text(at)
    at = at.run()  # the next run no longer shows it
    assert not at.code
    at = at.button(key="token_revoke").click().run()
    no_exception(at)
    assert [t.revoked for t in list_tokens(plain_db)] == [True]


def test_an_admin_adds_a_webhook_endpoint_sees_its_secret_once_and_removes_it(plain_db, private_webhooks_allowed):
    from core.governance.policy_store import set_policy
    from core.jobs import webhooks

    at = open_page(ADMIN, user="ada")
    at.text_input(key="webhook_url").input("http://127.0.0.1:9/hook")
    at = button(at, "➕ Add endpoint").click().run()
    no_exception(at)
    [secret] = [c.value for c in at.code]
    assert secret.startswith("whsec_")
    [endpoint] = webhooks.list_endpoints(plain_db)
    assert endpoint.events == ["all"]
    set_policy(plain_db, "max_step", "10", by="ada")
    at = at.run()
    log = next(d.value for d in at.dataframe if "attempts" in d.value.columns)
    assert list(log["type"]) == ["policy.changed"] and list(log["status"]) == ["pending"]
    at = at.button(key="webhook_remove").click().run()
    no_exception(at)
    assert webhooks.list_endpoints(plain_db) == []


def test_a_bad_webhook_url_is_explained_and_adds_nothing(plain_db):
    from core.jobs import webhooks

    at = open_page(ADMIN, user="ada")
    at.text_input(key="webhook_url").input("not a url")
    at = button(at, "➕ Add endpoint").click().run()
    assert any(e.value.startswith("url: 'not a url' is not an http(s) URL") for e in at.error)
    assert webhooks.list_endpoints(plain_db) == []


def test_the_role_box_shows_the_chosen_accounts_current_role(plain_db):
    at = open_page(ADMIN, user="ada")
    assert (at.selectbox(key="change_who").value, at.selectbox(key="change_role").value) == (
        "ann", "analyst")
    for who, role in (("gus", "governor"), ("vic", "viewer"), ("ann", "analyst")):
        at = at.selectbox(key="change_who").set_value(who).run()
        assert at.selectbox(key="change_role").value == role, who
    at.selectbox(key="change_role").set_value("viewer")
    at = at.run()  # a role chosen for the same account is kept until it is set or abandoned
    assert at.selectbox(key="change_role").value == "viewer"


def test_a_disabled_account_is_enabled_again_after_a_confirmation(plain_db):
    from core.governance.accounts import disable_user
    from core.record.activity import list_activity

    disable_user(plain_db, "vic", by="ada")
    at = open_page(ADMIN, user="ada")
    at = at.selectbox(key="change_who").set_value("vic").run()
    assert not [b for b in at.button if b.key == "change_disable"]  # nothing to disable
    at = at.button(key="change_enable").click().run()
    assert "**vic** (viewer) can sign in again" in all_text(at)
    assert not get_account(plain_db, "vic").active  # not before the confirmation
    at = at.button(key="confirm_enable").click().run()
    no_exception(at)
    assert get_account(plain_db, "vic").active
    assert "vic is enabled and can sign in again" in all_text(at)
    assert [b.key for b in at.button if b.key in ("change_enable", "change_disable")] == [
        "change_disable"]
    [enabled] = list_activity(plain_db, activity_type="account_enabled")
    assert enabled.metadata["by"] == "ada" and enabled.metadata["via"]["channel"] == "web"


def test_the_invite_form_is_empty_again_after_an_invitation(plain_db):
    at = open_page(ADMIN, user="ada")
    at.text_input(key="invite_username").input("nia")
    at.selectbox(key="invite_role").set_value("governor")
    at = button(at, "✉️ Invite").click().run()
    no_exception(at)
    assert "nia is invited as governor" in all_text(at)
    assert (at.text_input(key="invite_username").value, at.selectbox(key="invite_role").value) \
        == ("", "viewer")


def test_the_policy_table_lists_every_setting(plain_db):
    from core.allocation.policy import POLICY_KEYS

    at = open_page(ADMIN, user="ada")
    table = at.dataframe[0]  # the first on the page
    assert list(table.value["key"]) == list(POLICY_KEYS)


def test_the_webhook_notice_says_how_the_secret_is_kept(plain_db, private_webhooks_allowed):
    at = open_page(ADMIN, user="ada")
    at.text_input(key="webhook_url").input("http://127.0.0.1:9/hook")
    at = button(at, "➕ Add endpoint").click().run()
    notice = " ".join(w.value for w in at.warning if "Signing secret" in w.value)
    assert "never stored in the clear" not in notice
    assert "stored encrypted with the install's key" in notice and "signing each" in notice
    at.selectbox(key="token_user").set_value("ann")
    at.text_input(key="token_name").input("billing")
    at = button(at, "🔑 Create token").click().run()
    notice = " ".join(w.value for w in at.warning if "Token for ann" in w.value)
    assert "only its SHA-256 digest is stored" in notice


def test_the_policy_table_shows_values_in_the_words_the_form_accepts(plain_db):
    at = open_page(ADMIN, user="ada")
    shown = dict(zip(at.dataframe[0].value["key"], at.dataframe[0].value["value"]))
    assert shown["auto_approve_min_confidence"] == "off"  # not Python's None
    assert shown["require_totp"] == "false" and shown["distributions_paused"] == "false"
    assert "None" not in shown.values() and "False" not in shown.values()
