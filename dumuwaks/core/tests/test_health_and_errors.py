import re

import pytest
from django.core.management import call_command
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_redis(anon_client):
    response = anon_client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["database"]["isHealthy"] is True
    assert body["redis"] == {"status": "connected", "isHealthy": True}
    assert body["environment"] == "test"
    assert "+03:00" in body["timestamp"]
    assert anon_client.get("/api/v1/health").status_code == 200


def test_health_is_503_when_redis_is_unreachable(anon_client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "dumuwaks.core.cache.BinarySafeKeysRedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    response = anon_client.get("/health")
    assert response.status_code == 503
    assert response.json()["redis"]["isHealthy"] is False


def test_health_is_503_when_postgres_is_unreachable(anon_client, monkeypatch):
    def broken_execute(self, sql, params=None):
        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", broken_execute)
    response = anon_client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"]["isHealthy"] is False


def test_unknown_url_answers_with_the_error_body(anon_client):
    response = anon_client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_openapi_schema_validates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")


def test_api_docs_pages_are_served(anon_client):
    assert anon_client.get("/api-docs").status_code == 200
    assert anon_client.get("/api/redoc/").status_code == 200
    assert anon_client.get("/api/schema/").status_code == 200


@pytest.mark.parametrize("page", ["/api-docs", "/api/redoc/"])
def test_api_docs_pages_load_nothing_from_other_hosts(anon_client, page):
    """Found from outside (QA, `make run`): ReDoc's page asked fonts.googleapis.com for a render-blocking
    stylesheet, so behind a firewall that drops the request the docs stayed blank, and every visit told
    Google about it."""
    html = anon_client.get(page).content.decode()
    assert re.findall(r'(?:href|src)="(https?://[^"]+)"', html) == []


def test_responses_carry_a_request_id(anon_client):
    response = anon_client.get("/health", HTTP_X_REQUEST_ID="req-42")
    assert response["X-Request-ID"] == "req-42"
    generated = anon_client.get("/health")["X-Request-ID"]
    assert len(generated) == 32


def test_unexpected_exception_is_a_generic_500_with_a_logged_traceback(caplog):
    class Exploding(APIView):
        authentication_classes = []
        permission_classes = []

        def get(self, request):
            raise RuntimeError("secret internals")

    request = APIRequestFactory().get("/boom")
    with caplog.at_level("ERROR"):
        response = Exploding.as_view()(request)
    assert response.status_code == 500
    assert response.data == {
        "code": "server_error",
        "message": "Something went wrong on our side. It has been logged.",
    }
    assert "secret internals" in caplog.text


def test_database_outage_inside_a_view_is_a_503():
    class NeedsDatabase(APIView):
        authentication_classes = []
        permission_classes = []

        def get(self, request):
            raise OperationalError("server closed the connection unexpectedly")

    response = NeedsDatabase.as_view()(APIRequestFactory().get("/x"))
    assert response.status_code == 503
    assert response.data["code"] == "service_unavailable"


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/no-such-version/x", "/api/v1/"])
def test_unknown_api_paths_answer_json_even_with_debug_on(anon_client, settings, path):
    """With DEBUG on (make run), Django answered its HTML debug page instead of handler404."""
    settings.DEBUG = True
    response = anon_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "message": "Not found."}
    posted = anon_client.post(path, {"a": 1}, format="json")
    assert (posted.status_code, posted.json()["code"]) == (404, "not_found")


def test_health_says_whether_production_settings_run_with_the_staging_opt_in(anon_client, settings):
    body = anon_client.get("/health").json()
    assert (body["insecureStaging"], body["insecureSettings"]) == (False, [])

    settings.INSECURE_STAGING = True
    settings.INSECURE_SETTINGS = ["MPESA_BACKEND", "SMS_BACKEND"]
    body = anon_client.get("/health").json()
    assert body["insecureStaging"] is True
    assert body["insecureSettings"] == ["MPESA_BACKEND", "SMS_BACKEND"]
