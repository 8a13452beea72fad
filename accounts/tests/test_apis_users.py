import pytest
from django.core import mail
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import KycStatus, Role, User
from accounts.services import auth_issue_tokens
from accounts.tests.factories import DEFAULT_PASSWORD, TechnicianFactory, UserFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db


# --- me ----------------------------------------------------------------------------------------------------------


def test_me_returns_the_private_profile(customer_client, customer):
    body = customer_client.get("/api/v1/auth/me").json()
    assert body["id"] == customer.pk
    assert body["email"] == "wanjiku@example.co.ke"
    assert body["phoneNumber"] == "+254712345678"
    assert body["fullName"] == "Wanjiku Kamau"
    assert body["role"] == "customer"


def test_me_for_a_technician_includes_skills(technician_client):
    profile = technician_client.get("/api/v1/auth/me").json()["technicianProfile"]
    assert profile["kycStatus"] == "approved"
    assert profile["skills"] == [
        {
            "categoryId": profile["skills"][0]["categoryId"],
            "slug": "plumbing",
            "name": "Plumbing",
            "yearsOfExperience": 5,
        }
    ]


def test_me_needs_authentication(anon_client):
    response = anon_client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_patch_me_updates_whitelisted_fields(customer_client, customer):
    response = customer_client.patch(
        "/api/v1/auth/me",
        {
            "firstName": " Wanjiru ",
            "county": "Kiambu",
            "preferredLanguage": "sw",
            "latitude": -1.17,
        },
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["firstName"], body["county"], body["preferredLanguage"]) == (
        "Wanjiru",
        "Kiambu",
        "sw",
    )
    customer.refresh_from_db()
    assert customer.latitude == -1.17


