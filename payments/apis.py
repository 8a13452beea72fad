"""Payments HTTP API (customers, technicians, staff). Provider callbacks live in callback_apis.py."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.idempotency import idempotency_header, idempotency_key
from dumuwaks.core.openapi import PAGE_NOT_FOUND_RESPONSE, PAGE_PARAMETERS, error_responses
from dumuwaks.core.pagination import StandardPagination
from dumuwaks.core.permissions import IsAdmin, IsStaffMember, IsTechnician, is_staff_member
from dumuwaks.core.renderers import CamelCaseJSONRenderer, JSONErrorsMixin, PDFRenderer
from payments import errors
from payments.filters import PayoutPendingFilter, TransactionFilter
from payments.models import FINAL_PAYMENT_STATUSES, PaymentMethod
from payments.receipts import render_receipt_pdf
from payments.rules import TIP_DEFERRED_MAX_WAIT, TIP_PAYOUT_AT_ONCE_KES
from payments.selectors import transactions as selectors
from payments.serializers import (
    BookingFeeBreakdownOutputSerializer,
    PaymentCardIntentInputSerializer,
    PaymentCardIntentOutputSerializer,
    PaymentOutputSerializer,
    PaymentRequestErrorSerializer,
    PaymentStkPushInputSerializer,
    PaymentTransactionDetailQuerySerializer,
    PaymentTransactionOutputSerializer,
    PayoutBatchProcessInputSerializer,
    PayoutBatchProcessOutputSerializer,
    PayoutConfirmNotPaidInputSerializer,
    PayoutConfirmPaidInputSerializer,
    PayoutDetailOutputSerializer,
    PayoutEarningsOutputSerializer,
    PayoutOutputSerializer,
    PayoutTotalsSerializer,
    TipInputSerializer,
    TipOutputSerializer,
)
from payments.services import card as card_services
from payments.services import payments as payment_services
from payments.services import payouts as payout_services
from payments.services import tips as tip_services

IDEMPOTENCY_HEADER = idempotency_header(
    "Same key (per user) → the same payment is returned and no second request is sent."
)


def _stk_error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=PaymentRequestErrorSerializer, description=description)


def _provider_unavailable(exc: errors.PaymentProviderUnavailable) -> Response:
    """503 with Retry-After: nothing was sent and nothing kept, the same request may simply be repeated."""
    return Response(
        {"code": exc.code, "message": exc.message},
        status=exc.status_code,
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


class PaymentStkPushApi(APIView):
    @extend_schema(
        operation_id="payments_mpesa_stk_push",
        tags=["payments"],
        parameters=[IDEMPOTENCY_HEADER],
        request=PaymentStkPushInputSerializer,
        responses={
            201: OpenApiResponse(
                PaymentOutputSerializer,
                description="The payment: `pending` (the prompt is on the phone) or `outcome_unknown` "
                "(sent, but Daraja's answer was lost: the prompt may be on the phone; it is resolved "
                "automatically, do not push again). A repeated Idempotency-Key returns the same payment.",
            ),
            400: _stk_error(
                "`validation_error`, `invalid_phone_number`, `invalid_idempotency_key`, or "
                "`phone_confirmation_required`: the number is not your own verified one (nor one that "
                "paid for you before); send it with confirmPhone: true.",
            ),
            **error_responses(401, 404),
            409: _stk_error(
                "`payment_pending`: a request for this booking and purpose is still open (it is in "
                "`payment`: id, status, phone, expiresAt); send supersede: true to cancel it and send a "
                "new prompt. Also `already_paid`, `payment_not_due`, `idempotency_key_reused`.",
            ),
            502: _stk_error(
                "`payment_provider_rejected`: M-Pesa refused the push (e.g. the number); the failed "
                "payment is in `payment`.",
            ),
            503: _stk_error(
                "`payment_provider_unavailable`: M-Pesa cannot be reached or is rate-limiting. Nothing "
                "was sent or kept; retry after `Retry-After` seconds.",
            ),
        },
        description="Send an M-Pesa STK push for a booking's deposit (default) or balance. The prompt "
        "goes to your own verified number (or a number that paid for you before); any other number "
        "needs `confirmPhone: true`. One open request per booking and purpose.",
    )
    def post(self, request):
        data = PaymentStkPushInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            payment = payment_services.payment_request_stk(
                booking_id=data.validated_data["booking_id"],
                payer=request.user,
                purpose=data.validated_data["purpose"],
                phone=data.validated_data.get("phone_number") or None,
                idempotency_key=idempotency_key(request),
                confirm_phone=data.validated_data["confirm_phone"],
                supersede=data.validated_data["supersede"],
            )
        except errors.PaymentProviderUnavailable as exc:
            return _provider_unavailable(exc)
        return Response(PaymentOutputSerializer(payment).data, status=status.HTTP_201_CREATED)


class BookingTipApi(APIView):
    @extend_schema(
        operation_id="bookings_tips_create",
        tags=["payments"],
        parameters=[IDEMPOTENCY_HEADER],
        request=TipInputSerializer,
        examples=[
            OpenApiExample("Tip KES 200", value={"amount": "200.00"}, request_only=True),
            OpenApiExample(
                "Tip prompt sent",
                value={
                    "id": 812,
                    "bookingId": 42,
                    "bookingNumber": "DW-2026-000042",
                    "purpose": "tip",
                    "method": "mpesa",
                    "amount": "200.00",
                    "currency": "KES",
                    "phone": "+254712345678",
                    "status": "pending",
                    "checkoutRequestId": "ws_CO_07122026004512345",
                    "mpesaReceipt": None,
                    "resultCode": "",
                    "resultDesc": "",
                    "expiresAt": "2026-12-07T03:50:12+03:00",
                    "completedAt": None,
                    "createdAt": "2026-12-07T03:45:12+03:00",
                    "clientSecret": None,
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Card tip KES 300", value={"amount": "300", "method": "card"}, request_only=True
            ),
            OpenApiExample(
                "Card tip checkout created",
                value={
                    "id": 813,
                    "bookingId": 42,
                    "bookingNumber": "DW-2026-000042",
                    "purpose": "tip",
                    "method": "card",
                    "amount": "300.00",
                    "currency": "KES",
                    "phone": "",
                    "status": "pending",
                    "checkoutRequestId": None,
                    "mpesaReceipt": None,
                    "resultCode": "",
                    "resultDesc": "",
                    "expiresAt": "2026-12-07T04:15:12+03:00",
                    "completedAt": None,
                    "createdAt": "2026-12-07T03:45:12+03:00",
                    "clientSecret": "pi_3Q_secret_abc",
                },
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "Amount out of range",
                value={
                    "code": "validation_error",
                    "message": "Some fields are invalid.",
                    "fields": {"amount": ["Ensure this value is greater than or equal to 10."]},
                },
                response_only=True,
                status_codes=["400"],
            ),
            OpenApiExample(
                "Job not done yet",
                value={
                    "code": "tip_not_allowed",
                    "message": "A tip can be given once the job is completed.",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
        responses={
            201: OpenApiResponse(
                TipOutputSerializer,
                description="The tip payment (purpose `tip`): `pending` (the prompt is on the phone, or "
                "the card checkout is open: confirm it with Stripe.js and `clientSecret`) or "
                "`outcome_unknown`. A repeated Idempotency-Key returns the same payment.",
            ),
            400: _stk_error(
                "`validation_error` (amount outside the documented range or with cents), "
                "`invalid_phone_number`, `invalid_idempotency_key`, or `phone_confirmation_required`.",
            ),
            **error_responses(401, 404),
            403: _stk_error(
                "`tip_only_by_customer`: you see this booking (its technician, or staff) but only its "
                "customer can tip.",
            ),
            409: _stk_error(
                "`tip_not_allowed`: the job is not completed yet; `payment_pending`: a tip for "
                "this booking is still open (in `payment`; an M-Pesa prompt can be replaced with "
                "supersede: true, a card checkout cannot); `stripe_disabled`: method `card` where Stripe "
                "is not configured; `idempotency_key_reused`.",
            ),
            502: _stk_error(
                "`payment_provider_rejected`: M-Pesa refused the push; `card_provider_error`: Stripe "
                "refused or could not be reached (the tip is kept as failed)."
            ),
            503: _stk_error(
                "`payment_provider_unavailable`: M-Pesa cannot be reached. Nothing was sent or kept; "
                "retry after `Retry-After` seconds.",
            ),
        },
        description="Tip the technician of your completed (or confirmed) booking by M-Pesa STK push, or "
        "by card (`method: card`) where Stripe is configured: the signed Stripe webhook credits a card "
        "tip. 100 % goes to the technician, no platform fee (Stripe's card fee is the platform's cost); "
        f"paid out by M-Pesa at once from KES {TIP_PAYOUT_AT_ONCE_KES}, otherwise with the "
        "technician's next payout, and on its own after "
        f"{TIP_DEFERRED_MAX_WAIT.days} days without one. Same phone rules as the deposit and balance. "
        "404 for a booking that is not yours.",
    )
    def post(self, request, pk: int):
        data = TipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["method"] == PaymentMethod.CARD:
            payment, client_secret = tip_services.tip_request_card(
                booking_id=pk,
                payer=request.user,
                amount=data.validated_data["amount"],
                idempotency_key=idempotency_key(request),
            )
            body = TipOutputSerializer(payment, context={"client_secret": client_secret}).data
            return Response(body, status=status.HTTP_201_CREATED)
        try:
            payment = tip_services.tip_request_stk(
                booking_id=pk,
                payer=request.user,
                amount=data.validated_data["amount"],
                phone=data.validated_data.get("phone_number") or None,
                idempotency_key=idempotency_key(request),
                confirm_phone=data.validated_data["confirm_phone"],
                supersede=data.validated_data["supersede"],
            )
        except errors.PaymentProviderUnavailable as exc:
            return _provider_unavailable(exc)
        return Response(TipOutputSerializer(payment).data, status=status.HTTP_201_CREATED)


class PaymentQueryApi(APIView):
    @extend_schema(
        operation_id="payments_mpesa_query",
        tags=["payments"],
        responses={200: PaymentOutputSerializer, **error_responses(401, 404)},
        description="Current status of a payment; a pending M-Pesa payment is checked with STK Query.",
    )
    def get(self, request, pk: int):
        payment = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        # Polling clients must not turn into an STK Query flood (Daraja rate-limits): one per 10 s.
        if cache.add(f"payments:stk-query:{payment.pk}", 1, timeout=10):
            payment_services.payment_query_status(payment_id=payment.pk)
            payment = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        return Response(PaymentOutputSerializer(payment).data)

    @extend_schema(
        operation_id="payments_mpesa_check_status",
        tags=["payments"],
        request=None,
        responses={200: PaymentOutputSerializer, **error_responses(401, 404, 409)},
        description="Check a payment that is not final (anything but succeeded or flagged) now: STK Query "
        "for one with a CheckoutRequestID (an expired, failed or cancelled one is credited if the answer "
        "says it was paid), suspense matching for a push whose answer was lost. Staff: any payment; the "
        "payer: their own (at most one check per 10 s). 409 `payment_final` for a final payment.",
    )
    def post(self, request, pk: int):
        payment = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        if payment.status in FINAL_PAYMENT_STATUSES:
            raise errors.PaymentFinal()
        if is_staff_member(request.user) or cache.add(
            f"payments:stk-query:{payment.pk}", 1, timeout=10
        ):
            payment_services.payment_check_status(payment_id=payment.pk, actor=request.user)
            payment = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        return Response(PaymentOutputSerializer(payment).data)


class PaymentTransactionListApi(APIView):
    pagination_class = StandardPagination  # paginated by hand below; declared so the schema says so
    filter_backends = [FilterSetInSelector]  # the selector applies TransactionFilter
    filterset_class = TransactionFilter

    @extend_schema(
        operation_id="payments_transactions_list",
        tags=["payments"],
        responses={200: PaymentTransactionOutputSerializer(many=True), **error_responses(400, 401)},
        description="Payments the caller made and payouts the caller received, newest first "
        "(staff see everyone's). Filter by type, status, kind, booking.",
    )
    def get(self, request):
        rows = selectors.transaction_list(user=request.user, filters=request.query_params)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(
            PaymentTransactionOutputSerializer(page, many=True).data
        )


class PaymentTransactionDetailApi(APIView):
    @extend_schema(
        operation_id="payments_transactions_retrieve",
        tags=["payments"],
        parameters=[PaymentTransactionDetailQuerySerializer],
        responses={200: PaymentOutputSerializer, **error_responses(400, 401, 404)},
        description="One payment (default) or, with `?type=payout`, one payout the caller may see.",
    )
    def get(self, request, pk: int):
        query = PaymentTransactionDetailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["type"] == "payout":
            payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
            return Response(PayoutOutputSerializer(payout).data)
        payment = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        return Response(PaymentOutputSerializer(payment).data)


class PaymentReceiptApi(JSONErrorsMixin, APIView):
    # `Accept: application/pdf` (or */*, or none) gets the PDF; errors are JSON whatever was accepted.
    renderer_classes = [CamelCaseJSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="payments_transactions_receipt",
        tags=["payments"],
        parameters=[PaymentTransactionDetailQuerySerializer],
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            **{
                (code, "application/json"): response
                for code, response in error_responses(400, 401, 404, 409).items()
            },
        },
        description="PDF receipt of a succeeded payment (or, with `?type=payout`, a paid payout). "
        "Send `Accept: application/pdf` (or `*/*`); errors are JSON. A payment receipt says where the "
        "booking's money is when it is printed: held in escrow, released to the technician, refunded.",
    )
    def get(self, request, pk: int):
        query = PaymentTransactionDetailQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        if query.validated_data["type"] == "payout":
            record = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        else:
            record = selectors.payment_get_for_user(payment_id=pk, user=request.user)
        pdf, filename = render_receipt_pdf(record)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class BookingFeeBreakdownApi(APIView):
    @extend_schema(
        operation_id="bookings_fee_breakdown",
        tags=["payments"],
        responses={200: BookingFeeBreakdownOutputSerializer, **error_responses(401, 404)},
        description="Price split of a booking and what was paid, held, released and refunded.",
    )
    def get(self, request, pk: int):
        data = selectors.booking_fee_breakdown(booking_id=pk, user=request.user)
        return Response(BookingFeeBreakdownOutputSerializer(data).data)


class PayoutPendingListApi(APIView):
    permission_classes = [IsAuthenticated, IsStaffMember]
    pagination_class = StandardPagination  # paginated by hand below; declared so the schema says so
    filter_backends = [FilterSetInSelector]  # the selector applies PayoutPendingFilter
    filterset_class = PayoutPendingFilter

    @extend_schema(
        operation_id="payments_payouts_pending",
        tags=["payouts"],
        responses={200: PayoutOutputSerializer(many=True), **error_responses(400, 401, 403)},
        description="Staff: payouts waiting for review (or, with `status`, in that status).",
    )
    def get(self, request):
        rows = selectors.payout_pending_list(filters=request.query_params)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(PayoutOutputSerializer(page, many=True).data)


class PayoutDetailApi(APIView):
    @extend_schema(
        operation_id="payments_payouts_retrieve",
        tags=["payouts"],
        responses={200: PayoutDetailOutputSerializer, **error_responses(401, 404)},
        description="One payout with its attempts (one B2C request each).",
    )
    def get(self, request, pk: int):
        payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        return Response(PayoutDetailOutputSerializer(payout).data)


class PayoutProcessApi(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        operation_id="payments_payouts_process",
        tags=["payouts"],
        request=None,
        responses={200: PayoutDetailOutputSerializer, **error_responses(401, 403, 404, 409)},
        description="Admins: approve a held payout, retry a failed one (new attempt) or re-check one "
        "whose outcome is unknown. A retry is refused (409 `payout_outcome_unknown`) while an earlier "
        "attempt did not fail definitively; that attempt is then checked with Transaction Status.",
    )
    def post(self, request, pk: int):
        selectors.payout_get_for_user(payout_id=pk, user=request.user)
        payout_services.payout_process(payout_id=pk, actor=request.user)
        payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        return Response(PayoutDetailOutputSerializer(payout).data)


_CHECK_STATUS_EXAMPLE = {
    "id": 17,
    "kind": "technician_payout",
    "channel": "mpesa",
    "bookingId": 42,
    "bookingNumber": "BK2026000042",
    "recipientId": 7,
    "recipientName": "Wanjiku Kamau",
    "phone": "+254712345678",
    "amount": "4250.00",
    "currency": "KES",
    "status": "needs_reconciliation",
    "statusDisplay": "Outcome unknown, being checked",
    "reviewReason": "",
    "attempt": 1,
    "receipt": "",
    "resultCode": "",
    "resultDesc": "queue timeout: The service request has timed out.",
    "overpaidAmount": "0.00",
    "carriedIntoId": None,
    "approvedById": None,
    "approvedAt": None,
    "sentAt": "2026-03-02T09:15:04+03:00",
    "paidAt": None,
    "createdAt": "2026-03-02T09:15:01+03:00",
    "attempts": [
        {
            "number": 1,
            "originatorConversationId": "DW-PO-17-1",
            "conversationId": "AG_20260302_20106e9209f64bebd05b",
            "amount": "4250.00",
            "outcome": "unknown",
            "resultCode": "",
            "resultDesc": "queue timeout: The service request has timed out.",
            "receipt": "",
            "resolvedAt": None,
            "lastCheckedAt": "2026-03-02T09:20:00+03:00",
            "createdAt": "2026-03-02T09:15:04+03:00",
        }
    ],
}


class PayoutCheckStatusApi(APIView):
    permission_classes = [IsAuthenticated, IsStaffMember]

    @extend_schema(
        operation_id="payments_payouts_check_status",
        tags=["payouts"],
        request=None,
        responses={202: PayoutDetailOutputSerializer, **error_responses(401, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Check requested (attempt 1 timed out)",
                value=_CHECK_STATUS_EXAMPLE,
                response_only=True,
                status_codes=["202"],
            ),
            OpenApiExample(
                "Final payout",
                value={
                    "code": "payout_final",
                    "message": "This payout is final (paid, cancelled or carried into a later "
                    "payout); nothing to check.",
                },
                response_only=True,
                status_codes=["409"],
            ),
            OpenApiExample(
                "Not authenticated",
                value={
                    "code": "not_authenticated",
                    "message": "Authentication credentials were not provided.",
                },
                response_only=True,
                status_codes=["401"],
            ),
            OpenApiExample(
                "Unknown payout",
                value={"code": "payout_not_found", "message": "Payout not found."},
                response_only=True,
                status_codes=["404"],
            ),
            OpenApiExample(
                "Not staff",
                value={
                    "code": "permission_denied",
                    "message": "Only support staff and administrators may do this.",
                },
                response_only=True,
                status_codes=["403"],
            ),
        ],
        description="Staff: ask M-Pesa (Transaction Status) about every attempt of this payout whose "
        "outcome is still open (sending, awaiting_result, unknown). The answers arrive at the status "
        "callback and are applied to the attempt they name. Works on any payout that is not final, "
        "including `awaiting_result`; a payout with nothing sent yet has nothing to ask (202, nothing "
        "sent). 202 with the payout as it is now; 409 `payout_final` for a paid, cancelled or carried "
        "payout none of whose attempts is open; 404 for an unknown id.",
    )
    def post(self, request, pk: int):
        selectors.payout_get_for_user(payout_id=pk, user=request.user)
        payout_services.payout_check_status(payout_id=pk, actor=request.user)
        payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        return Response(PayoutDetailOutputSerializer(payout).data, status=status.HTTP_202_ACCEPTED)


class PayoutConfirmPaidApi(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        operation_id="payments_payouts_confirm_paid",
        tags=["payouts"],
        request=PayoutConfirmPaidInputSerializer,
        responses={200: PayoutDetailOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Admins: M-Pesa never confirmed an attempt's outcome (typically an escalated payout, "
        "`escalatedAt` set) and the org portal statement shows it paid: record it with the receipt. The "
        "attempt and the payout become paid (the ledger posts the payout once). The only open attempt is "
        "meant unless `attempt` says which (400 `payout_attempt_required` when several are open). "
        "Idempotent: the same receipt again answers 200 and changes nothing. 409 `payout_attempt_final` "
        "when the attempt already ended (failed, or paid under another receipt); 409 "
        "`payout_receipt_in_use` when the receipt is on another attempt.",
    )
    def post(self, request, pk: int):
        selectors.payout_get_for_user(payout_id=pk, user=request.user)
        data = PayoutConfirmPaidInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout_services.payout_confirm_paid(
            payout_id=pk,
            receipt=data.validated_data["receipt"],
            attempt=data.validated_data.get("attempt"),
            note=data.validated_data["note"],
            actor=request.user,
        )
        payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        return Response(PayoutDetailOutputSerializer(payout).data)


class PayoutConfirmNotPaidApi(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        operation_id="payments_payouts_confirm_not_paid",
        tags=["payouts"],
        request=PayoutConfirmNotPaidInputSerializer,
        responses={200: PayoutDetailOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Admins: M-Pesa never confirmed an attempt's outcome and the org portal statement "
        "shows it was not paid: record the evidence. The attempt ends failed and the payout becomes "
        "`failed` (no money moves; it stays payable), so `process` may send a new attempt. The only open "
        "attempt is meant unless `attempt` says which (400 `payout_attempt_required`). Idempotent: "
        "repeating it answers 200 and changes nothing. 409 `payout_attempt_final` when the attempt "
        "already ended otherwise (paid, or failed by M-Pesa).",
    )
    def post(self, request, pk: int):
        selectors.payout_get_for_user(payout_id=pk, user=request.user)
        data = PayoutConfirmNotPaidInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payout_services.payout_confirm_not_paid(
            payout_id=pk,
            evidence=data.validated_data["evidence"],
            attempt=data.validated_data.get("attempt"),
            actor=request.user,
        )
        payout = selectors.payout_get_for_user(payout_id=pk, user=request.user)
        return Response(PayoutDetailOutputSerializer(payout).data)


class PayoutBatchProcessApi(APIView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(
        operation_id="payments_payouts_batch_process",
        tags=["payouts"],
        request=PayoutBatchProcessInputSerializer,
        responses={200: PayoutBatchProcessOutputSerializer, **error_responses(400, 401, 403)},
        description="Admins: process up to 100 payouts; each result says whether it worked.",
    )
    def post(self, request):
        data = PayoutBatchProcessInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        results = [
            payout_services.payout_process_one(payout_id=payout_id, actor=request.user)
            for payout_id in dict.fromkeys(data.validated_data["payout_ids"])
        ]
        return Response(PayoutBatchProcessOutputSerializer({"results": results}).data)


class PayoutMyEarningsApi(APIView):
    permission_classes = [IsAuthenticated, IsTechnician]

    @extend_schema(
        operation_id="payments_payouts_my_payouts",
        tags=["payouts"],
        parameters=PAGE_PARAMETERS,
        responses={
            200: PayoutEarningsOutputSerializer,
            **error_responses(401, 403),
            404: PAGE_NOT_FOUND_RESPONSE,
        },
        description="Technician: own payouts, newest first, with totals (paid, in progress, failed) and "
        "the payable balance not yet paid out.",
    )
    def get(self, request):
        rows = selectors.payout_list_for_recipient(user=request.user)
        paginator = StandardPagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        response = paginator.get_paginated_response(PayoutOutputSerializer(page, many=True).data)
        totals = selectors.payout_totals_for_recipient(user=request.user)
        response.data["totals"] = PayoutTotalsSerializer(totals).data
        return response


class PaymentCardIntentApi(APIView):
    @extend_schema(
        operation_id="payments_stripe_payment_intent",
        tags=["payments"],
        parameters=[IDEMPOTENCY_HEADER],
        request=PaymentCardIntentInputSerializer,
        responses={
            201: PaymentCardIntentOutputSerializer,
            **error_responses(400, 401, 404, 409, 502),
        },
        description="Pay a booking's deposit or balance by card (Stripe). Only when Stripe is configured.",
    )
    def post(self, request):
        data = PaymentCardIntentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment, client_secret = card_services.payment_create_card_intent(
            booking_id=data.validated_data["booking_id"],
            payer=request.user,
            purpose=data.validated_data["purpose"],
            idempotency_key=idempotency_key(request),
        )
        body = PaymentCardIntentOutputSerializer(
            {"payment": payment, "client_secret": client_secret}
        ).data
        return Response(body, status=status.HTTP_201_CREATED)
