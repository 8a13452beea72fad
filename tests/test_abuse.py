"""Mass assignment and IDOR through request bodies.

Every write serializer that creates or changes a row gets fields the client must not set (role, isStaff,
kycStatus, status, price, amounts, owner ids, counters). The request is either rejected (400) or succeeds
with those fields ignored — and the database shows nothing privileged changed. Ids inside bodies that point
at other users' objects (media, bookings, payments, messages) are refused.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import KycStatus, TechnicianProfile
from accounts.services.two_factor import two_factor_is_enabled
from accounts.tests.factories import TechnicianFactory
from bookings.models import Booking, BookingStatus, Dispute
from bookings.pricing import price_breakdown
from bookings.tests.factories import BookingFactory
from conftest import bearer_client
from notifications.models import DeviceToken, Message
from notifications.services.chat import conversation_get_or_create_for_booking
from payments.models import Payment
from payments.tests.fakes.daraja import PATH_B2C, PATH_STK_PUSH
from payments.tests.helpers import set_status
from social.models import Post, Review
from support.models import SupportTicket, TicketMessage
from tests.authz_cases import BODIES, resolve_path, writable_cases

pytestmark = pytest.mark.django_db

User = get_user_model()


PRIVILEGED_USER_FIELDS = {
    "role": "admin",
    "isStaff": True,
    "isSuperuser": True,
    "isActive": True,
    "isEmailVerified": True,
    "isPhoneVerified": True,
    "twoFactorEnabled": True,
    "kycStatus": "approved",
    "dateJoined": "2000-01-01T00:00:00Z",
    "id": 1,
}


def _accepted_or_rejected(response):
    """The attacker's request may be refused as invalid, or succeed with the fields ignored — never 5xx."""
    assert response.status_code in {200, 201, 202, 400}, response.content[:500]
    if response.status_code == 400:
        assert response.json()["code"] == "validation_error"


# --- accounts ----------------------------------------------------------------------------------------------


def test_register_cannot_choose_staff_role_or_verified_flags(anon_client):
    response = anon_client.post(
        "/api/v1/auth/register",
        {
            "email": "mallory@example.co.ke",
            "firstName": "Mallory",
            "lastName": "Attacker",
            "password": "An0ther-Str0ng-Pass!",
            "phoneNumber": "0799123456",
            **PRIVILEGED_USER_FIELDS,
        },
        format="json",
    )
    _accepted_or_rejected(response)
    user = User.objects.filter(email="mallory@example.co.ke").first()
    if user is not None:
        assert user.role not in {"admin", "support"}
        assert not user.is_staff and not user.is_superuser
        assert not user.is_email_verified and not user.is_phone_verified


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("patch", "/api/v1/auth/me"),  # auth/me has no PUT
        ("patch", "/api/v1/users/{self}"),
        ("put", "/api/v1/users/{self}"),
    ],
    ids=["patch-auth-me", "patch-users-self", "put-users-self"],
)
def test_profile_update_ignores_privileged_fields(customer, method, url):
    customer.is_phone_verified = False
    customer.save(update_fields=["is_phone_verified"])
    response = getattr(bearer_client(customer), method)(
        url.replace("{self}", str(customer.pk)),
        {"firstName": "Wanjiku", "email": "hijack@example.co.ke", **PRIVILEGED_USER_FIELDS},
        format="json",
    )
    _accepted_or_rejected(response)
    customer.refresh_from_db()
    assert customer.role == "customer"
    assert not customer.is_staff and not customer.is_superuser
    assert not customer.is_phone_verified
    assert not two_factor_is_enabled(customer)
    assert customer.email == "wanjiku@example.co.ke"