@pytest.mark.parametrize(
    "escalation",
    [
        {"role": "admin"},
        {"isStaff": True},
        {"isSuperuser": True},
        {"kycStatus": "approved"},
        {"isEmailVerified": True},
        {"isPhoneVerified": True},
        {"isActive": False},
        {"password": "x"},
    ],
)
def test_patch_me_refuses_privileged_fields(customer_client, customer, escalation):
    response = customer_client.patch(
        "/api/v1/auth/me", {"firstName": "Hacker", **escalation}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["fields"]) == list(escalation)
    fresh = User.objects.get(pk=customer.pk)
    assert (fresh.role, fresh.is_staff, fresh.is_superuser, fresh.first_name) == (
        Role.CUSTOMER,
        False,
        False,
        "Wanjiku",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "nope"}, "email"),
        ({"phoneNumber": "555"}, "phoneNumber"),
        ({"latitude": 123}, "latitude"),
        ({"avatarUrl": "not a url"}, "avatarUrl"),
        ({"preferredLanguage": "de"}, "preferredLanguage"),
    ],
)
def test_patch_me_validation(customer_client, body, field):
    response = customer_client.patch("/api/v1/auth/me", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_changing_phone_resets_verification(customer_client, customer):
    User.objects.filter(pk=customer.pk).update(is_phone_verified=True)
    response = customer_client.patch(
        "/api/v1/auth/me", {"phoneNumber": "0110 000 111"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["phoneNumber"] == "+254110000111"
    assert response.json()["isPhoneVerified"] is False
    customer.refresh_from_db()
    assert customer.phone_changed_at is not None


def test_same_phone_in_another_format_changes_nothing(customer_client, customer):
    User.objects.filter(pk=customer.pk).update(is_phone_verified=True)
    response = customer_client.patch(
        "/api/v1/auth/me", {"phoneNumber": "0712345678"}, format="json"
    )
    assert response.json()["isPhoneVerified"] is True


def test_changing_email_requires_verifying_it_again(
    customer_client, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.patch(
            "/api/v1/auth/me", {"email": "New@Example.co.ke"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["email"] == "new@example.co.ke"
    assert response.json()["isEmailVerified"] is False
    assert [m.to for m in mail.outbox] == [["new@example.co.ke"]]


def test_taking_someone_elses_email_or_phone_is_409(customer_client, customer, other_customer):
    email = customer_client.patch(
        "/api/v1/auth/me", {"email": "OTIENO@example.co.ke"}, format="json"
    )
    assert email.status_code == 409
    assert email.json()["code"] == "email_taken"
    phone = customer_client.patch("/api/v1/auth/me", {"phoneNumber": "0722000111"}, format="json")
    assert phone.status_code == 409
    assert phone.json()["code"] == "phone_taken"
    customer.refresh_from_db()
    assert (customer.email, customer.phone_number) == ("wanjiku@example.co.ke", "+254712345678")


# --- users -------------------------------------------------------------------------------------------------------


def test_users_list_is_for_staff_only(customer_client, technician_client):
    assert customer_client.get("/api/v1/users").status_code == 403
    assert technician_client.get("/api/v1/users").status_code == 403
    assert APIClient().get("/api/v1/users").status_code == 401


def test_users_list_filters(support_client, customer, technician, other_technician):
    TechnicianFactory(
        email="pending@example.co.ke", skill=False, profile__kyc_status=KycStatus.PENDING
    )
    by_role = support_client.get("/api/v1/users", {"role": "technician"}).json()
    assert by_role["count"] == 3
    pending = support_client.get("/api/v1/users", {"kycStatus": "pending"}).json()
    assert [u["email"] for u in pending["results"]] == ["pending@example.co.ke"]
    search = support_client.get("/api/v1/users", {"search": "wanji"}).json()
    assert [u["id"] for u in search["results"]] == [customer.pk]
    bad = support_client.get("/api/v1/users", {"role": "king"})
    assert bad.status_code == 400
    assert "role" in bad.json()["fields"]


@pytest.mark.parametrize("count", [3, 12])
def test_users_list_runs_a_constant_number_of_queries(
    admin_client_api, django_assert_max_num_queries, count
):
    for _ in range(count):
        TechnicianFactory(skill=False)
    with django_assert_max_num_queries(7):
        response = admin_client_api.get("/api/v1/users", {"pageSize": 50})
    assert response.status_code == 200
    assert response.json()["count"] == count + 1


def test_user_detail_self_and_staff_see_it_others_get_404(
    customer_client, other_customer_client, support_client, technician_client, customer
):
    url = f"/api/v1/users/{customer.pk}"
    assert customer_client.get(url).status_code == 200
    assert support_client.get(url).json()["email"] == "wanjiku@example.co.ke"
    for client in (other_customer_client, technician_client):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert customer_client.get("/api/v1/users/999999").status_code == 404


def test_user_update_by_self_and_admin(customer_client, admin_client_api, customer):
    url = f"/api/v1/users/{customer.pk}"
    assert (
        customer_client.put(url, {"lastName": "Njoki"}, format="json").json()["lastName"] == "Njoki"
    )
    response = admin_client_api.patch(url, {"county": "Nakuru"}, format="json")
    assert response.status_code == 200
    assert response.json()["county"] == "Nakuru"


def test_user_update_boundaries(other_customer_client, support_client, admin_client_api, customer):
    url = f"/api/v1/users/{customer.pk}"
    assert other_customer_client.patch(url, {"county": "X"}, format="json").status_code == 404
    assert support_client.patch(url, {"county": "X"}, format="json").status_code == 403
    # Even admins do not change roles through the API.
    escalation = admin_client_api.patch(url, {"role": "admin"}, format="json")
    assert escalation.status_code == 400
    customer.refresh_from_db()
    assert customer.county == "Nairobi" and customer.role == Role.CUSTOMER


def test_delete_self_anonymises_and_revokes_tokens(anon_client, customer):
    session = anon_client.post(
        "/api/v1/auth/login", {"email": customer.email, "password": DEFAULT_PASSWORD}, format="json"
    ).json()
    second = auth_issue_tokens(customer)
    client = bearer_client(customer)
    response = client.delete(f"/api/v1/users/{customer.pk}")
    assert response.status_code == 204

    gone = User.objects.get(pk=customer.pk)
    assert gone.email == f"deleted-{customer.pk}@deleted.invalid"
    assert gone.phone_number is None
    assert gone.get_full_name() == "Deleted user"
    assert not gone.is_active and gone.deleted_at is not None
    assert not gone.has_usable_password()
    # login + auth_issue_tokens + bearer_client: every one of them is revoked.
    outstanding = OutstandingToken.objects.filter(user=gone).count()
    assert outstanding == 3
    assert BlacklistedToken.objects.filter(token__user=gone).count() == outstanding
    for refresh in (session["refresh"], second["refresh"]):
        assert APIClient().post("/api/v1/auth/refresh", {"refresh": refresh}).status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401
    login = APIClient().post(
        "/api/v1/auth/login", {"email": "wanjiku@example.co.ke", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401
    # The phone and email are free again.
    assert UserFactory(email="wanjiku@example.co.ke", phone_number="+254712345678").pk


def test_delete_technician_clears_kyc_documents(admin_client_api, technician):
    profile = technician.technician_profile
    profile.national_id_number = "12345678"
    profile.save()
    assert admin_client_api.delete(f"/api/v1/users/{technician.pk}").status_code == 204
    profile.refresh_from_db()
    assert (profile.national_id_number, profile.is_available) == ("", False)


def test_delete_boundaries(other_customer_client, support_client, customer):
    assert other_customer_client.delete(f"/api/v1/users/{customer.pk}").status_code == 404
    assert support_client.delete(f"/api/v1/users/{customer.pk}").status_code == 403
    assert User.objects.get(pk=customer.pk).is_active
