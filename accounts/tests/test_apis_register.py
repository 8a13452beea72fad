import pytest
from django.core import mail

from accounts.models import CorporateProfile, KycStatus, Role, TechnicianProfile, User
from accounts.tests.factories import DEFAULT_PASSWORD
from tests.schema import openapi_schema

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/register"


def payload(**overrides):
    body = {
        "firstName": "Njeri",
        "lastName": "Mutua",
        "email": "Njeri.Mutua@Example.co.ke",
        "phoneNumber": "0711 222 333",
        "password": DEFAULT_PASSWORD,
    }
    body.update(overrides)
    return body


def test_register_customer_returns_session_and_sends_verification_email(
    anon_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = anon_client.post(URL, payload(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["access"] and body["refresh"]
    user = body["user"]
    assert user["email"] == "njeri.mutua@example.co.ke"
    assert user["phoneNumber"] == "+254711222333"
    assert user["role"] == "customer"
    assert user["isEmailVerified"] is False
    assert user["isPhoneVerified"] is False
    assert user["twoFactorEnabled"] is False
    assert user["technicianProfile"] is None
    stored = User.objects.get(email="njeri.mutua@example.co.ke")
    assert stored.check_password(DEFAULT_PASSWORD)
    assert not stored.is_staff and not stored.is_superuser

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["njeri.mutua@example.co.ke"]
    assert message.subject == "Confirm your email address for Dumu Waks"
    assert "Hello Njeri" in message.body
    assert "http://localhost:3000/verify-email/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "Confirm my email" in html


def test_register_in_swahili_sends_swahili_email(anon_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = anon_client.post(URL, payload(preferredLanguage="sw"), format="json")
    assert response.status_code == 201
    assert mail.outbox[0].subject.startswith("Thibitisha anwani yako")
    assert "Habari Njeri" in mail.outbox[0].body


def test_register_technician_creates_profile_awaiting_kyc(anon_client):
    response = anon_client.post(URL, payload(role="technician"), format="json")
    assert response.status_code == 201
    profile = TechnicianProfile.objects.get(user__email="njeri.mutua@example.co.ke")
    assert profile.kyc_status == KycStatus.NOT_SUBMITTED
    assert response.json()["user"]["technicianProfile"]["kycStatus"] == "not_submitted"


def test_register_corporate_creates_company_profile(anon_client):
    response = anon_client.post(
        URL,
        payload(role="corporate", companyName="Amani Holdings Ltd", kraPin="p051234567x"),
        format="json",
    )
    assert response.status_code == 201
    profile = CorporateProfile.objects.get(user__email="njeri.mutua@example.co.ke")
    assert (profile.company_name, profile.kra_pin) == ("Amani Holdings Ltd", "P051234567X")
    assert response.json()["user"]["corporateProfile"] == {
        "companyName": "Amani Holdings Ltd",
        "kraPin": "P051234567X",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"phoneNumber": "12345"}, "phoneNumber"),
        ({"firstName": ""}, "firstName"),
        ({"password": "short"}, "password"),
        ({"password": "password123"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"role": "admin"}, "role"),
        ({"role": "support"}, "role"),
        ({"role": "wizard"}, "role"),
        ({"preferredLanguage": "fr"}, "preferredLanguage"),
        ({"role": "corporate"}, "companyName"),
        ({"role": "corporate", "companyName": "X Ltd", "kraPin": "123"}, "kraPin"),
    ],
)
def test_register_validation_errors(anon_client, overrides, field):
    response = anon_client.post(URL, payload(**overrides), format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"]
    assert not User.objects.filter(email="njeri.mutua@example.co.ke").exists()


def test_register_missing_fields_are_listed(anon_client):
    response = anon_client.post(URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "firstName",
        "lastName",
        "email",
        "phoneNumber",
        "password",
    }


@pytest.mark.parametrize(
    "escalation",
    [
        {"isStaff": True},
        {"isSuperuser": True},
        {"isEmailVerified": True},
        {"kycStatus": "approved"},
    ],
)
def test_register_refuses_privileged_fields(anon_client, escalation):
    response = anon_client.post(URL, payload(**escalation), format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == list(escalation)
    assert not User.objects.filter(email="njeri.mutua@example.co.ke").exists()


def test_register_duplicate_email_is_409_case_insensitive(anon_client, customer):
    response = anon_client.post(
        URL, payload(email="WANJIKU@example.co.ke", phoneNumber="0799000000"), format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"
    assert User.objects.filter(email__iexact="wanjiku@example.co.ke").count() == 1


def test_register_duplicate_phone_is_409(anon_client, customer):
    response = anon_client.post(URL, payload(phoneNumber="+254 712 345 678"), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "phone_taken"
    assert not User.objects.filter(email="njeri.mutua@example.co.ke").exists()


def test_registered_role_is_what_was_asked(anon_client):
    anon_client.post(URL, payload(role="technician"), format="json")
    assert User.objects.get(email="njeri.mutua@example.co.ke").role == Role.TECHNICIAN


def test_register_is_throttled_per_ip_apart_from_login(anon_client, throttle_rates):
    throttle_rates(login_ip="2/min")
    for n in range(2):
        body = payload(email=f"n{n}@example.co.ke", phoneNumber=f"07110000{n}0")
        assert anon_client.post(URL, body, format="json").status_code == 201
    response = anon_client.post(URL, payload(), format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    login = anon_client.post(
        "/api/v1/auth/login", {"email": "n0@example.co.ke", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200


def test_the_schema_offers_only_the_roles_register_accepts():
    schema = openapi_schema()
    body = schema["paths"]["/api/v1/auth/register"]["post"]["requestBody"]["content"]
    ref = body["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    role = schema["components"]["schemas"][ref]["properties"]["role"]
    enum_name = role["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][enum_name]["enum"] == [
        "customer",
        "technician",
        "corporate",
    ]
