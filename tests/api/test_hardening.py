"""The API against slips and hostile callers, on SQLite and PostgreSQL: an unusually large amount
needs confirming, money keeps every digit, the token is checked before the body is read, bodies
are capped, and answers leak neither the database's address nor a caller's long input."""

from __future__ import annotations

from decimal import Decimal

import pytest

from api.app import MAX_BODY_BYTES
from core.governance.policy_store import set_policy
from core.proposals.distribution import largest_distribution, list_distributions
from tests.api.test_routes import problem_of
from tests.integration.state import snapshot

MANAGE = "/functions/v1/manage-profits"
JSON = {"Content-Type": "application/json"}


def distribute(api, profit, key: str, **more):
    return api.post("ann", MANAGE, json={"profit": profit, "key": key, **more})


# --- the largest distribution so far, and ten times it -----------------------------------------

def test_the_largest_distribution_so_far_is_compared_as_a_number_not_as_text(api):
    for profit in ("953.12", "3815.77", "10000.00"):
        assert distribute(api, profit, f"k{profit}").status_code == 201
    assert largest_distribution(api.db) == Decimal("10000.00")
    # Under ten times 10,000.00, though over ten times 953.12 (the largest as text compares).
    assert distribute(api, "38157.71", "fine").status_code == 201
    errors = problem_of(distribute(api, "381577.11", "big"), 409)
    assert errors == ["confirm_total: 381,577.11 is more than 10 times the largest distribution "
                      "so far (38,157.71); send confirm_total with the same amount to record it"]


def test_an_amount_over_ten_times_the_largest_needs_confirm_total_repeating_it(api):
    assert distribute(api, "100", "first").status_code == 201
    before = snapshot(api.db)
    errors = problem_of(distribute(api, "5000", "second"), 409)
    assert errors[0].startswith("confirm_total: 5,000.00 is more than 10 times the largest")
    assert snapshot(api.db) == before
    errors = problem_of(distribute(api, "5000", "second", confirm_total="5000.01"), 422)
    assert errors == ["confirm_total: 5,000.01 is not the profit 5,000.00; it must repeat the "
                      "amount exactly"]
    assert snapshot(api.db) == before
    recorded = distribute(api, "5000", "second", confirm_total="5,000.00")
    assert recorded.status_code == 201 and recorded.json()["total"] == "5000.00"
    assert distribute(api, "1000", "third").status_code == 201  # not over ten times 5,000


def test_an_absurd_amount_is_refused_by_the_default_cap_of_a_new_database(api):
    before = snapshot(api.db)
    errors = problem_of(distribute(api, "1e15", "fat-finger"), 409)
    assert errors == ["profit: 1,000,000,000,000,000.00 is above the policy's max_distribution "
                      "1,000,000,000.00; an admin may raise it or set it to off"]
    errors = problem_of(distribute(api, "1e15", "fat-finger", confirm_total="1e15"), 409)
    assert errors[0].startswith("profit: 1,000,000,000,000,000.00 is above the policy's")
    assert snapshot(api.db) == before


# --- money as JSON numbers ---------------------------------------------------------------------

def test_money_sent_as_a_json_number_keeps_every_digit_as_the_same_string_would(api):
    set_policy(api.db, "max_distribution", "off", by="ada")
    as_number = api.post("ann", MANAGE, headers=JSON,
                         content=b'{"profit": 1234567890123456.78, "key": "number"}')
    assert as_number.status_code == 201, as_number.text
    assert as_number.json()["total"] == "1234567890123456.78"
    as_text = distribute(api, "1234567890123456.78", "text")
    assert as_text.json()["total"] == as_number.json()["total"]
    assert [d.total for d in list_distributions(api.db)] == [Decimal("1234567890123456.78")] * 2
    # confirm_total is money too: a number repeats the amount as exactly as a string.
    confirmed = api.post("ann", MANAGE, headers=JSON, content=(
        b'{"profit": "99999999999999999.99", "key": "big", "confirm_total": 99999999999999999.99}'))
    assert confirmed.status_code == 201, confirmed.text


@pytest.mark.parametrize("raw", [b"1000.001", b'"1000.001"'])
def test_an_extra_decimal_is_refused_alike_as_a_number_and_as_a_string(api, raw):
    response = api.post("ann", MANAGE, headers=JSON, content=b'{"profit": ' + raw + b', "key": "k"}')
    assert problem_of(response, 422) == ["profit: 1000.001 has more than 2 decimal places"]


# --- the token before the body, and the body's size ----------------------------------------------

def test_malformed_json_without_a_token_is_401_not_400(api):
    response = api.client.post("/api/v1/proposals", content=b'{"dao": 18,', headers=JSON)
    problem_of(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_body_over_one_megabyte_is_413_and_writes_nothing(api):
    before = snapshot(api.db)
    big = b'{"profit": "1", "key": "' + b"k" * MAX_BODY_BYTES + b'"}'
    assert problem_of(api.post("ann", MANAGE, headers=JSON, content=big), 413) == [
        "body: larger than 1 MB"]
    # Streamed in chunks without a Content-Length: counted as it arrives.
    chunks = (b"x" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 2))
    assert problem_of(api.post("ann", MANAGE, headers=JSON, content=chunks), 413) == [
        "body: larger than 1 MB"]
    assert snapshot(api.db) == before


def test_a_large_body_without_a_token_is_401_before_it_is_read(api):
    big = b"x" * (MAX_BODY_BYTES + 1)
    problem_of(api.client.post(MANAGE, headers=JSON, content=big), 401)


def test_a_body_just_under_the_limit_is_read(api):
    reasoning = "r" * (MAX_BODY_BYTES - 200)
    response = api.post("ann", "/api/v1/proposals", json={
        "reinvestment": 75, "dao": 18, "lucky": 4, "creator": 3, "reasoning": reasoning})
    assert response.status_code in (201, 422)  # read and judged by core, not cut off
    assert response.status_code != 413


def test_requests_without_a_token_are_not_counted_as_bad_guesses(api):
    for _ in range(5):
        problem_of(api.client.get("/api/v1/allocation"), 401)
    assert api.get("vic", "/api/v1/allocation").status_code == 200


# --- what answers echo -------------------------------------------------------------------------

@pytest.mark.parametrize("who, method, url, body, status", [
    ("vic", "get", "/api/v1/proposals/{long}", None, 404),
    ("gus", "post", "/api/v1/proposals/{long}/reviews", {"decision": "approved"}, 404),
    ("vic", "get", "/api/v1/proposals?status={long}", None, 422),
])
def test_an_answer_echoes_at_most_forty_characters_of_a_long_input(api, who, method, url, body,
                                                                    status):
    long = "a1" * 5_000  # looks like hex, as an id does: passed to the lookup, not refused first
    response = getattr(api, method)(who, url.format(long=long), **({"json": body} if body else {}))
    [error] = problem_of(response, status)
    assert "a1" * 19 + "a…" in error and "a1" * 21 not in error
    assert len(response.content) < 1000
