from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import KycReview, KycStatus, TechnicianProfile, TechnicianSkill
from accounts.tests.factories import ServiceCategoryFactory, TechnicianFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/users/technicians/search"
CBD = {"lat": -1.2921, "lng": 36.8219}


def _tech(name, lat, lng, *, category, rating="4.00", **extra):
    return TechnicianFactory(
        first_name=name,
        latitude=lat,
        longitude=lng,
        skill=category,
        skill__years=3,
        profile__rating_average=Decimal(rating),
        **{f"profile__{field}": value for field, value in extra.items()},
    ).technician_profile


@pytest.fixture
def electrical(db):
    return ServiceCategoryFactory(slug="electrical", name="Electrical")


@pytest.fixture
def town(service_category, electrical):
    """Plumbers spread around Nairobi plus one far away in Mombasa and an electrician."""
    return {
        "westlands": _tech("Westlands", -1.2676, 36.8108, category=service_category, rating="3.50"),
        "cbd": _tech("Cbd", -1.2925, 36.8220, category=service_category, rating="4.80"),
        "thika": _tech("Thika", -1.0333, 37.0693, category=service_category, rating="5.00"),
        "mombasa": _tech("Mombasa", -4.0435, 39.6682, category=service_category),
        "sparky": _tech("Sparky", -1.2800, 36.8200, category=electrical),
        "busy": _tech("Busy", -1.2900, 36.8200, category=service_category, is_available=False),
        "unverified": _tech(
            "Pending", -1.2921, 36.8219, category=service_category, kyc_status=KycStatus.PENDING
        ),
    }


def _names(response):
    return [r["firstName"] for r in response.json()["results"]]


def test_search_orders_by_distance_within_radius(anon_client, town):
    response = anon_client.get(SEARCH, {**CBD, "radiusKm": 10, "skill": "plumbing"})
    assert response.status_code == 200
    assert _names(response) == ["Cbd", "Busy", "Westlands"]
    distances = [r["distanceKm"] for r in response.json()["results"]]
    assert distances == sorted(distances)
    assert 2.5 < distances[-1] < 3.5  # CBD to Westlands is about 3 km

    wider = anon_client.get(SEARCH, {**CBD, "radiusKm": 50, "skill": "plumbing"})
    assert _names(wider) == ["Cbd", "Busy", "Westlands", "Thika"]


def test_search_never_exposes_contact_details_or_documents(anon_client, town):
    result = anon_client.get(SEARCH, CBD).json()["results"][0]
    for secret in (
        "email",
        "phoneNumber",
        "latitude",
        "longitude",
        "nationalIdNumber",
        "idDocumentUrl",
    ):
        assert secret not in result
    assert set(result["skills"][0]) == {"categoryId", "slug", "name", "yearsOfExperience"}


def test_search_filters(anon_client, town):
    assert _names(anon_client.get(SEARCH, {**CBD, "skill": "electrical"})) == ["Sparky"]
    available = _names(anon_client.get(SEARCH, {**CBD, "available": "true", "skill": "plumbing"}))
    assert "Busy" not in available and "Cbd" in available
    assert _names(anon_client.get(SEARCH, {"minRating": 4.5})) == ["Thika", "Cbd"]
    # Without a location: best rated first, pending KYC never listed.
    everyone = _names(anon_client.get(SEARCH))
    assert everyone[0] == "Thika" and "Pending" not in everyone


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": -1.29}, "lat"),
        ({"lat": 100, "lng": 36}, "lat"),
        ({"lat": -1.2, "lng": 36.8, "radiusKm": 0}, "radiusKm"),
        ({"minRating": 6}, "minRating"),
        ({"available": "maybe"}, "available"),
    ],
)
def test_search_validation(anon_client, params, field):
    response = anon_client.get(SEARCH, params)
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.parametrize("count", [2, 15])
def test_search_runs_a_constant_number_of_queries(
    anon_client, service_category, django_assert_max_num_queries, count
):
    for index in range(count):
        _tech(f"T{index}", -1.29 + index * 0.001, 36.82, category=service_category)
    with django_assert_max_num_queries(3):
        response = anon_client.get(SEARCH, {**CBD, "pageSize": 50})
    assert response.json()["count"] == count


