"""The hottest reads as deployed: each web process (both ASGI instances and the WSGI one, production
settings) compiles the statements of GET /bookings, /bookings/:id and /auth/me on their second request
(dumuwaks.core.compiled_queries). What a process answers once it has compiled them is what it answered
before, for every viewer, and a write by another process shows at once."""

import json

import httpx
import pytest

from tests.system.helpers import (
    CUSTOMER,
    HTTP_TIMEOUT,
    TECHNICIAN,
    bearer,
    create_booking,
)

REPEATS = (
    4  # the first answer through the ORM, then compiled (second ask), then the compiled statement
)


def _bases(system) -> tuple[str, ...]:
    return (system.web_a, system.web_b, system.wsgi)


def _answers(system, tokens: dict, path: str) -> set:
    """What each process answers to `path`, REPEATS times each: the page's count and booking ids (a list),
    the booking's id, number and parties (one booking), or the whole body (/auth/me). Not the whole body of
    a booking: beat, running every schedule each second here, moves their money along meanwhile."""
    answers = set()
    for base in _bases(system):
        for _ in range(REPEATS):
            response = httpx.get(f"{base}{path}", headers=bearer(tokens), timeout=HTTP_TIMEOUT)
            assert response.status_code in (200, 404), (
                base,
                path,
                response.text,
            )  # 404: no such page
            answers.add((response.status_code, _stable_part(response.json())))
    return answers


def _stable_part(body: dict):
    if "code" in body:
        return body["code"]
    if "results" in body:
        return body["count"], tuple(booking["id"] for booking in body["results"])
    if "number" in body:
        return (
            body["id"],
            body["number"],
            body["customer"]["id"],
            (body["technician"] or {}).get("id"),
        )
    return json.dumps(body, sort_keys=True)


@pytest.fixture(scope="module")
def customer(system) -> dict:
    return system.login(CUSTOMER)


@pytest.fixture(scope="module")
def technician(system) -> dict:
    return system.login(TECHNICIAN)


def test_the_hottest_reads_answer_the_same_once_compiled(system, customer, technician):
    for tokens in (customer, technician):
        for path in (
            "/api/v1/bookings",
            "/api/v1/bookings?status=completed,confirmed,cancelled&ordering=createdAt&pageSize=2",
            "/api/v1/bookings?ordering=-price&pageSize=3&page=2",
            "/api/v1/auth/me",
        ):
            assert len(_answers(system, tokens, path)) == 1, path
    listed = httpx.get(
        f"{system.web_a}/api/v1/bookings", headers=bearer(customer), timeout=HTTP_TIMEOUT
    ).json()["results"]
    assert listed, "the demo customer has bookings"
    assert len(_answers(system, customer, f"/api/v1/bookings/{listed[0]['id']}")) == 1


def test_a_booking_made_through_one_process_shows_in_every_compiled_list(system, customer):
    newest_first = "/api/v1/bookings?ordering=-createdAt&pageSize=3"
    _answers(system, customer, newest_first)  # every process has compiled this list now
    booking = create_booking(system, customer, days_ahead=18)
    for base in _bases(system):
        for _ in range(2):
            page = httpx.get(
                f"{base}{newest_first}", headers=bearer(customer), timeout=HTTP_TIMEOUT
            ).json()
            assert page["results"][0]["id"] == booking["id"], base
            detail = httpx.get(
                f"{base}/api/v1/bookings/{booking['id']}",
                headers=bearer(customer),
                timeout=HTTP_TIMEOUT,
            )
            assert detail.status_code == 200 and detail.json()["id"] == booking["id"]