def test_technician_profile_cannot_approve_own_kyc_or_set_rating(db, service_category):
    tech = TechnicianFactory(
        skill=False, email="newfundi@example.co.ke", phone_number="+254700111222"
    )
    TechnicianProfile.objects.filter(user=tech).update(kyc_status=KycStatus.NOT_SUBMITTED)
    client = bearer_client(tech)
    response = client.put(
        "/api/v1/users/me/technician-profile",
        {
            "bio": "Plumber",
            "kycStatus": "approved",
            "ratingAverage": "5.00",
            "ratingCount": 999,
            "jobsCompleted": 500,
            "kycReviewedAt": "2026-01-01T00:00:00Z",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    response = client.post(
        "/api/v1/users/me/kyc",
        {
            "idDocumentUrl": "https://example.com/id.jpg",
            "nationalIdNumber": "12345678",
            "selfieUrl": "https://example.com/selfie.jpg",
            "kycStatus": "approved",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    profile = TechnicianProfile.objects.get(user=tech)
    assert profile.kyc_status != KycStatus.APPROVED
    assert profile.rating_average == 0
    assert profile.rating_count == 0
    assert profile.jobs_completed == 0


# --- bookings ----------------------------------------------------------------------------------------------

BOOKING_PRIVILEGED = {
    "status": "confirmed",
    "depositPaidAt": "2026-01-01T00:00:00Z",
    "depositAmount": "1.00",
    "balanceAmount": "1.00",
    "platformFee": "0.00",
    "technicianShare": "99999.00",
    "number": "DW-0000-000001",
    "completedAt": "2026-01-01T00:00:00Z",
    "confirmedAt": "2026-01-01T00:00:00Z",
}


def test_booking_create_ignores_status_amounts_and_owner(world):
    other = world.users["other_customer"]
    body = {
        "categoryId": world.category.pk,
        "title": "Fix the tap",
        "address": "Kilimani",
        "scheduledStart": "2030-01-07T09:00:00+03:00",
        "durationMinutes": 60,
        "price": "3000.00",
        "customer": other.pk,
        "customerId": other.pk,
        **BOOKING_PRIVILEGED,
    }
    response = world.client("customer").post("/api/v1/bookings", body, format="json")
    _accepted_or_rejected(response)

    assert not Booking.objects.filter(customer=other).exists()
    for booking in Booking.objects.filter(customer=world.customer):
        expected = price_breakdown(booking.price)
        assert booking.status == "pending"
        assert booking.deposit_paid_at is None
        assert booking.deposit_amount == expected.deposit
        assert booking.platform_fee == expected.platform_fee
        assert booking.technician_share == expected.technician_share
        assert booking.number != "DW-0000-000001"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_booking_update_ignores_status_amounts_and_parties(world, method):
    booking = world.booking
    booking.refresh_from_db()
    before = {
        f: getattr(booking, f)
        for f in (
            "status",
            "price",
            "deposit_amount",
            "platform_fee",
            "technician_share",
            "customer_id",
            "technician_id",
            "deposit_paid_at",
            "number",
        )
    }
    body = {
        "title": "Fix the tap (updated)",
        "address": "Kilimani",
        "scheduledStart": booking.scheduled_start.isoformat(),
        "durationMinutes": 60,
        "price": "1.00",
        "customer": world.users["other_customer"].pk,
        "customerId": world.users["other_customer"].pk,
        "technicianId": world.users["other_technician"].pk,
        **BOOKING_PRIVILEGED,
    }
    response = getattr(world.client("customer"), method)(
        f"/api/v1/bookings/{booking.pk}", body, format="json"
    )
    _accepted_or_rejected(response)
    booking.refresh_from_db()
    after = {f: getattr(booking, f) for f in before}
    assert after == before


def test_dispute_cannot_be_opened_resolved(world):
    booking = world.booking
    set_status(booking, BookingStatus.COMPLETED, completed_at=booking.scheduled_end)
    response = world.client("customer").post(
        f"/api/v1/bookings/{booking.pk}/dispute",
        {
            "reason": "Still leaking",
            "status": "resolved",
            "outcome": "full_refund",
            "refundAmount": "5000.00",
            "openedBy": world.technician.pk,
        },
        format="json",
    )
    assert response.status_code in {200, 201, 400, 409}, response.content
    for dispute in Dispute.objects.filter(booking=booking):
        assert dispute.status == "open"
        assert dispute.opened_by_id == world.customer.pk
        assert getattr(dispute, "outcome", "") in ("", None)


# --- payments ----------------------------------------------------------------------------------------------


def test_stk_push_amount_status_and_payer_come_from_the_booking(world):
    response = world.client("customer").post(
        "/api/v1/payments/mpesa/stk-push",
        {
            "bookingId": world.booking.pk,
            "confirmPhone": True,
            "amount": "1.00",
            "status": "succeeded",
            "payer": world.users["other_customer"].pk,
            "payerId": world.users["other_customer"].pk,
            "mpesaReceiptNumber": "FAKE000000",
            "method": "card",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    payments = list(Payment.objects.filter(booking=world.booking))
    assert len(payments) <= 1
    for payment in payments:
        assert payment.amount == world.booking.deposit_amount
        assert payment.payer_id == world.customer.pk
        assert payment.status != "succeeded"
        assert payment.method == "mpesa"


def test_card_intent_amount_comes_from_the_booking(world, fake_stripe):
    response = world.client("customer").post(
        "/api/v1/payments/stripe/payment-intent",
        {"bookingId": world.booking.pk, "amount": "1.00", "status": "succeeded", "currency": "USD"},
        format="json",
    )
    _accepted_or_rejected(response)
    for payment in Payment.objects.filter(booking=world.booking):
        assert payment.amount == world.booking.deposit_amount
        assert payment.currency == "KES"
        assert payment.status != "succeeded"


def test_batch_process_by_technician_moves_no_money(world, fake_daraja):
    payout = world.payout
    response = world.client("technician").post(
        "/api/v1/payments/payouts/batch-process",
        {"payoutIds": [payout.pk], "status": "paid", "amount": "999999.00"},
        format="json",
    )
    assert response.status_code == 403
    payout.refresh_from_db()
    assert payout.status == "pending_review"
    assert payout.amount == Decimal("4250.00")
    assert fake_daraja.requests_to(PATH_B2C) == []


# --- social ------------------------------------------------------------------------------------------------


def test_review_cannot_pick_reviewer_reviewee_or_visibility(world):
    response = world.client("customer").post(
        "/api/v1/reviews",
        {
            "bookingId": world.confirmed_booking.pk,
            "overall": 1,
            "ratings": {
                a: 1 for a in ("quality", "timeliness", "professionalism", "communication", "value")
            },
            "reviewer": world.users["other_customer"].pk,
            "reviewerId": world.users["other_customer"].pk,
            "reviewee": world.users["other_technician"].pk,
            "revieweeId": world.users["other_technician"].pk,
            "direction": "technician_to_customer",
            "visibleFrom": "2000-01-01T00:00:00Z",
            "isHidden": False,
        },
        format="json",
    )
    _accepted_or_rejected(response)
    for review in Review.objects.filter(booking=world.confirmed_booking):
        assert review.reviewer_id == world.customer.pk
        assert review.reviewee_id == world.technician.pk
        assert review.direction == "customer_to_technician"
        assert review.visible_from.year > 2000


def test_post_cannot_pick_author_status_or_counters(world):
    response = world.client("customer").post(
        "/api/v1/posts",
        {
            "body": "Fixed a geyser today",
            "author": world.users["admin"].pk,
            "authorId": world.users["admin"].pk,
            "status": "hidden",
            "likeCount": 1000,
            "commentCount": 1000,
            "shareCount": 1000,
            "moderationReason": "x",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    for post in Post.objects.all():
        assert post.author_id == world.customer.pk
        assert post.status == "published"
        assert (post.like_count, post.comment_count, post.share_count) == (0, 0, 0)


def test_post_edit_cannot_change_author_status_or_counters(world):
    post = world.post
    response = world.client("customer").patch(
        f"/api/v1/posts/{post.pk}",
        {"body": "Edited", "author": world.users["admin"].pk, "status": "hidden", "likeCount": 50},
        format="json",
    )
    _accepted_or_rejected(response)
    post.refresh_from_db()
    assert post.author_id == world.customer.pk
    assert post.status == "published"
    assert post.like_count == 0


# --- support -----------------------------------------------------------------------------------------------


def test_ticket_create_cannot_pick_status_assignee_or_creator(world):
    agent = world.users["support"]
    response = world.client("customer").post(
        "/api/v1/support/tickets",
        {
            "subject": "App crashes",
            "description": "When I open bookings.",
            "status": "resolved",
            "assignedTo": agent.pk,
            "assignedToId": agent.pk,
            "createdBy": world.users["other_customer"].pk,
            "createdById": world.users["other_customer"].pk,
            "firstResponseDueAt": "2100-01-01T00:00:00Z",
            "resolutionDueAt": "2100-01-01T00:00:00Z",
            "number": "TKT-1",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    for ticket in SupportTicket.objects.all():
        assert ticket.created_by_id == world.customer.pk
        assert ticket.status in {"open", "assigned"}
        assert ticket.resolution_due_at.year < 2100
        assert ticket.number != "TKT-1"


# --- chat / notifications ----------------------------------------------------------------------------------


def test_message_sender_is_always_the_caller(world):
    response = world.client("customer").post(
        "/api/v1/messages",
        {
            "conversationId": world.conversation.pk,
            "body": "Hello",
            "sender": world.technician.pk,
            "senderId": world.technician.pk,
            "isDeleted": True,
            "createdAt": "2000-01-01T00:00:00Z",
        },
        format="json",
    )
    _accepted_or_rejected(response)
    for message in Message.objects.filter(conversation=world.conversation):
        assert message.sender_id == world.customer.pk
        assert message.created_at.year > 2000


def test_device_registration_belongs_to_the_caller(world):
    response = world.client("customer").post(
        "/api/v1/notifications/devices",
        {
            "platform": "android",
            "token": "fcm-abuse-" + "z" * 140,
            "user": world.users["other_customer"].pk,
            "userId": world.users["other_customer"].pk,
        },
        format="json",
    )
    _accepted_or_rejected(response)
    assert not DeviceToken.objects.filter(user=world.users["other_customer"]).exists()


# --- references to other users' objects inside bodies (IDOR through ids in the payload) -----------------------


def test_cannot_attach_someone_elses_media_to_a_post(world):
    response = world.client("other_customer").post(
        "/api/v1/posts", {"body": "look", "mediaIds": [world.media.pk]}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert not Post.objects.filter(author=world.users["other_customer"]).exists()


def test_ticket_cannot_reference_someone_elses_booking_or_payment(world):
    client = world.client("other_customer")
    for field, value in (
        ("relatedBookingId", world.booking.pk),
        ("relatedPaymentId", world.payment.pk),
    ):
        response = client.post(
            "/api/v1/support/tickets",
            {"subject": "Refund", "description": "Give me money", field: value},
            format="json",
        )
        assert response.status_code in {400, 404}, (field, response.content[:300])
    assert not SupportTicket.objects.filter(created_by=world.users["other_customer"]).exists()


def test_cannot_reply_to_a_message_of_another_conversation(world):
    other = world.users["other_customer"]
    own_booking = BookingFactory(customer=other, technician=world.users["other_technician"])
    conversation, _ = conversation_get_or_create_for_booking(booking=own_booking, user=other)
    response = world.client("other_customer").post(
        "/api/v1/messages",
        {"conversationId": conversation.pk, "body": "quote", "replyToId": world.message.pk},
        format="json",
    )
    assert response.status_code in {400, 404}, response.content[:300]
    assert not Message.objects.filter(conversation=conversation).exists()


def test_stk_push_for_someone_elses_booking_sends_nothing(world, fake_daraja):
    response = world.client("other_customer").post(
        "/api/v1/payments/mpesa/stk-push",
        {"bookingId": world.booking.pk, "phoneNumber": "0722000111"},
        format="json",
    )
    assert response.status_code == 404
    assert not Payment.objects.filter(booking=world.booking).exists()
    assert fake_daraja.requests_to(PATH_STK_PUSH) == []


def test_customer_cannot_write_or_read_internal_ticket_notes(world):
    ticket = world.ticket
    response = world.client("customer").post(
        f"/api/v1/support/tickets/{ticket.pk}/messages",
        {"body": "psst", "isInternal": True},
        format="json",
    )
    assert response.status_code in {201, 400, 403}, response.content[:300]
    assert not TicketMessage.objects.filter(
        ticket=ticket, author=world.customer, is_internal=True
    ).exists()

    response = world.client("support").post(
        f"/api/v1/support/tickets/{ticket.pk}/messages",
        {"body": "Customer is a known fraudster", "isInternal": True},
        format="json",
    )
    assert response.status_code == 201, response.content[:300]
    for url in (
        f"/api/v1/support/tickets/{ticket.pk}/messages",
        f"/api/v1/support/tickets/{ticket.pk}",
    ):
        response = world.client("customer").get(url)
        assert response.status_code == 200
        assert b"known fraudster" not in response.content, url


# --- every write serializer: privileged fields next to a valid body never escalate anyone --------------------

ESCALATION_FIELDS = {
    "role": "admin",
    "isStaff": True,
    "isSuperuser": True,
    "isActive": True,
    "userId": 1,
    "owner": 1,
    "ownerId": 1,
    "customerId": 1,
    "technicianId": 1,
    "createdBy": 1,
    "author": 1,
}


def _privileges(users):
    return {
        name: (u.role, u.is_staff, u.is_superuser)
        for name, u in users.items()
        if u is not None
        for u in [type(u).objects.get(pk=u.pk)]
    }


@pytest.mark.parametrize(("method", "path", "role"), list(writable_cases()))
def test_no_write_endpoint_escalates_privileges(request, world, method, path, role):
    if "/stripe/" in path:
        request.getfixturevalue("fake_stripe")
    url = resolve_path(path, world)
    body = {**ESCALATION_FIELDS, **BODIES[(method, path)](world)}
    before = _privileges(world.users)
    response = getattr(world.client(role), method.lower())(url, body, format="json")
    assert response.status_code < 500, response.content[:300]
    assert _privileges(world.users) == before
