"""Who the client is, behind a proxy or not (issue 18 #18): a real `python -m api` trusts
X-Forwarded-For only from the proxies named with --forwarded-allow-ips, and never from loopback
by default, so rotating the header does not make each bad token a new client."""

from __future__ import annotations

import pytest

from api.__main__ import forwarding
from db.engine import open_database
from tests.api.conftest import seed_team
from tests.api.test_server import api_server, curl


@pytest.fixture
def tokens(db_url: str) -> dict[str, str]:
    db = open_database(db_url)
    issued, _ = seed_team(db)
    db.engine.dispose()
    return issued


def guess(base: str, forwarded_for: str) -> int:
    return curl("-H", "Authorization: Bearer pa_guess", "-H", f"X-Forwarded-For: {forwarded_for}",
                f"{base}/api/v1/allocation")[0]


def test_rotating_x_forwarded_for_does_not_escape_the_bad_token_throttle(db_url, tokens):
    with api_server(db_url) as base:
        statuses = [guess(base, f"203.0.113.{n}") for n in range(1, 7)]
        assert statuses[:3] == [401, 401, 401]
        assert 429 in statuses[3:]  # every "client" was the one loopback address
        ok = curl("-H", f"Authorization: Bearer {tokens['vic']}", f"{base}/api/v1/allocation")
        assert ok[0] == 200  # and the valid token is not locked out with the guesser


def test_a_named_proxy_may_say_who_the_client_is(db_url, tokens):
    with api_server(db_url, "--forwarded-allow-ips", "127.0.0.1") as base:
        for _ in range(3):
            assert guess(base, "203.0.113.1") == 401
        assert guess(base, "203.0.113.1") == 429
        assert guess(base, "203.0.113.2") == 401  # another client behind the trusted proxy


def test_forwarded_headers_are_off_unless_proxies_are_named():
    assert forwarding(None) == {"proxy_headers": False}
    assert forwarding("") == {"proxy_headers": False}
    assert forwarding("10.0.0.5") == {"proxy_headers": True, "forwarded_allow_ips": "10.0.0.5"}
