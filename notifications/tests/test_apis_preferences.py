"""PUT /notifications/preferences refuses keys it does not know, and says which (issue 19): a typo used to
answer 200 and change nothing, so the user believed a channel was off that was still on."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from notifications.models import NotificationPreference

pytestmark = pytest.mark.django_db

URL = "/api/v1/notifications/preferences"


def _refused(response, fields: list[str]) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "Some fields are invalid."
    assert sorted(body["fields"]) == sorted(fields)
    return body


def test_an_unknown_channel_is_a_400_naming_it_and_changes_nothing(customer_client, customer):
    before = customer_client.get(URL).json()
    body = _refused(
        customer_client.put(
            URL, {"bookings": {"carrierPigeon": True, "sms": False}}, format="json"
        ),
        ["bookings.carrierPigeon"],
    )
    assert "inApp, push, email, sms" in body["fields"]["bookings.carrierPigeon"][0]
    assert not NotificationPreference.objects.filter(user=customer).exists()
    assert customer_client.get(URL).json() == before


def test_an_unknown_group_is_a_400_naming_it(customer_client, customer):
    body = _refused(
        customer_client.put(URL, {"pigeons": {"sms": False}, "payments": {"sms": False}}),
        ["pigeons"],
    )
    assert (
        "bookings, payments, messages, support, marketing, account" in body["fields"]["pigeons"][0]
    )
    assert not NotificationPreference.objects.filter(user=customer).exists()


def test_every_unknown_key_is_named_at_once(customer_client):
    _refused(
        customer_client.put(
            URL, {"pigeons": {}, "bookings": {"fax": True}, "support": {"telex": False}}
        ),
        ["pigeons", "bookings.fax", "support.telex"],
    )


def test_known_keys_in_snake_or_camel_case_still_work(customer_client, customer):
    response = customer_client.put(URL, {"messages": {"inApp": False}})
    assert response.status_code == 200
    assert response.json()["messages"]["inApp"] is False
    assert NotificationPreference.objects.get(user=customer).channel == "in_app"


def test_the_schema_says_unknown_keys_are_refused():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    put = schema["paths"][URL]["put"]
    assert put["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "unknown" in put["description"].lower()
    components = schema["components"]["schemas"]
    request_ref = put["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    groups = components[request_ref.rsplit("/", 1)[1]]
    assert groups["additionalProperties"] is False
    channels_ref = groups["properties"]["bookings"]["$ref"]
    channels = components[channels_ref.rsplit("/", 1)[1]]
    assert channels["additionalProperties"] is False
    assert set(channels["properties"]) == {"inApp", "push", "email", "sms"}