def test_categories_are_public(anon_client, service_category, electrical):
    ServiceCategoryFactory(slug="retired", name="Retired", is_active=False)
    response = anon_client.get("/api/v1/categories")
    assert response.status_code == 200
    body = response.json()
    assert [c["slug"] for c in body["results"]] == ["electrical", "plumbing"]
    assert body["results"][1]["typicalPriceMin"] == "1000.00"


# --- technician self-service --------------------------------------------------------------------------------------


def test_technician_updates_profile_and_replaces_skills(technician_client, technician, electrical):
    response = technician_client.put(
        "/api/v1/users/me/technician-profile",
        {
            "bio": "Fundi wa mabomba, 10 years",
            "hourlyRate": "2000.50",
            "serviceRadiusKm": 15,
            "isAvailable": False,
            "skills": [{"slug": "electrical", "yearsOfExperience": 2}],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["hourlyRate"], body["serviceRadiusKm"], body["isAvailable"]) == (
        "2000.50",
        15,
        False,
    )
    assert [s["slug"] for s in body["skills"]] == ["electrical"]
    assert TechnicianSkill.objects.filter(profile__user=technician).count() == 1

    by_id = technician_client.put(
        "/api/v1/users/me/technician-profile",
        {"skills": [{"categoryId": electrical.pk, "yearsOfExperience": 3}]},
        format="json",
    )
    assert by_id.json()["skills"][0]["yearsOfExperience"] == 3
    assert by_id.json()["bio"] == "Fundi wa mabomba, 10 years"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hourlyRate": "-1"}, "hourlyRate"),
        ({"serviceRadiusKm": 0}, "serviceRadiusKm"),
        ({"skills": [{"slug": "astrology"}]}, "skills"),
        ({"skills": [{"yearsOfExperience": 2}]}, "skills"),
        ({"skills": [{"slug": "plumbing"}, {"slug": "plumbing"}]}, "skills"),
        ({"kycStatus": "approved"}, "kycStatus"),
        ({"ratingAverage": "5.00"}, "ratingAverage"),
    ],
)
def test_technician_profile_validation(technician_client, technician, body, field):
    response = technician_client.put("/api/v1/users/me/technician-profile", body, format="json")
    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["fields"]), response.json()
    profile = TechnicianProfile.objects.get(user=technician)
    assert (profile.kyc_status, profile.rating_average) == (KycStatus.APPROVED, Decimal("0"))


def test_only_technicians_have_a_technician_profile(customer_client, anon_client):
    assert customer_client.put("/api/v1/users/me/technician-profile", {}).status_code == 403
    assert customer_client.post("/api/v1/users/me/kyc", {}).status_code == 403
    assert anon_client.put("/api/v1/users/me/technician-profile", {}).status_code == 401


# --- KYC -----------------------------------------------------------------------------------------------------------

KYC = {
    "nationalIdNumber": "29876543",
    "idDocumentUrl": "https://res.cloudinary.com/demo/image/upload/v1/kyc/id.jpg",
    "selfieUrl": "https://res.cloudinary.com/demo/image/upload/v1/kyc/selfie.jpg",
}


@pytest.fixture
def newcomer(db):
    return TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.NOT_SUBMITTED
    ).technician_profile


