"""Schemathesis against our own OpenAPI document: no 5xx, and every response matches what the schema documents.

One test per operation. Inside it, for each role (anonymous, customer, technician, support, admin) Hypothesis
generates a bounded number of schema-valid requests (plus schema-invalid ones for the customer), half of them
aimed at the `world`'s real objects (tests/conftest.py) so the happy paths run too, not only 404s.
Requests go through Django's real WSGI handler (middleware, exception handler, renderers).
"""

from __future__ import annotations

import contextlib
import copy
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance
from werkzeug.test import Client

from tests.authz_cases import PATH_PARAMS
from tests.schema import openapi_schema, schema_operations

pytestmark = pytest.mark.django_db

# `make test` runs a fixed, deterministic sample; explore with e.g. DW_FUZZ_EXAMPLES=50 DW_FUZZ_RANDOM=1.
EXAMPLES = int(os.environ.get("DW_FUZZ_EXAMPLES", "5"))
DERANDOMIZE = not os.environ.get("DW_FUZZ_RANDOM")
ROLES = ("anonymous", "customer", "technician", "support", "admin")

# Not generically fuzzable: they need provider-signed bodies or real files (tests/test_abuse.py covers them).
EXCLUDED = {
    ("POST", "/api/v1/payments/mpesa/callback"),
    ("POST", "/api/v1/payments/mpesa/timeout"),
    ("POST", "/api/v1/payments/mpesa/b2c-callback"),
    ("POST", "/api/v1/payments/mpesa/b2c-timeout"),
    ("POST", "/api/v1/payments/mpesa/status-callback"),
    ("POST", "/api/v1/payments/mpesa/status-timeout"),
    ("POST", "/api/v1/payments/stripe/webhook"),
    ("POST", "/api/v1/sms/inbound"),
    ("POST", "/api/v1/ussd"),
    ("POST", "/api/v1/media/upload/image"),
    ("POST", "/api/v1/media/upload/images"),
    ("POST", "/api/v1/media/upload/media"),
    ("POST", "/api/v1/media/upload/profile-picture"),
    ("POST", "/api/v1/media/upload/video"),
}

# Known bugs in other apps found by this fuzzing: (METHOD, path) → "<app>: <bug>". xfail(strict=True), so the
# case fails again as soon as the owner fixes it (then delete the entry).
KNOWN_FAILURES: dict[tuple[str, str], str] = {}

# Every status answered is documented (every paginated list documents the 404 for a page past the end:
# dumuwaks.core.openapi.DomainAutoSchema) and every body matches its schema.
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
# Anonymous calls to authenticated endpoints answer 401, which most operations do not list.
ANONYMOUS_CHECKS = [not_a_server_error, response_schema_conformance]

_SCHEMA = None


def _schema():
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = schemathesis.openapi.from_dict(_json_only(openapi_schema()))
        # We send real tokens per role; generated garbage in Authorization only tests simplejwt.
        _SCHEMA.config.generation.update(with_security_parameters=False)
    return _SCHEMA


def _json_only(schema: dict) -> dict:
    """Our clients speak JSON; the form/multipart variants exist only because DRF lists its default parsers."""
    schema = copy.deepcopy(schema)
    for item in schema["paths"].values():
        for operation in item.values():
            content = (
                operation.get("requestBody", {}).get("content")
                if isinstance(operation, dict)
                else None
            )
            if content and "application/json" in content:
                for media_type in list(content):
                    if media_type != "application/json":
                        del content[media_type]
    return schema


def _operation_params():
    for method, path in sorted(schema_operations()):
        if (method, path) in EXCLUDED:
            continue
        marks = []
        if (method, path) in KNOWN_FAILURES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[(method, path)]))
        yield pytest.param(method, path, id=f"{method} {path}", marks=marks)


def _headers(user) -> dict:
    if user is None:
        return {}
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


def test_fuzzing_covers_every_operation():
    fuzzed = {(p.values[0], p.values[1]) for p in _operation_params()}
    assert fuzzed | EXCLUDED == schema_operations()


@pytest.mark.parametrize(("method", "path"), list(_operation_params()))
def test_operation_survives_generated_requests(request, world, raw_wsgi_app, method, path):
    if "/stripe/" in path:
        request.getfixturevalue("fake_stripe")
    operation = _schema()[path][method]
    world_params = PATH_PARAMS.get(path, {})

    def run(role: str, mode: GenerationMode, examples: int):
        headers = _headers(world.users[role])
        checks = ANONYMOUS_CHECKS if role == "anonymous" else CHECKS

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=DERANDOMIZE,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[p for p in settings.default.phases if p.name != "shrink"],
        )
        @given(case=operation.as_strategy(generation_mode=mode), aim_at_world=st.booleans())
        def fuzz(case, aim_at_world):
            if aim_at_world and world_params:
                for name, getter in world_params.items():
                    case.path_parameters[name] = getter(world)
            case.call_and_validate(app=raw_wsgi_app, headers=headers, checks=checks)

        fuzz()

    for role in ROLES:
        run(role, GenerationMode.POSITIVE, EXAMPLES)
    if (
        operation.body
        or operation.query
        or (world_params and not _only_free_form_path_parameters(operation))
    ):
        # Unsatisfiable: nothing schema-invalid exists after all.
        with contextlib.suppress(Unsatisfiable):
            run("customer", GenerationMode.NEGATIVE, EXAMPLES)


def _only_free_form_path_parameters(operation) -> bool:
    """Every path parameter is any string: no request breaks the schema, and Hypothesis would spend ~1,000
    attempts (20 s) finding that out before giving up with Unsatisfiable."""
    return all(p.definition.get("schema") == {"type": "string"} for p in operation.path_parameters)


# --- deterministic pins for bugs the fuzzer once found (fixed; these keep them fixed whatever it generates) ----


def _validate(raw_wsgi_app, method: str, path: str, url: str, headers: dict | None = None):
    response = Client(raw_wsgi_app).open(url, method=method, headers=headers or {})
    _schema()[path][method].validate_response(response)
    return response


def test_transaction_detail_type_filter_400_is_documented(world, raw_wsgi_app):
    path = "/api/v1/payments/transactions/{id}"
    response = _validate(
        raw_wsgi_app,
        "GET",
        path,
        f"/api/v1/payments/transactions/{world.payment.pk}?type=date",
        _headers(world.customer),
    )
    operation = _schema()[path]["GET"]
    assert str(response.status_code) in operation.definition.raw["responses"]


def test_technician_search_rows_match_the_schema(world, raw_wsgi_app):
    world.technician  # noqa: B018  (one searchable technician exists)
    _validate(
        raw_wsgi_app, "GET", "/api/v1/users/technicians/search", "/api/v1/users/technicians/search"
    )
