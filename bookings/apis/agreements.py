"""HTTP for booking agreements: reschedule proposals, quotes, change orders (README "Bookings: agreements").

`/bookings/{id}/reschedule-proposals`, `/bookings/{id}/quotes`, `/bookings/{id}/change-orders`: GET lists the
proposals the caller may see, POST makes one (an `Idempotency-Key` repeats return the first, 201); actions
`.../{proposalId}/accept|decline|withdraw` (change orders: `approve|reject|withdraw`). A booking the caller
may not see, or a proposal on it they may not see, is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from bookings import selectors, serializers
from bookings.apis.common import booking_visible_or_404
from bookings.errors import ProposalNotFound
from bookings.models import ProposalKind
from bookings.services import (
    change_order_create,
    proposal_accept,
    proposal_decline,
    proposal_withdraw,
    quote_create,
    reschedule_propose,
)
from dumuwaks.core.idempotency import idempotency_header, idempotency_key
from dumuwaks.core.openapi import error_responses

_IDEMPOTENCY = idempotency_header(
    "Same key (per user) → the proposal the first request made is returned (201) and nothing else happens;"
    " the key reused for another booking or kind is 409 `idempotency_key_reused`."
)
_HISTORY_EXAMPLE = [
    {
        "fromStatus": "",
        "toStatus": "open",
        "actorId": 12,
        "note": "A second leak under the bathroom sink.",
        "createdAt": "2026-12-07T10:15:00+03:00",
    }
]
_PARTY_EXAMPLE = {"id": 12, "fullName": "Kiprop Cheruiyot", "role": "technician"}
_COMMON_EXAMPLE = {
    "id": 31,
    "bookingId": 7,
    "status": "open",
    "proposedBy": _PARTY_EXAMPLE,
    "expiresAt": "2026-12-08T10:15:00+03:00",
    "decidedById": None,
    "decidedAt": None,
    "createdAt": "2026-12-07T10:15:00+03:00",
    "history": _HISTORY_EXAMPLE,
}
_EXAMPLES = {
    ProposalKind.RESCHEDULE: (
        {
            "scheduledStart": "2026-12-10T14:00:00+03:00",
            "reason": "I will be travelling on the 9th.",
        },
        {
            **_COMMON_EXAMPLE,
            "reason": "I will be travelling on the 9th.",
            "proposedStart": "2026-12-10T14:00:00+03:00",
            "proposedEnd": "2026-12-10T16:00:00+03:00",
            "previousStart": "2026-12-09T10:00:00+03:00",
            "previousEnd": "2026-12-09T12:00:00+03:00",
        },
    ),
    ProposalKind.QUOTE: (
        {"price": "6500.00", "note": "Two taps need replacing, not one; parts included."},
        {
            **_COMMON_EXAMPLE,
            "price": "6500.00",
            "priceBefore": "5000.00",
            "refundAmount": "0.00",
            "currency": "KES",
            "note": "Two taps need replacing, not one; parts included.",
        },
    ),
    ProposalKind.CHANGE_ORDER: (
        {
            "amount": "1500",
            "note": "A second leak under the bathroom sink: new trap and 1 h labour.",
            "photos": [{"publicId": "dumuwaks/jobs/leak-2"}],
        },
        {
            **_COMMON_EXAMPLE,
            "amount": "1500.00",
            "priceBefore": "5000.00",
            "priceAfter": "6500.00",
            "refundAmount": "0.00",
            "currency": "KES",
            "note": "A second leak under the bathroom sink: new trap and 1 h labour.",
            "photos": [
                {
                    "url": "https://res.cloudinary.com/dumuwaks/image/upload/leak-2.jpg",
                    "publicId": "dumuwaks/jobs/leak-2",
                    "type": "image",
                }
            ],
        },
    ),
}
_OUTPUTS = {
    ProposalKind.RESCHEDULE: serializers.BookingRescheduleProposalOutputSerializer,
    ProposalKind.QUOTE: serializers.BookingQuoteOutputSerializer,
    ProposalKind.CHANGE_ORDER: serializers.BookingChangeOrderOutputSerializer,
}
_INPUTS = {
    ProposalKind.RESCHEDULE: serializers.BookingRescheduleProposalInputSerializer,
    ProposalKind.QUOTE: serializers.BookingQuoteInputSerializer,
    ProposalKind.CHANGE_ORDER: serializers.BookingChangeOrderInputSerializer,
}
_CONFLICT_EXAMPLE = OpenApiExample(
    "Answered already",
    value={
        "code": "proposal_not_open",
        "message": "This proposal was already answered, withdrawn or replaced.",
    },
    response_only=True,
    status_codes=["409"],
)


def _proposal_for(request, booking, kind: str, proposal_id: int):
    proposal = (
        selectors.booking_proposals_visible(booking=booking, user=request.user, kind=kind)
        .filter(pk=proposal_id)
        .first()
    )
    if proposal is None:
        raise ProposalNotFound()
    return proposal


def _render(request, booking, kind: str, proposal_id: int, status_code=status.HTTP_200_OK):
    proposal = _proposal_for(request, booking, kind, proposal_id)
    return Response(_OUTPUTS[kind](proposal).data, status=status_code)


def _create(kind: str, request, booking, data: dict):
    key = idempotency_key(request)
    if kind == ProposalKind.RESCHEDULE:
        return reschedule_propose(
            booking=booking,
            actor=request.user,
            scheduled_start=data["scheduled_start"],
            duration_minutes=data.get("duration_minutes"),
            reason=data["reason"],
            idempotency_key=key,
        )
    if kind == ProposalKind.QUOTE:
        return quote_create(
            booking=booking,
            technician=request.user,
            price=data["price"],
            note=data["note"],
            idempotency_key=key,
        )
    return change_order_create(
        booking=booking,
        technician=request.user,
        amount=data["amount"],
        note=data["note"],
        photos=data.get("photos", []),
        idempotency_key=key,
    )


class _ProposalListCreateApi(GenericAPIView):
    filter_backends: list = []
    kind: str = ""

    def get(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        proposals = selectors.booking_proposals_visible(
            booking=booking, user=request.user, kind=self.kind
        )
        page = self.paginate_queryset(proposals)
        return self.get_paginated_response(_OUTPUTS[self.kind](page, many=True).data)

    def post(self, request, pk: int):
        booking = booking_visible_or_404(request, pk)
        payload = _INPUTS[self.kind](data=request.data)
        payload.is_valid(raise_exception=True)
        proposal, _created = _create(self.kind, request, booking, payload.validated_data)
        return _render(request, booking, self.kind, proposal.pk, status.HTTP_201_CREATED)


def _list_schema(kind: str, summary: str):
    return extend_schema(
        summary=summary,
        responses={200: _OUTPUTS[kind](many=True), **error_responses(404)},
    )


def _create_schema(kind: str, summary: str, description: str):
    request_example, response_example = _EXAMPLES[kind]
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[_IDEMPOTENCY],
        request=_INPUTS[kind],
        responses={201: _OUTPUTS[kind], **error_responses(400, 403, 404, 409)},
        examples=[
            OpenApiExample("Request", value=request_example, request_only=True),
            OpenApiExample(
                "Proposal made", value=response_example, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "Not allowed now",
                value={
                    "code": "proposal_not_allowed",
                    "message": "This booking cannot take this proposal now.",
                },
                response_only=True,
                status_codes=["409"],
            ),
        ],
    )


class BookingRescheduleProposalListCreateApi(_ProposalListCreateApi):
    kind = ProposalKind.RESCHEDULE
    serializer_class = serializers.BookingRescheduleProposalOutputSerializer

    @_list_schema(kind, "Reschedule proposals of a booking, newest first")
    def get(self, request, pk: int):
        return super().get(request, pk)

    @_create_schema(
        kind,
        "Propose a new time for an accepted booking",
        "The customer or the assigned technician proposes a new slot (same length unless "
        "`durationMinutes`) with a reason; the other party accepts or declines before `expiresAt` "
        "(24 h, at the latest the booking's current start or the proposed one). Nothing moves until "
        "then. A new proposal replaces the open one (`superseded`). 409 `proposal_not_allowed` unless "
        "the booking is accepted, `slot_taken` when the technician has another booking then; 403 "
        "`not_proposal_counterparty` for anyone but the two parties.",
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingQuoteListCreateApi(_ProposalListCreateApi):
    kind = ProposalKind.QUOTE
    serializer_class = serializers.BookingQuoteOutputSerializer

    @_list_schema(kind, "Quotes made for a booking (a technician sees their own)")
    def get(self, request, pk: int):
        return super().get(request, pk)

    @_create_schema(
        kind,
        "Technician answers a request with a price",
        "Instead of accepting at the asked price, the assigned technician (or, for an open job, any "
        "technician who may take it) quotes a price with a note; the customer accepts or declines "
        "before `expiresAt` (24 h, at the latest the booking's start). A new quote by the same "
        "technician replaces their open one. 409 `proposal_not_allowed` unless the booking is pending "
        "(and not assigned to someone else); 403 `technicians_only`.",
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class BookingChangeOrderListCreateApi(_ProposalListCreateApi):
    kind = ProposalKind.CHANGE_ORDER
    serializer_class = serializers.BookingChangeOrderOutputSerializer

    @_list_schema(kind, "Change orders of a booking, newest first")
    def get(self, request, pk: int):
        return super().get(request, pk)

    @_create_schema(
        kind,
        "Technician proposes a price change during the work",
        "The assigned technician of an accepted, en-route or in-progress booking proposes a signed "
        "change in whole shillings (extra parts or labour; negative lowers the price) with a note and "
        "up to 10 photos (their own uploads); the customer approves or rejects before `expiresAt` "
        "(24 h). The new price stays at least KES 100 (400 naming `amount`). A new change order "
        "replaces the open one.",
    )
    def post(self, request, pk: int):
        return super().post(request, pk)


class _ProposalActionApi(APIView):
    kind: str = ""
    action: str = ""  # accept | decline | withdraw

    def post(self, request, pk: int, proposal_id: int):
        booking = booking_visible_or_404(request, pk)
        _proposal_for(request, booking, self.kind, proposal_id)
        payload = serializers.BookingProposalAnswerInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        common = {"booking": booking, "proposal_id": proposal_id, "kind": self.kind}
        if self.action == "accept":
            proposal_accept(actor=request.user, **common)
        elif self.action == "decline":
            proposal_decline(actor=request.user, note=payload.validated_data["note"], **common)
        else:
            proposal_withdraw(actor=request.user, **common)
        return _render(request, booking, self.kind, proposal_id)


def _action_schema(kind: str, summary: str, description: str):
    _request, response_example = _EXAMPLES[kind]
    return extend_schema(
        summary=summary,
        description=description,
        request=serializers.BookingProposalAnswerInputSerializer,
        responses={200: _OUTPUTS[kind], **error_responses(400, 403, 404, 409)},
        examples=[
            OpenApiExample(
                "Answered",
                value={**response_example, "status": "accepted"},
                response_only=True,
                status_codes=["200"],
            ),
            _CONFLICT_EXAMPLE,
        ],
    )


_ANSWER_RULES = (
    " Repeating the same answer returns the proposal unchanged (200); any other step on an answered "
    "proposal is 409 `proposal_not_open`; past `expiresAt` (or once the booking moved on) it is marked "
    "expired and 409 `proposal_expired`."
)


def _action(kind: str, action: str, summary: str, description: str) -> type[_ProposalActionApi]:
    schema = _action_schema(kind, summary, description + _ANSWER_RULES)

    class Api(_ProposalActionApi):
        @schema
        def post(self, request, pk: int, proposal_id: int):
            return super().post(request, pk, proposal_id)

    Api.kind, Api.action = kind, action
    return Api


BookingRescheduleAcceptApi = _action(
    ProposalKind.RESCHEDULE,
    "accept",
    "Accept a proposed new time: the booking moves",
    "The other party (not the proposer: 403 `not_proposal_counterparty`). 409 `slot_taken` when the "
    "technician has another booking at that time now (the proposal stays open).",
)
BookingRescheduleDeclineApi = _action(
    ProposalKind.RESCHEDULE,
    "decline",
    "Decline a proposed new time",
    "The other party; the booking keeps its time. An optional `note` says why.",
)
BookingRescheduleWithdrawApi = _action(
    ProposalKind.RESCHEDULE,
    "withdraw",
    "Withdraw my reschedule proposal",
    "The proposer only (403 `not_proposal_author`).",
)
BookingQuoteAcceptApi = _action(
    ProposalKind.QUOTE,
    "accept",
    "Customer accepts a quote: the booking proceeds at the quoted price",
    "With the deposit paid, the booking is accepted by the quoting technician at the quoted price "
    "(deposit kept, balance the rest; a quote below the paid deposit refunds the excess). Before the "
    "deposit, the booking is repriced (deposit 20 % of the quote) and assigned, and accepted when the "
    "deposit arrives; 409 `deposit_payment_open` while a deposit request for the old price is open. "
    "Other open quotes are superseded.",
)
BookingQuoteDeclineApi = _action(
    ProposalKind.QUOTE,
    "decline",
    "Customer declines a quote",
    "The booking stays as it was, open to other technicians or to acceptance at the asked price.",
)
BookingQuoteWithdrawApi = _action(
    ProposalKind.QUOTE,
    "withdraw",
    "Technician withdraws their quote",
    "The technician who quoted only (403 `not_proposal_author`).",
)
BookingChangeOrderApproveApi = _action(
    ProposalKind.CHANGE_ORDER,
    "accept",
    "Customer approves a change order: the price changes",
    "The deposit stays what was paid and the balance becomes the rest of the new price; a price below "
    "the paid deposit refunds the excess (`refundAmount`) through the refund payouts. The fee breakdown, "
    "money summary and receipts follow. 409 `proposal_outdated` if the price changed since.",
)
BookingChangeOrderRejectApi = _action(
    ProposalKind.CHANGE_ORDER,
    "decline",
    "Customer rejects a change order",
    "The price stays; an optional `note` says why.",
)
BookingChangeOrderWithdrawApi = _action(
    ProposalKind.CHANGE_ORDER,
    "withdraw",
    "Technician withdraws their change order",
    "The technician who proposed it only (403 `not_proposal_author`).",
)