def test_kyc_submit_then_approve(
    newcomer, support_client, support_agent, django_capture_on_commit_callbacks
):
    client = bearer_client(newcomer.user)
    response = client.post("/api/v1/users/me/kyc", KYC, format="json")
    assert response.status_code == 200
    assert response.json()["kycStatus"] == "pending"
    assert response.json()["nationalIdNumber"] == "29876543"

    again = client.post("/api/v1/users/me/kyc", KYC, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"

    with django_capture_on_commit_callbacks(execute=True):
        review = support_client.post(
            f"/api/v1/users/{newcomer.user_id}/kyc/review", {"decision": "approve"}, format="json"
        )
    assert review.status_code == 200
    newcomer.refresh_from_db()
    assert newcomer.kyc_status == KycStatus.APPROVED
    assert newcomer.kyc_reviewed_by == support_agent
    history = list(
        KycReview.objects.filter(profile=newcomer).values_list("from_status", "to_status", "actor")
    )
    assert history == [
        ("not_submitted", "pending", newcomer.user_id),
        ("pending", "approved", support_agent.pk),
    ]
    assert mail.outbox[0].to == [newcomer.user.email]
    assert mail.outbox[0].subject == "Your Dumu Waks technician verification is approved"


def test_kyc_reject_needs_a_reason_and_allows_resubmission(
    newcomer, admin_client_api, django_capture_on_commit_callbacks
):
    client = bearer_client(newcomer.user)
    client.post("/api/v1/users/me/kyc", KYC, format="json")
    url = f"/api/v1/users/{newcomer.user_id}/kyc/review"
    no_reason = admin_client_api.post(url, {"decision": "reject"}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["fields"]

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_api.post(
            url, {"decision": "reject", "reason": "The ID photo is blurred."}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["kycRejectionReason"] == "The ID photo is blurred."
    assert "Reason: The ID photo is blurred." in mail.outbox[0].body

    resubmitted = client.post("/api/v1/users/me/kyc", KYC, format="json")
    assert resubmitted.json()["kycStatus"] == "pending"
    assert resubmitted.json()["kycRejectionReason"] == ""
    assert KycReview.objects.filter(profile=newcomer).count() == 3


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"decision": "reject"}, "reason", "Give the technician a reason."),
        ({"decision": "reject", "reasonCode": "other", "reason": "  "}, "reason", None),
        ({"decision": "reject", "reasonCode": "weather"}, "reasonCode", None),
    ],
)
def test_kyc_reject_without_a_usable_reason_is_refused(
    newcomer, support_client, payload, field, message
):
    TechnicianProfile.objects.filter(pk=newcomer.pk).update(kyc_status=KycStatus.PENDING)
    response = support_client.post(
        f"/api/v1/users/{newcomer.user_id}/kyc/review", payload, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["fields"])) == ("validation_error", [field])
    if message:
        assert body["fields"][field] == [message]
    newcomer.refresh_from_db()
    assert newcomer.kyc_status == KycStatus.PENDING
    assert not KycReview.objects.exists()


def test_kyc_reject_with_a_typed_reason_reads_in_the_technicians_language(
    newcomer, support_client, django_capture_on_commit_callbacks
):
    TechnicianProfile.objects.filter(pk=newcomer.pk).update(kyc_status=KycStatus.PENDING)
    newcomer.user.preferred_language = "sw"
    newcomer.user.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        response = support_client.post(
            f"/api/v1/users/{newcomer.user_id}/kyc/review",
            {"decision": "reject", "reasonCode": "document_expired"},
            format="json",
        )
    assert response.status_code == 200
    body = response.json()
    assert (body["kycStatus"], body["kycRejectionReasonCode"], body["kycRejectionReason"]) == (
        "rejected",
        "document_expired",
        "Kitambulisho kimepitwa na muda wake.",
    )
    review = KycReview.objects.get(profile=newcomer)
    assert (review.reason_code, review.note) == ("document_expired", "")
    (message,) = mail.outbox
    assert "Sababu: Kitambulisho kimepitwa na muda wake." in message.body
    # The technician reads the same words on their own profile.
    me = bearer_client(newcomer.user).get("/api/v1/auth/me").json()
    assert me["technicianProfile"]["kycRejectionReason"] == "Kitambulisho kimepitwa na muda wake."


def test_kyc_review_of_unsubmitted_profile_is_invalid_transition(newcomer, admin_client_api):
    response = admin_client_api.post(
        f"/api/v1/users/{newcomer.user_id}/kyc/review", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert not KycReview.objects.exists()


def test_kyc_review_boundaries(
    newcomer, technician_client, customer_client, admin_client_api, customer
):
    url = f"/api/v1/users/{newcomer.user_id}/kyc/review"
    assert technician_client.post(url, {"decision": "approve"}).status_code == 403
    assert customer_client.post(url, {"decision": "approve"}).status_code == 403
    not_a_technician = admin_client_api.post(
        f"/api/v1/users/{customer.pk}/kyc/review", {"decision": "approve"}
    )
    assert not_a_technician.status_code == 404
    bad = admin_client_api.post(url, {"decision": "maybe"}, format="json")
    assert bad.status_code == 400 and "decision" in bad.json()["fields"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"nationalIdNumber": "12ab"}, "nationalIdNumber"),
        ({"idDocumentUrl": "not-a-url"}, "idDocumentUrl"),
        ({"selfieUrl": ""}, "selfieUrl"),
    ],
)
def test_kyc_submit_validation(newcomer, override, field):
    response = bearer_client(newcomer.user).post(
        "/api/v1/users/me/kyc", {**KYC, **override}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["fields"]
    newcomer.refresh_from_db()
    assert newcomer.kyc_status == KycStatus.NOT_SUBMITTED
