"""Every endpoint × every role, from ONE table.

`MATRIX[(METHOD, path)]` gives the expected status per role. The objects behind path parameters all belong to
the `customer` persona (with the `technician` persona assigned), see tests/conftest.py::World, so:
object-level access: other_customer / other_technician get 404 (never 200 or 403 that leaks existence);
function-level access: staff-only routes give 403 to customers/technicians and 401 to anonymous.
Write requests carry a minimal valid body (tests/authz_cases.py::BODIES), so a 2xx / 409 means "allowed".

A new endpoint without a row fails `test_matrix_covers_every_operation`.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.authz_cases import call
from tests.conftest import ROLES
from tests.schema import schema_operations

pytestmark = pytest.mark.django_db

A, C, OC, T, OT, S, AD = ROLES  # anonymous, customer, other_customer, technician, ...


def row(anonymous, customer, other_customer, technician, other_technician, support, admin):
    return dict(
        zip(
            ROLES,
            (anonymous, customer, other_customer, technician, other_technician, support, admin),
            strict=True,
        )
    )


def same(status, anonymous=401):
    """Everyone authenticated gets `status` (own-data and public endpoints)."""
    return row(anonymous, status, status, status, status, status, status)


# Endpoints authenticated by a provider secret (callback token / Stripe signature), not by a user role.
# They are tested in payments/tests/test_callbacks.py and tests/test_abuse.py.
EXCLUDED = {
    ("POST", "/api/v1/payments/mpesa/callback"): "M-Pesa STK callback: token-authenticated",
    ("POST", "/api/v1/payments/mpesa/timeout"): "M-Pesa STK timeout: token-authenticated",
    ("POST", "/api/v1/payments/mpesa/b2c-callback"): "M-Pesa B2C result: token-authenticated",
    ("POST", "/api/v1/payments/mpesa/b2c-timeout"): "M-Pesa B2C timeout: token-authenticated",
    ("POST", "/api/v1/payments/mpesa/status-callback"): "M-Pesa status result: token-authenticated",
    ("POST", "/api/v1/payments/mpesa/status-timeout"): "M-Pesa status timeout: token-authenticated",
    ("POST", "/api/v1/payments/stripe/webhook"): "Stripe webhook: signature-authenticated",
    # Tested in featurephone/tests/.
    ("POST", "/api/v1/sms/inbound"): "Africa's Talking inbound SMS: token-authenticated",
    ("POST", "/api/v1/ussd"): "Africa's Talking USSD step: token-authenticated",
}

# Known authorization bugs in other apps: (METHOD, path, role) → reason. The case is xfail(strict=True),
# so it flips to a failure once the owning app is fixed and the table must be updated.
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}

MATRIX: dict[tuple[str, str], dict[str, int]] = {
    # --- analytics ---
    ("GET", "/api/v1/analytics/bookings"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/analytics/revenue"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/analytics/technicians"): row(401, 403, 403, 403, 403, 200, 200),
    # --- auth ---
    ("POST", "/api/v1/auth/change-password"): same(200),
    ("POST", "/api/v1/auth/disable-2fa"): same(409),
    ("POST", "/api/v1/auth/enable-2fa"): same(409),
    ("POST", "/api/v1/auth/forgot-password"): same(202, anonymous=202),
    ("POST", "/api/v1/auth/login"): same(200, anonymous=200),
    ("POST", "/api/v1/auth/logout"): same(400),
    ("GET", "/api/v1/auth/me"): same(200),
    ("PATCH", "/api/v1/auth/me"): same(200),
    ("POST", "/api/v1/auth/refresh"): same(401),
    ("POST", "/api/v1/auth/register"): same(201, anonymous=201),
    ("POST", "/api/v1/auth/resend-verification"): same(202, anonymous=202),
    ("POST", "/api/v1/auth/reset-password"): same(400, anonymous=400),
    ("POST", "/api/v1/auth/setup-2fa"): same(200),
    ("POST", "/api/v1/auth/verify-2fa"): same(400, anonymous=400),
    ("GET", "/api/v1/auth/verify-email/{token}"): same(400, anonymous=400),
    ("POST", "/api/v1/auth/verify-phone"): same(202),
    ("POST", "/api/v1/auth/verify-phone/confirm"): same(400),
    # --- bookings ---
    ("GET", "/api/v1/bookings"): same(200),
    ("POST", "/api/v1/bookings"): row(401, 201, 201, 403, 403, 403, 403),
    # Staff get the queue; customers and technicians their own disputes (LIST_LEAKS below).
    ("GET", "/api/v1/bookings/disputes"): same(200),
    ("POST", "/api/v1/bookings/disputes/{id}/notes"): row(401, 403, 403, 403, 403, 201, 201),
    ("POST", "/api/v1/bookings/disputes/{id}/resolve"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/bookings/stats"): same(200),
    ("DELETE", "/api/v1/bookings/{id}"): row(401, 200, 404, 200, 404, 200, 200),
    ("GET", "/api/v1/bookings/{id}"): row(401, 200, 404, 200, 404, 200, 200),
    ("PATCH", "/api/v1/bookings/{id}"): row(401, 200, 404, 409, 404, 409, 409),
    ("PUT", "/api/v1/bookings/{id}"): row(401, 200, 404, 409, 404, 409, 409),
    ("POST", "/api/v1/bookings/{id}/accept"): row(401, 409, 404, 409, 404, 409, 409),
    ("POST", "/api/v1/bookings/{id}/arrived"): row(401, 409, 404, 409, 404, 409, 409),
    ("GET", "/api/v1/bookings/{id}/cancellation-quote"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/complete"): row(401, 409, 404, 409, 404, 409, 409),
    ("POST", "/api/v1/bookings/{id}/confirm"): row(401, 409, 404, 409, 404, 409, 409),
    ("POST", "/api/v1/bookings/{id}/decline"): row(401, 409, 404, 200, 404, 409, 409),
    ("POST", "/api/v1/bookings/{id}/dispute"): row(401, 409, 404, 409, 404, 403, 403),
    ("POST", "/api/v1/bookings/{id}/en-route"): row(401, 409, 404, 409, 404, 409, 409),
    ("GET", "/api/v1/bookings/{id}/fee-breakdown"): row(401, 200, 404, 200, 404, 200, 200),
    ("GET", "/api/v1/bookings/{id}/history"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/start"): row(401, 409, 404, 409, 404, 409, 409),
    # Agreements: the reschedule proposal is the customer's (the technician answers), the quote and the
    # change order the technician's (the customer answers); the quote is on the pending booking.
    ("GET", "/api/v1/bookings/{id}/reschedule-proposals"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/reschedule-proposals"): row(401, 409, 404, 409, 404, 403, 403),
    ("GET", "/api/v1/bookings/{id}/quotes"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/quotes"): row(401, 403, 404, 201, 404, 403, 403),
    ("GET", "/api/v1/bookings/{id}/change-orders"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/change-orders"): row(401, 403, 404, 409, 404, 403, 403),
    ("POST", "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/accept"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/decline"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/reschedule-proposals/{proposal_id}/withdraw"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/quotes/{proposal_id}/accept"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/quotes/{proposal_id}/decline"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/quotes/{proposal_id}/withdraw"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/change-orders/{proposal_id}/approve"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/change-orders/{proposal_id}/reject"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/change-orders/{proposal_id}/withdraw"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    # Workmanship guarantee: the open claim is the customer's (the technician answers, the customer may
    # withdraw it; its booking already has the claim, so a second is 409); the scheduled one's visit has
    # started (the customer reports).
    ("GET", "/api/v1/bookings/{id}/guarantee-claims"): row(401, 200, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims"): row(401, 409, 404, 403, 404, 403, 403),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/accept"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/decline"): row(
        401, 403, 404, 200, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/withdraw"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/confirm"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    ("POST", "/api/v1/bookings/{id}/guarantee-claims/{claim_id}/report-failed"): row(
        401, 200, 404, 403, 404, 403, 403
    ),
    # --- categories ---
    ("GET", "/api/v1/categories"): same(200, anonymous=200),
    # --- conversations ---
    ("GET", "/api/v1/conversations"): same(200),
    ("POST", "/api/v1/conversations"): row(401, 201, 404, 201, 404, 201, 201),
    ("GET", "/api/v1/conversations/{id}"): row(401, 200, 404, 200, 404, 404, 404),
    ("POST", "/api/v1/conversations/{id}/read"): row(401, 200, 404, 200, 404, 404, 404),
    # --- health ---
    ("GET", "/api/v1/health"): same(200, anonymous=200),
    # --- matching ---
    ("DELETE", "/api/v1/matching/block/{technician_id}"): row(401, 404, 404, 403, 403, 403, 403),
    ("POST", "/api/v1/matching/block/{technician_id}"): row(401, 201, 201, 403, 403, 403, 403),
    ("GET", "/api/v1/matching/blocks"): row(401, 200, 200, 403, 403, 403, 403),
    ("GET", "/api/v1/matching/favourites"): row(401, 200, 200, 403, 403, 403, 403),
    ("DELETE", "/api/v1/matching/favourites/{technician_id}"): row(
        401, 404, 404, 403, 403, 403, 403
    ),
    ("POST", "/api/v1/matching/favourites/{technician_id}"): row(401, 201, 201, 403, 403, 403, 403),
    ("POST", "/api/v1/matching/find-technicians"): row(401, 200, 200, 403, 403, 403, 403),
    ("GET", "/api/v1/matching/my-matches"): row(401, 200, 200, 403, 403, 403, 403),
    ("GET", "/api/v1/matching/preferences"): row(401, 200, 200, 403, 403, 403, 403),
    ("PUT", "/api/v1/matching/preferences"): row(401, 200, 200, 403, 403, 403, 403),
    ("GET", "/api/v1/matching/{id}"): row(401, 200, 404, 403, 403, 403, 403),
    ("POST", "/api/v1/matching/{id}/accept"): row(401, 200, 404, 403, 403, 403, 403),
    ("POST", "/api/v1/matching/{id}/feedback"): row(401, 409, 404, 403, 403, 403, 403),
    ("POST", "/api/v1/matching/{id}/reject"): row(401, 200, 404, 403, 403, 403, 403),
    # --- media ---
    ("POST", "/api/v1/media/confirm-upload"): same(409),
    ("POST", "/api/v1/media/delete-multiple"): same(200),
    ("POST", "/api/v1/media/generate-signature"): same(409),
    ("POST", "/api/v1/media/optimize-url"): same(200),
    ("POST", "/api/v1/media/upload/image"): same(400),
    ("POST", "/api/v1/media/upload/images"): same(400),
    ("POST", "/api/v1/media/upload/media"): same(400),
    ("POST", "/api/v1/media/upload/profile-picture"): same(400),
    ("POST", "/api/v1/media/upload/video"): same(400),
    ("DELETE", "/api/v1/media/{public_id}"): row(401, 204, 404, 404, 404, 204, 204),
    ("GET", "/api/v1/media/{public_id}/details"): row(401, 200, 404, 404, 404, 200, 200),
    # --- messages ---
    ("GET", "/api/v1/messages"): row(401, 200, 404, 200, 404, 404, 404),
    ("POST", "/api/v1/messages"): row(401, 201, 404, 201, 404, 404, 404),
    ("DELETE", "/api/v1/messages/{id}"): row(401, 204, 404, 403, 404, 404, 404),
    ("PATCH", "/api/v1/messages/{id}"): row(401, 200, 404, 403, 404, 404, 404),
    # --- notifications ---
    ("GET", "/api/v1/notifications"): same(200),
    ("DELETE", "/api/v1/notifications/devices"): row(401, 204, 404, 404, 404, 404, 404),
    ("POST", "/api/v1/notifications/devices"): same(201),
    ("DELETE", "/api/v1/notifications/devices/{token}"): row(401, 204, 404, 404, 404, 404, 404),
    ("GET", "/api/v1/notifications/preferences"): same(200),
    ("PUT", "/api/v1/notifications/preferences"): same(200),
    ("POST", "/api/v1/notifications/read-all"): same(200),
    ("POST", "/api/v1/notifications/{id}/read"): row(401, 200, 404, 404, 404, 404, 404),
    # --- payments ---
    ("POST", "/api/v1/payments/mpesa/stk-push"): row(401, 201, 404, 404, 404, 404, 404),
    # Only the booking's customer tips; its technician and staff see the booking (403), others do not (404).
    ("POST", "/api/v1/bookings/{id}/tips"): row(401, 201, 404, 403, 404, 403, 403),
    ("GET", "/api/v1/payments/mpesa/{id}/query"): row(401, 200, 404, 404, 404, 200, 200),
    # The world's payment has succeeded: final, so the payer and staff get 409 payment_final.
    ("POST", "/api/v1/payments/mpesa/{id}/query"): row(401, 409, 404, 404, 404, 409, 409),
    ("POST", "/api/v1/payments/payouts/batch-process"): row(401, 403, 403, 403, 403, 403, 200),
    ("GET", "/api/v1/payments/payouts/my-payouts"): row(401, 403, 403, 200, 200, 403, 403),
    ("GET", "/api/v1/payments/payouts/pending"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/payments/payouts/{id}"): row(401, 404, 404, 200, 404, 200, 200),
    ("POST", "/api/v1/payments/payouts/{id}/check-status"): row(401, 403, 403, 403, 403, 202, 202),
    # The world's payout has nothing sent: nothing to confirm (409 payout_nothing_sent).
    ("POST", "/api/v1/payments/payouts/{id}/confirm-not-paid"): row(
        401, 403, 403, 403, 403, 403, 409
    ),
    ("POST", "/api/v1/payments/payouts/{id}/confirm-paid"): row(401, 403, 403, 403, 403, 403, 409),
    ("POST", "/api/v1/payments/payouts/{id}/process"): row(401, 403, 403, 403, 403, 403, 200),
    ("POST", "/api/v1/payments/stripe/payment-intent"): row(401, 201, 404, 404, 404, 404, 404),
    ("GET", "/api/v1/payments/transactions"): same(200),
    ("GET", "/api/v1/payments/transactions/{id}"): row(401, 200, 404, 404, 404, 200, 200),
    ("GET", "/api/v1/payments/transactions/{id}/receipt"): row(401, 200, 404, 404, 404, 200, 200),
    # --- portfolio (the technician persona's item; other technicians' own lists hold none of it) ---
    ("POST", "/api/v1/portfolio/{id}/moderate"): row(401, 403, 403, 403, 403, 200, 200),
    # --- posts ---
    ("GET", "/api/v1/posts"): same(200),
    ("POST", "/api/v1/posts"): same(201),
    ("DELETE", "/api/v1/posts/comments/{id}"): row(401, 204, 403, 403, 403, 204, 204),
    ("GET", "/api/v1/posts/feed"): same(200),
    ("GET", "/api/v1/posts/reports"): row(401, 403, 403, 403, 403, 200, 200),
    ("DELETE", "/api/v1/posts/{id}"): row(401, 204, 403, 403, 403, 204, 204),
    ("GET", "/api/v1/posts/{id}"): same(200),
    ("PATCH", "/api/v1/posts/{id}"): row(401, 200, 403, 403, 403, 403, 403),
    ("GET", "/api/v1/posts/{id}/comments"): same(200),
    ("POST", "/api/v1/posts/{id}/comments"): same(201),
    ("DELETE", "/api/v1/posts/{id}/like"): same(200),
    ("POST", "/api/v1/posts/{id}/like"): same(200),
    ("POST", "/api/v1/posts/{id}/moderate"): row(401, 403, 403, 403, 403, 200, 200),
    ("POST", "/api/v1/posts/{id}/report"): row(401, 400, 201, 201, 201, 201, 201),
    ("POST", "/api/v1/posts/{id}/share"): same(200),
    # --- reviews ---
    ("POST", "/api/v1/reviews"): row(401, 201, 404, 201, 404, 404, 404),
    # Staff read every review of any booking, blind and hidden ones marked.
    ("GET", "/api/v1/reviews/booking/{id}"): row(401, 200, 404, 200, 404, 200, 200),
    ("GET", "/api/v1/reviews/technician/{id}"): same(200, anonymous=200),
    ("GET", "/api/v1/reviews/technician/{id}/stats"): same(200, anonymous=200),
    ("DELETE", "/api/v1/reviews/{id}"): row(401, 204, 404, 404, 404, 204, 204),
    ("GET", "/api/v1/reviews/{id}"): row(404, 200, 404, 404, 404, 404, 404),
    ("PATCH", "/api/v1/reviews/{id}"): row(401, 200, 404, 404, 404, 404, 404),
    ("POST", "/api/v1/reviews/{id}/respond"): same(404),
    # --- support ---
    ("GET", "/api/v1/support/agents/me/availability"): row(401, 403, 403, 403, 403, 200, 200),
    ("PUT", "/api/v1/support/agents/me/availability"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/support/stats"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/support/tickets"): same(200),
    ("POST", "/api/v1/support/tickets"): same(201),
    ("GET", "/api/v1/support/tickets/{id}"): row(401, 200, 404, 404, 404, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/assign"): row(401, 403, 403, 403, 403, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/chat"): row(401, 200, 404, 404, 404, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/close"): row(401, 200, 404, 404, 404, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/escalate"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/support/tickets/{id}/messages"): row(401, 200, 404, 404, 404, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/messages"): row(401, 201, 404, 404, 404, 201, 201),
    ("POST", "/api/v1/support/tickets/{id}/priority"): row(401, 403, 403, 403, 403, 200, 200),
    ("POST", "/api/v1/support/tickets/{id}/rate"): row(401, 409, 404, 404, 404, 403, 403),
    ("POST", "/api/v1/support/tickets/{id}/reopen"): row(401, 409, 404, 404, 404, 409, 409),
    ("POST", "/api/v1/support/tickets/{id}/status"): row(401, 403, 403, 403, 403, 200, 200),
    # --- technicians ---
    ("GET", "/api/v1/technicians/{id}"): same(200, anonymous=200),
    # --- users ---
    ("GET", "/api/v1/users"): row(401, 403, 403, 403, 403, 200, 200),
    ("GET", "/api/v1/users/me/availability"): row(401, 403, 403, 200, 200, 403, 403),
    ("PUT", "/api/v1/users/me/availability"): row(401, 403, 403, 200, 200, 403, 403),
    # Technicians only, their own enrolment (no id in the path); the personas' phones are unverified: 409.
    ("GET", "/api/v1/users/me/feature-phone"): row(401, 403, 403, 200, 200, 403, 403),
    ("PUT", "/api/v1/users/me/feature-phone"): row(401, 403, 403, 409, 409, 403, 403),
    ("DELETE", "/api/v1/users/me/feature-phone"): row(401, 403, 403, 204, 204, 403, 403),
    ("POST", "/api/v1/users/me/kyc"): row(401, 403, 403, 409, 409, 403, 403),
    ("GET", "/api/v1/users/me/portfolio"): row(401, 403, 403, 200, 200, 403, 403),
    ("POST", "/api/v1/users/me/portfolio"): row(401, 403, 403, 201, 201, 403, 403),
    # Another technician naming the persona's item: it is not one of theirs (400, nothing said about it).
    ("POST", "/api/v1/users/me/portfolio/reorder"): row(401, 403, 403, 200, 400, 403, 403),
    ("DELETE", "/api/v1/users/me/portfolio/{id}"): row(401, 403, 403, 204, 404, 403, 403),
    ("GET", "/api/v1/users/me/portfolio/{id}"): row(401, 403, 403, 200, 404, 403, 403),
    ("PATCH", "/api/v1/users/me/portfolio/{id}"): row(401, 403, 403, 200, 404, 403, 403),
    ("PUT", "/api/v1/users/me/technician-profile"): row(401, 403, 403, 200, 200, 403, 403),
    ("GET", "/api/v1/users/technicians/search"): same(200, anonymous=200),
    ("DELETE", "/api/v1/users/{id}"): row(401, 204, 404, 404, 404, 403, 204),
    ("GET", "/api/v1/users/{id}"): row(401, 200, 404, 404, 404, 200, 200),
    ("PATCH", "/api/v1/users/{id}"): row(401, 200, 404, 404, 404, 403, 200),
    ("PUT", "/api/v1/users/{id}"): row(401, 200, 404, 404, 404, 403, 200),
    ("GET", "/api/v1/users/{id}/availability"): same(200),
    ("POST", "/api/v1/users/{id}/kyc/review"): row(401, 403, 403, 403, 403, 409, 409),
    # --- root ---
    ("GET", "/health"): same(200, anonymous=200),
}

_RECORD = os.environ.get("DW_AUTHZ_RECORD")


def _cases():
    for (method, path), expected in sorted(MATRIX.items()):
        for role in ROLES:
            marks = []
            bug = KNOWN_BUGS.get((method, path, role))
            if bug:
                marks.append(pytest.mark.xfail(strict=True, reason=bug))
            yield pytest.param(
                method, path, role, expected[role], id=f"{method} {path} {role}", marks=marks
            )


def _record_cases():
    for method, path in sorted(schema_operations()):
        if (method, path) in EXCLUDED:
            continue
        for role in ROLES:
            yield pytest.param(method, path, role, None, id=f"{method} {path} {role}")


def test_matrix_covers_every_operation():
    documented = schema_operations() - set(EXCLUDED)
    missing = sorted(documented - set(MATRIX))
    stale = sorted(set(MATRIX) - documented)
    assert not missing, f"endpoints without an authorization row: {missing}"
    assert not stale, f"rows for endpoints that no longer exist: {stale}"
    assert all(set(r) == set(ROLES) for r in MATRIX.values())


@pytest.mark.parametrize(
    ("method", "path", "role", "expected"), list(_record_cases() if _RECORD else _cases())
)
def test_endpoint_access(request, world, method, path, role, expected):
    if "/stripe/" in path:
        request.getfixturevalue("fake_stripe")
    response = call(world, role, method, path)
    if _RECORD:
        with open(_RECORD, "a") as fh:
            body = response.content[:300].decode(errors="replace")
            fh.write(json.dumps([method, path, role, response.status_code, body]) + "\n")
        return
    assert response.status_code == expected, (
        f"{role} {method} {path}: expected {expected}, got {response.status_code} "
        f"{response.content[:300]!r}"
    )
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"code", "message"}


# --- lists: object-level access holds in collections and filters too ------------------------------------------

# list URL (with filters aimed at the world's objects) → callable(world) giving the id that outsiders must not
# find in `results`.
LIST_LEAKS = {
    "/api/v1/bookings": lambda w: ({}, w.booking.pk),
    "/api/v1/bookings?status=pending": lambda w: ({}, w.booking.pk),
    "/api/v1/bookings?available=true": lambda w: ({}, w.booking.pk),
    "/api/v1/bookings/disputes": lambda w: ({}, w.dispute.pk),
    "/api/v1/conversations": lambda w: ({}, w.conversation.pk),
    "/api/v1/payments/transactions": lambda w: ({}, w.payment.pk),
    "/api/v1/payments/transactions?booking={booking}": lambda w: (
        {"booking": w.confirmed_booking.pk},
        w.payment.pk,
    ),
    "/api/v1/support/tickets": lambda w: ({}, w.ticket.pk),
    "/api/v1/notifications": lambda w: ({}, w.notification.pk),
    "/api/v1/matching/my-matches": lambda w: ({}, w.match.pk),
    "/api/v1/payments/payouts/my-payouts": lambda w: ({}, w.payout.pk),
}


@pytest.mark.parametrize("url", sorted(LIST_LEAKS))
@pytest.mark.parametrize("role", ["other_customer", "other_technician"])
def test_lists_do_not_leak_other_users_objects(world, url, role):
    params, hidden_id = LIST_LEAKS[url](world)
    response = world.client(role).get(url.format(**params))
    if response.status_code in (403, 404):
        return  # the role may not use this list at all
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    # Transactions mix payments and payouts (ids of different tables): compare payments only.
    leaked = [r for r in rows if r.get("id") == hidden_id and r.get("type") in (None, "payment")]
    assert not leaked, f"{role} sees {url} row {hidden_id}"


# Who finds the hidden row in each list: the customer owns the world's objects, the technician persona is paid
# its payout. `available=true` lists unassigned jobs, so the world's (assigned) booking is never in it.
LIST_OWNERS = {
    **{url: "customer" for url in LIST_LEAKS if "available" not in url},
    "/api/v1/payments/payouts/my-payouts": "technician",
}


@pytest.mark.parametrize("url", sorted(LIST_OWNERS))
def test_lists_show_the_owner_its_objects(world, url):
    """The leak test above would pass vacuously if the lists were empty for everyone."""
    params, visible_id = LIST_LEAKS[url](world)
    response = world.client(LIST_OWNERS[url]).get(url.format(**params))
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert visible_id in {row.get("id") for row in rows}
