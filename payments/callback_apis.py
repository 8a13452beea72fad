"""Endpoints M-Pesa and Stripe call. No JWT, no throttling; authenticated by a secret token (M-Pesa) or the
webhook signature (Stripe). Bodies are read raw: the camelCase parser would rename Daraja's PascalCase keys,
and the acknowledgement is rendered with the plain JSON renderer for the same reason."""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dumuwaks.core.client_ip import client_ip
from dumuwaks.core.errors import error_body
from dumuwaks.core.openapi import error_responses
from payments import stripe_gateway
from payments.serializers import MpesaCallbackAckSerializer
from payments.services import callbacks
from payments.services import card as card_services

logger = logging.getLogger(__name__)

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


class _ProviderView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    parser_classes: list = []
    renderer_classes = [JSONRenderer]


class _MpesaCallbackView(_ProviderView):
    def _authenticate(self, request) -> Response | None:
        token = request.query_params.get("token", "")
        expected = settings.MPESA_CALLBACK_TOKEN
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            logger.warning("M-Pesa callback with a wrong token from %s", client_ip(request))
            return Response(error_body("permission_denied", "Forbidden."), status=403)
        allowed = settings.MPESA_ALLOWED_IPS
        if allowed and client_ip(request) not in allowed:
            logger.warning("M-Pesa callback from a non-allowed address %s", client_ip(request))
            return Response(error_body("permission_denied", "Forbidden."), status=403)
        return None

    def _payload(self, request):
        try:
            return json.loads(request.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None

    def post(self, request):
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        payload = self._payload(request)
        if not isinstance(payload, dict):
            logger.warning("M-Pesa %s callback without a JSON object body", self.kind)
            return Response(ACCEPTED)  # nothing to store; an error answer only makes Daraja retry
        self.record(request, payload)
        return Response(ACCEPTED)


_CALLBACK_SCHEMA = {
    "tags": ["mpesa-callbacks"],
    "request": OpenApiTypes.OBJECT,
    "responses": {200: MpesaCallbackAckSerializer, **error_responses(403)},
    "auth": [],
}


class MpesaStkCallbackApi(_MpesaCallbackView):
    kind = "stk"

    def record(self, request, payload):
        callbacks.mpesa_stk_callback_record(payload=payload, remote_addr=client_ip(request) or None)

    @extend_schema(operation_id="payments_mpesa_callback", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


class MpesaStkTimeoutApi(_MpesaCallbackView):
    kind = "stk_timeout"

    def record(self, request, payload):
        callbacks.mpesa_stk_timeout_record(payload=payload, remote_addr=client_ip(request) or None)

    @extend_schema(operation_id="payments_mpesa_timeout", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


class MpesaB2CResultApi(_MpesaCallbackView):
    kind = "b2c_result"

    def record(self, request, payload):
        callbacks.mpesa_b2c_result_record(payload=payload, remote_addr=client_ip(request) or None)

    @extend_schema(operation_id="payments_mpesa_b2c_callback", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


class MpesaB2CTimeoutApi(_MpesaCallbackView):
    kind = "b2c_timeout"

    def record(self, request, payload):
        callbacks.mpesa_b2c_timeout_record(payload=payload, remote_addr=client_ip(request) or None)

    @extend_schema(operation_id="payments_mpesa_b2c_timeout", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


def _payout_param(request) -> int | None:
    raw = request.query_params.get("payout", "")
    return int(raw) if raw.isdigit() else None


class MpesaStatusResultApi(_MpesaCallbackView):
    kind = "status_result"

    def record(self, request, payload):
        callbacks.mpesa_status_result_record(
            payload=payload,
            payout_id=_payout_param(request),
            remote_addr=client_ip(request) or None,
        )

    @extend_schema(operation_id="payments_mpesa_status_callback", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


class MpesaStatusTimeoutApi(_MpesaCallbackView):
    kind = "status_timeout"

    def record(self, request, payload):
        callbacks.mpesa_status_timeout_record(
            payload=payload,
            payout_id=_payout_param(request),
            remote_addr=client_ip(request) or None,
        )

    @extend_schema(operation_id="payments_mpesa_status_timeout", **_CALLBACK_SCHEMA)
    def post(self, request):
        return super().post(request)


class StripeWebhookApi(_ProviderView):
    @extend_schema(
        operation_id="payments_stripe_webhook",
        tags=["stripe"],
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Received"),
            **error_responses(400),
        },
        auth=[],
    )
    def post(self, request):
        try:
            stripe_gateway.construct_webhook_event(  # verifies the signature; raises otherwise
                request.body, request.headers.get("Stripe-Signature", "")
            )
        except Exception as exc:  # bad signature, bad JSON, or Stripe not configured: all untrusted
            logger.warning("rejected Stripe webhook: %s", exc)
            return Response(error_body("invalid_signature", "Invalid webhook."), status=400)
        payload = json.loads(request.body)
        event_id = payload.get("id") if isinstance(payload, dict) else None
        event_type = payload.get("type") if isinstance(payload, dict) else None
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            # Signed by Stripe's secret but not an event we can deduplicate: refuse, store nothing.
            return Response(error_body("invalid_event", "Not a Stripe event."), status=400)
        stored = card_services.stripe_event_record(
            event_id=event_id, event_type=event_type, payload=payload
        )
        return Response({"received": True, "status": stored.status})
