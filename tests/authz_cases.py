"""How to call every endpoint against the `world` (tests/conftest.py): path parameters and minimal bodies.

Used by the authorization matrix and the API fuzzing (which points generated path ids at real objects).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone


def _future(days: int = 6, hour: int = 10) -> str:
    start = timezone.localtime() + timedelta(days=days)
    return start.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


# path template → {param: callable(world)}; resolving the callable builds only that object.
PATH_PARAMS = {
    "/api/v1/auth/verify-email/{token}": {"token": lambda w: "not-a-real-token"},
    "/api/v1/bookings/{id}": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/accept": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/arrived": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/cancellation-quote": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/complete": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/confirm": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/decline": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/dispute": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/en-route": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/fee-breakdown": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/history": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/start": {"id": lambda w: w.booking.pk},
    # Tips need a completed job: the world's confirmed booking (customer and technician personas).
    "/api/v1/bookings/{id}/tips": {"id": lambda w: w.confirmed_booking.pk},
    "/api/v1/bookings/{id}/reschedule-proposals": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/quotes": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/change-orders": {"id": lambda w: w.booking.pk},
    "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/accept": {
        "id": lambda w: w.reschedule_proposal.booking_id,
        "proposal_id": lambda w: w.reschedule_proposal.pk,
    },
    "/api/v1/bookings/{id}/quotes/{proposal_id}/accept": {
        "id": lambda w: w.quote.booking_id,
        "proposal_id": lambda w: w.quote.pk,
    },
    "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/decline": {
        "id": lambda w: w.reschedule_proposal.booking_id,
        "proposal_id": lambda w: w.reschedule_proposal.pk,
    },
    "/api/v1/bookings/{id}/quotes/{proposal_id}/decline": {
        "id": lambda w: w.quote.booking_id,
        "proposal_id": lambda w: w.quote.pk,
    },
    "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/withdraw": {
        "id": lambda w: w.reschedule_proposal.booking_id,
        "proposal_id": lambda w: w.reschedule_proposal.pk,
    },
    "/api/v1/bookings/{id}/quotes/{proposal_id}/withdraw": {
        "id": lambda w: w.quote.booking_id,
        "proposal_id": lambda w: w.quote.pk,
    },
    "/api/v1/bookings/{id}/change-orders/{proposal_id}/approve": {
        "id": lambda w: w.change_order.booking_id,
        "proposal_id": lambda w: w.change_order.pk,
    },
    "/api/v1/bookings/{id}/change-orders/{proposal_id}/reject": {
        "id": lambda w: w.change_order.booking_id,
        "proposal_id": lambda w: w.change_order.pk,
    },
    "/api/v1/bookings/{id}/change-orders/{proposal_id}/withdraw": {
        "id": lambda w: w.change_order.booking_id,
        "proposal_id": lambda w: w.change_order.pk,
    },
    "/api/v1/bookings/{id}/guarantee-claims": {"id": lambda w: w.guarantee_claim.booking_id},
    "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/accept": {
        "id": lambda w: w.guarantee_claim.booking_id,
        "claim_id": lambda w: w.guarantee_claim.pk,
    },
    "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/decline": {
        "id": lambda w: w.guarantee_claim.booking_id,
        "claim_id": lambda w: w.guarantee_claim.pk,
    },
    "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/withdraw": {
        "id": lambda w: w.guarantee_claim.booking_id,
        "claim_id": lambda w: w.guarantee_claim.pk,
    },
    "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/confirm": {
        "id": lambda w: w.scheduled_guarantee_claim.booking_id,
        "claim_id": lambda w: w.scheduled_guarantee_claim.pk,
    },
    "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/report-failed": {
        "id": lambda w: w.scheduled_guarantee_claim.booking_id,
        "claim_id": lambda w: w.scheduled_guarantee_claim.pk,
    },
    "/api/v1/bookings/disputes/{id}/notes": {"id": lambda w: w.dispute.pk},
    "/api/v1/bookings/disputes/{id}/resolve": {"id": lambda w: w.dispute.pk},
    "/api/v1/conversations/{id}": {"id": lambda w: w.conversation.pk},
    "/api/v1/conversations/{id}/read": {"id": lambda w: w.conversation.pk},
    "/api/v1/matching/{id}": {"id": lambda w: w.match.pk},
    "/api/v1/matching/{id}/accept": {"id": lambda w: w.match.pk},
    "/api/v1/matching/{id}/feedback": {"id": lambda w: w.match.pk},
    "/api/v1/matching/{id}/reject": {"id": lambda w: w.match.pk},
    "/api/v1/matching/block/{technician_id}": {"technician_id": lambda w: w.technician.pk},
    "/api/v1/matching/favourites/{technician_id}": {"technician_id": lambda w: w.technician.pk},
    "/api/v1/media/{public_id}": {"public_id": lambda w: w.media.public_id},
    "/api/v1/media/{public_id}/details": {"public_id": lambda w: w.media.public_id},
    "/api/v1/messages/{id}": {"id": lambda w: w.message.pk},
    "/api/v1/notifications/{id}/read": {"id": lambda w: w.notification.pk},
    "/api/v1/notifications/devices/{token}": {"token": lambda w: w.device.token},
    "/api/v1/portfolio/{id}/moderate": {"id": lambda w: w.portfolio_item.pk},
    "/api/v1/payments/mpesa/{id}/query": {"id": lambda w: w.payment.pk},
    "/api/v1/payments/payouts/{id}": {"id": lambda w: w.payout.pk},
    "/api/v1/payments/payouts/{id}/check-status": {"id": lambda w: w.payout.pk},
    "/api/v1/payments/payouts/{id}/confirm-not-paid": {"id": lambda w: w.payout.pk},
    "/api/v1/payments/payouts/{id}/confirm-paid": {"id": lambda w: w.payout.pk},
    "/api/v1/payments/payouts/{id}/process": {"id": lambda w: w.payout.pk},
    "/api/v1/payments/transactions/{id}": {"id": lambda w: w.payment.pk},
    "/api/v1/payments/transactions/{id}/receipt": {"id": lambda w: w.payment.pk},
    "/api/v1/posts/{id}": {"id": lambda w: w.post.pk},
    "/api/v1/posts/{id}/comments": {"id": lambda w: w.post.pk},
    "/api/v1/posts/{id}/like": {"id": lambda w: w.post.pk},
    "/api/v1/posts/{id}/moderate": {"id": lambda w: w.post.pk},
    "/api/v1/posts/{id}/report": {"id": lambda w: w.post.pk},
    "/api/v1/posts/{id}/share": {"id": lambda w: w.post.pk},
    "/api/v1/posts/comments/{id}": {"id": lambda w: w.comment.pk},
    "/api/v1/reviews/{id}": {"id": lambda w: w.review.pk},
    "/api/v1/reviews/{id}/respond": {"id": lambda w: w.review.pk},
    "/api/v1/reviews/booking/{id}": {"id": lambda w: w.review.booking_id},
    "/api/v1/reviews/technician/{id}": {"id": lambda w: w.technician.pk},
    "/api/v1/reviews/technician/{id}/stats": {"id": lambda w: w.technician.pk},
    "/api/v1/support/tickets/{id}": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/assign": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/chat": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/close": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/escalate": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/messages": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/priority": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/rate": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/reopen": {"id": lambda w: w.ticket.pk},
    "/api/v1/support/tickets/{id}/status": {"id": lambda w: w.ticket.pk},
    # A user's own record: the customer persona's.
    "/api/v1/users/{id}": {"id": lambda w: w.customer.pk},
    "/api/v1/technicians/{id}": {"id": lambda w: w.technician.pk},
    "/api/v1/users/me/portfolio/{id}": {"id": lambda w: w.portfolio_item.pk},
    "/api/v1/users/{id}/availability": {"id": lambda w: w.technician.pk},
    "/api/v1/users/{id}/kyc/review": {"id": lambda w: w.technician.pk},
}


def _weekly():
    return {
        "weeklyHours": [{"weekday": 0, "startTime": "08:00", "endTime": "17:00"}],
        "timeOff": [],
    }


# (METHOD, path template) → callable(world) giving a minimal valid JSON body.
BODIES = {
    ("POST", "/api/v1/auth/change-password"): lambda w: {
        "currentPassword": "S3cure-Passw0rd!",
        "newPassword": "An0ther-Str0ng-Pass!",
    },
    ("POST", "/api/v1/auth/disable-2fa"): lambda w: {"code": "123456", "password": "x"},
    ("POST", "/api/v1/auth/enable-2fa"): lambda w: {"code": "123456"},
    ("POST", "/api/v1/auth/forgot-password"): lambda w: {"email": "nobody@example.co.ke"},
    ("POST", "/api/v1/auth/login"): lambda w: {
        "email": "wanjiku@example.co.ke",
        "password": "S3cure-Passw0rd!",
    },
    ("POST", "/api/v1/auth/logout"): lambda w: {"refresh": "not-a-token"},
    ("PATCH", "/api/v1/auth/me"): lambda w: {"firstName": "Renamed"},
    ("POST", "/api/v1/auth/refresh"): lambda w: {"refresh": "not-a-token"},
    ("POST", "/api/v1/auth/register"): lambda w: {
        "email": "new.user@example.co.ke",
        "firstName": "New",
        "lastName": "User",
        "password": "An0ther-Str0ng-Pass!",
        "phoneNumber": "0799111222",
    },
    ("POST", "/api/v1/auth/resend-verification"): lambda w: {"email": "nobody@example.co.ke"},
    ("POST", "/api/v1/auth/reset-password"): lambda w: {
        "token": "bad-token",
        "password": "An0ther-Str0ng-Pass!",
    },
    ("POST", "/api/v1/auth/verify-2fa"): lambda w: {"challengeToken": "bad", "code": "123456"},
    ("POST", "/api/v1/auth/verify-phone/confirm"): lambda w: {"code": "123456"},
    ("POST", "/api/v1/bookings"): lambda w: {
        "categoryId": w.category.pk,
        "title": "Fix the tap",
        "address": "Kilimani",
        "scheduledStart": _future(8, 9),
        "durationMinutes": 60,
        "price": "3000.00",
    },
    ("PUT", "/api/v1/bookings/{id}"): lambda w: {
        "title": "Fix the tap (updated)",
        "address": "Kilimani",
        "scheduledStart": _future(9, 9),
        "durationMinutes": 60,
    },
    ("PATCH", "/api/v1/bookings/{id}"): lambda w: {"title": "Fix the tap (patched)"},
    ("DELETE", "/api/v1/bookings/{id}"): lambda w: {"reason": "Plans changed."},
    ("DELETE", "/api/v1/notifications/devices"): lambda w: {"token": w.device.token},
    ("POST", "/api/v1/bookings/{id}/dispute"): lambda w: {"reason": "It still leaks badly."},
    ("POST", "/api/v1/bookings/{id}/reschedule-proposals"): lambda w: {
        "scheduledStart": _future(10, 9),
        "reason": "Travelling that day.",
    },
    ("POST", "/api/v1/bookings/{id}/quotes"): lambda w: {"price": "6000.00", "note": "Two taps."},
    ("POST", "/api/v1/bookings/{id}/change-orders"): lambda w: {"amount": "500", "note": "A trap."},
    ("POST", "/api/v1/bookings/{id}/guarantee-claims"): lambda w: {"description": "Drips again."},
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/accept"): lambda w: {
        "visitStart": _future(11, 10),
        "durationMinutes": 60,
    },
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/decline"): lambda w: {
        "reason": "Out of town."
    },
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/report-failed"): lambda w: {
        "note": "Still dripping."
    },
    ("POST", "/api/v1/bookings/disputes/{id}/notes"): lambda w: {"body": "Called both parties."},
    ("POST", "/api/v1/bookings/disputes/{id}/resolve"): lambda w: {
        "outcome": "release_to_technician"
    },
    ("POST", "/api/v1/conversations"): lambda w: {"bookingId": w.booking.pk},
    ("POST", "/api/v1/payments/payouts/{id}/confirm-paid"): lambda w: {"receipt": "QKJ4XYZ123"},
    ("POST", "/api/v1/payments/payouts/{id}/confirm-not-paid"): lambda w: {
        "evidence": "Not on the org portal statement"
    },
    ("POST", "/api/v1/matching/{id}/feedback"): lambda w: {"rating": 5},
    ("POST", "/api/v1/matching/{id}/reject"): lambda w: {"reason": "Too far away"},
    ("POST", "/api/v1/matching/find-technicians"): lambda w: {
        "categoryId": w.category.pk,
        "scheduledStart": _future(7, 11),
        "latitude": -1.2921,
        "longitude": 36.8219,
    },
    ("PUT", "/api/v1/matching/preferences"): lambda w: {},
    ("POST", "/api/v1/media/confirm-upload"): lambda w: {
        "publicId": "dumuwaks/x",
        "signature": "bad",
        "version": 1,
    },
    ("POST", "/api/v1/media/delete-multiple"): lambda w: {"publicIds": [w.media.public_id]},
    ("POST", "/api/v1/media/optimize-url"): lambda w: {"publicId": w.media.public_id},
    ("POST", "/api/v1/messages"): lambda w: {
        "conversationId": w.conversation.pk,
        "body": "Nitafika saa nne.",
    },
    ("PATCH", "/api/v1/messages/{id}"): lambda w: {"body": "Edited text"},
    ("POST", "/api/v1/notifications/devices"): lambda w: {
        "platform": "android",
        "token": "fcm-token-matrix-" + "y" * 140,
    },
    ("PUT", "/api/v1/notifications/preferences"): lambda w: {},
    ("POST", "/api/v1/bookings/{id}/tips"): lambda w: {
        "amount": "200",
        "confirmPhone": True,  # the persona's number is not verified
    },
    ("POST", "/api/v1/payments/mpesa/stk-push"): lambda w: {
        "bookingId": w.booking.pk,
        "confirmPhone": True,  # the persona's number is not verified
    },
    ("POST", "/api/v1/payments/payouts/batch-process"): lambda w: {"payoutIds": [w.payout.pk]},
    ("POST", "/api/v1/payments/stripe/payment-intent"): lambda w: {"bookingId": w.booking.pk},
    ("POST", "/api/v1/portfolio/{id}/moderate"): lambda w: {"action": "hide"},
    ("POST", "/api/v1/posts"): lambda w: {"body": "Just fixed a geyser in Kileleshwa"},
    ("PATCH", "/api/v1/posts/{id}"): lambda w: {"body": "Edited post"},
    ("POST", "/api/v1/posts/{id}/comments"): lambda w: {"body": "Nice one"},
    ("POST", "/api/v1/posts/{id}/moderate"): lambda w: {"action": "hide", "reason": "spam"},
    ("POST", "/api/v1/posts/{id}/report"): lambda w: {"reason": "This is spam"},
    ("POST", "/api/v1/reviews"): lambda w: {
        "bookingId": w.confirmed_booking.pk,
        "overall": 4,
        "ratings": {
            a: 4 for a in ("quality", "timeliness", "professionalism", "communication", "value")
        },
    },
    ("PATCH", "/api/v1/reviews/{id}"): lambda w: {"comment": "Edited review"},
    ("POST", "/api/v1/reviews/{id}/respond"): lambda w: {"response": "Thank you!"},
    ("PUT", "/api/v1/support/agents/me/availability"): lambda w: {"isAvailable": True},
    ("POST", "/api/v1/support/tickets"): lambda w: {
        "subject": "App crashes",
        "description": "When I open bookings.",
    },
    ("POST", "/api/v1/support/tickets/{id}/assign"): lambda w: {},
    ("POST", "/api/v1/support/tickets/{id}/close"): lambda w: {"resolution": "Refunded."},
    ("POST", "/api/v1/support/tickets/{id}/escalate"): lambda w: {},
    ("POST", "/api/v1/support/tickets/{id}/messages"): lambda w: {"body": "Any update?"},
    ("POST", "/api/v1/support/tickets/{id}/priority"): lambda w: {"priority": "high"},
    ("POST", "/api/v1/support/tickets/{id}/rate"): lambda w: {"rating": 5},
    ("POST", "/api/v1/support/tickets/{id}/reopen"): lambda w: {},
    ("POST", "/api/v1/support/tickets/{id}/status"): lambda w: {"status": "in_progress"},
    ("PUT", "/api/v1/users/{id}"): lambda w: {"firstName": "Renamed"},
    ("PATCH", "/api/v1/users/{id}"): lambda w: {"firstName": "Renamed"},
    ("POST", "/api/v1/users/{id}/kyc/review"): lambda w: {"decision": "approve"},
    ("PUT", "/api/v1/users/me/availability"): lambda w: _weekly(),
    ("PUT", "/api/v1/users/me/feature-phone"): lambda w: {"language": "sw"},
    ("POST", "/api/v1/users/me/portfolio"): lambda w: {"title": "Sink replaced"},
    ("PATCH", "/api/v1/users/me/portfolio/{id}"): lambda w: {"title": "Sink replaced"},
    ("POST", "/api/v1/users/me/portfolio/reorder"): lambda w: {"itemIds": [w.portfolio_item.pk]},
    ("POST", "/api/v1/users/me/kyc"): lambda w: {
        "idDocumentUrl": "https://example.com/id.jpg",
        "nationalIdNumber": "12345678",
        "selfieUrl": "https://example.com/selfie.jpg",
    },
    ("PUT", "/api/v1/users/me/technician-profile"): lambda w: {},
}


# path template → callable(world) giving query parameters.
QUERY = {
    "/api/v1/messages": lambda w: {"conversation": w.conversation.pk},
}


def resolve_path(template: str, world) -> str:
    path = template
    for name, getter in PATH_PARAMS.get(template, {}).items():
        path = path.replace("{" + name + "}", str(getter(world)))
    assert "{" not in path, f"no path parameters known for {template}"
    return path


def call(world, role: str, method: str, template: str):
    """Resolve path/body against the world *before* choosing the client, then send the request."""
    path = resolve_path(template, world)
    body_fn = BODIES.get((method, template))
    client = world.client(role)
    send = getattr(client, method.lower())
    if method == "GET":
        query_fn = QUERY.get(template)
        return send(path, query_fn(world) if query_fn else None)
    if body_fn is None:
        return send(path)
    return send(path, body_fn(world), format="json")


LEAST_PRIVILEGED_FIRST = (
    "customer",
    "other_customer",
    "technician",
    "other_technician",
    "support",
    "admin",
)


def writable_cases():
    """(METHOD, path, role) for each JSON write body above, as the least privileged role the
    authorization matrix lets succeed (2xx)."""
    # Local: tests.test_authorization_matrix imports `call` from this module (a real cycle).
    from tests.test_authorization_matrix import MATRIX

    for method, path in sorted(BODIES):
        if method not in {"POST", "PUT", "PATCH"} or (method, path) not in MATRIX:
            continue
        row = MATRIX[(method, path)]
        role = next((r for r in LEAST_PRIVILEGED_FIRST if 200 <= row[r] < 300), None)
        if role is not None:
            yield pytest.param(method, path, role, id=f"{method} {path} as {role}")
