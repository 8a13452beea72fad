"""The technician KYC admin without a browser: document previews on the change page and rejection with a
typed reason that reaches the technician's email in their language."""

import pytest
from django.core import mail
from django.test import Client

from accounts.models import (
    KYC_REJECTION_REASON_LABELS,
    KycRejectionReason,
    KycReview,
    KycStatus,
    Language,
    TechnicianProfile,
)
from accounts.tests.factories import TechnicianFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/accounts/technicianprofile/"
ID_IMAGE = "https://res.cloudinary.com/demo/image/upload/v1/kyc/id.jpg"
SELFIE_PDF = "https://res.cloudinary.com/demo/image/upload/v1/kyc/selfie.pdf"


@pytest.fixture
def admin_site(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.fixture
def pending():
    return TechnicianFactory(
        skill=False,
        profile__kyc_status=KycStatus.PENDING,
        profile__national_id_number="29876543",
        profile__id_document_url=ID_IMAGE,
        profile__selfie_url=SELFIE_PDF,
        first_name="Otieno",
    ).technician_profile


def _reject(admin_site, profiles, **fields):
    return admin_site.post(
        CHANGELIST,
        {"action": "reject_kyc", "_selected_action": [p.pk for p in profiles], **fields},
    )


# --- previews ------------------------------------------------------------------------------------------------------


def test_change_page_shows_an_image_thumbnail_and_links_a_pdf(admin_site, pending):
    page = admin_site.get(f"{CHANGELIST}{pending.pk}/change/").content.decode()
    assert (
        f'<a href="{ID_IMAGE}" target="_blank" rel="noopener noreferrer">'
        f'<img src="{ID_IMAGE}" alt="ID document"'
    ) in page
    assert (
        f'<a href="{SELFIE_PDF}" target="_blank" rel="noopener noreferrer">Open selfie (PDF)</a>'
    ) in page
    assert f'<img src="{SELFIE_PDF}"' not in page


def test_previews_never_render_a_script_url_or_markup(admin_site, pending):
    TechnicianProfile.objects.filter(pk=pending.pk).update(
        id_document_url="javascript:alert(1)//.jpg",
        selfie_url='https://example.com/x.jpg"><script>alert(1)</script>',
    )
    page = admin_site.get(f"{CHANGELIST}{pending.pk}/change/").content.decode()
    assert 'href="javascript:' not in page and 'src="javascript:' not in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_profile_without_documents_shows_a_dash(admin_site):
    profile = TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.NOT_SUBMITTED
    ).technician_profile
    page = admin_site.get(f"{CHANGELIST}{profile.pk}/change/")
    assert page.status_code == 200
    for field in ("id_document_preview", "selfie_preview"):
        block = page.content.decode().split(f"field-{field}")[1].split("</div>\n</div>")[0]
        assert '<div class="readonly">—</div>' in block, block


# --- rejection with a typed reason ---------------------------------------------------------------------------------


def test_reject_asks_for_a_typed_reason_first(admin_site, pending):
    response = _reject(admin_site, [pending])
    assert response.status_code == 200
    page = response.content.decode()
    for code, label in KycRejectionReason.choices:
        assert f'value="{code}"' in page and str(label) in page
    assert 'name="details"' in page and pending.user.email in page
    pending.refresh_from_db()
    assert pending.kyc_status == KycStatus.PENDING
    assert not KycReview.objects.exists()


def test_typed_reason_is_stored_and_emailed_in_the_technicians_language(
    admin_site, admin_user, pending, django_capture_on_commit_callbacks
):
    english = TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.PENDING, first_name="Wambui"
    ).technician_profile
    pending.user.preferred_language = "sw"
    pending.user.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        response = _reject(
            admin_site,
            [pending, english],
            apply="Reject",
            reason_code=KycRejectionReason.SELFIE_MISMATCH,
            details="Retake it in daylight.",
        )
    assert response.status_code == 302
    for profile in (pending, english):
        profile.refresh_from_db()
        assert (
            profile.kyc_status,
            profile.kyc_rejection_reason_code,
            profile.kyc_rejection_reason,
            profile.kyc_reviewed_by,
        ) == (KycStatus.REJECTED, "selfie_mismatch", "Retake it in daylight.", admin_user)
    assert sorted(KycReview.objects.values_list("profile_id", "reason_code", "note")) == sorted(
        (p.pk, "selfie_mismatch", "Retake it in daylight.") for p in (pending, english)
    )
    by_recipient = {message.to[0]: message for message in mail.outbox}
    swahili = by_recipient[pending.user.email]
    assert (
        "Sababu: Picha yako (selfie) hailingani na picha ya kitambulisho. Retake it in daylight."
        in swahili.body
    )
    assert "Picha yako (selfie) hailingani na picha ya kitambulisho." in swahili.alternatives[0][0]
    assert (
        "Reason: The selfie does not match the ID photo. Retake it in daylight."
        in by_recipient[english.user.email].body
    )
    # The profile page shows what was decided.
    page = admin_site.get(f"{CHANGELIST}{pending.pk}/change/").content.decode()
    assert "The selfie does not match the ID photo" in page


def test_other_needs_details_which_are_the_whole_reason(
    admin_site, pending, django_capture_on_commit_callbacks
):
    response = _reject(admin_site, [pending], apply="Reject", reason_code="other", details="   ")
    assert response.status_code == 200
    assert (
        "Explain the reason to the technician when you choose Other." in response.content.decode()
    )
    pending.refresh_from_db()
    assert pending.kyc_status == KycStatus.PENDING
    assert not KycReview.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        _reject(
            admin_site,
            [pending],
            apply="Reject",
            reason_code="other",
            details="The ID belongs to someone else.",
        )
    pending.refresh_from_db()
    assert (pending.kyc_rejection_reason_code, pending.kyc_rejection_reason) == (
        "other",
        "The ID belongs to someone else.",
    )
    (message,) = mail.outbox
    assert "Reason: The ID belongs to someone else." in message.body
    assert "Other" not in message.body


def test_unknown_reason_is_refused_by_the_form(admin_site, pending):
    response = _reject(admin_site, [pending], apply="Reject", reason_code="weather")
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    pending.refresh_from_db()
    assert pending.kyc_status == KycStatus.PENDING


def test_profiles_that_cannot_be_rejected_are_reported(admin_site, pending):
    unsubmitted = TechnicianFactory(
        skill=False, profile__kyc_status=KycStatus.NOT_SUBMITTED
    ).technician_profile
    response = _reject(
        admin_site,
        [pending, unsubmitted],
        apply="Reject",
        reason_code=KycRejectionReason.DOCUMENT_EXPIRED,
    )
    assert response.status_code == 302
    page = admin_site.get(CHANGELIST).content.decode()
    assert "1 profile(s) now rejected." in page
    # (the admin capitalises the first letter of a message)
    assert (
        f"{unsubmitted.user.email}: kyc cannot go from not_submitted to rejected." in page.lower()
    )
    unsubmitted.refresh_from_db()
    assert unsubmitted.kyc_status == KycStatus.NOT_SUBMITTED


@pytest.mark.parametrize("language", Language.values)
def test_every_typed_reason_reads_in_every_language(language):
    labels = KYC_REJECTION_REASON_LABELS[language]
    typed = set(KycRejectionReason.values) - {KycRejectionReason.OTHER}
    assert set(labels) == typed
    for code in typed:
        assert labels[code].strip()
        if language != "en":
            assert labels[code] != KYC_REJECTION_REASON_LABELS["en"][code], (language, code)
