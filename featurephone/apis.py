"""Feature-phone endpoints.

- A technician's own enrolment for job offers by SMS (`/users/me/feature-phone`, JWT, technicians only).
- The callbacks Africa's Talking calls. No JWT, no throttling: authenticated like the M-Pesa callbacks (a
  secret token in the URL, optionally an IP allow-list), bodies form-encoded.
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from dumuwaks.core.client_ip import client_ip
from dumuwaks.core.errors import error_body
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsTechnician
from featurephone.selectors import enrolment_state
from featurephone.serializers import SmsOfferEnrolmentInputSerializer, SmsOfferEnrolmentSerializer
from featurephone.services import (
    inbound_sms_record,
    sms_offer_enrolment_start,
    sms_offer_enrolment_stop,
)
from featurephone.ussd import ussd_respond

logger = logging.getLogger(__name__)

ENROLMENT_TAG = ["feature-phone"]


class MySmsOfferEnrolmentApi(APIView):
    """The signed-in technician's own enrolment: there is no id to name anybody else's."""

    permission_classes = [IsTechnician]

    @extend_schema(
        tags=ENROLMENT_TAG,
        operation_id="users_me_feature_phone_get",
        summary="Do my job offers come by SMS (feature phone)?",
        responses={200: SmsOfferEnrolmentSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        return Response(SmsOfferEnrolmentSerializer(enrolment_state(technician=request.user)).data)

    @extend_schema(
        tags=ENROLMENT_TAG,
        operation_id="users_me_feature_phone_enrol",
        summary="Get job offers by SMS on my verified phone (answer YES/NO <code> or by USSD)",
        description=(
            "Idempotent. Needs the account's phone number verified (409 `phone_not_verified`"
            " otherwise). From now on each job offer comes as one SMS with its answer code, in `language`"
            " (the app's own SMS for the offer is not sent as well)."
        ),
        request=SmsOfferEnrolmentInputSerializer,
        responses={
            200: SmsOfferEnrolmentSerializer,
            **error_responses(400, 401, 403, 409),
        },
    )
    def put(self, request):
        data = SmsOfferEnrolmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        sms_offer_enrolment_start(technician=request.user, **data.validated_data)
        return Response(SmsOfferEnrolmentSerializer(enrolment_state(technician=request.user)).data)

    @extend_schema(
        tags=ENROLMENT_TAG,
        operation_id="users_me_feature_phone_stop",
        summary="Stop job offers by SMS (idempotent; codes already sent still answer)",
        request=None,
        responses={204: None, **error_responses(401, 403)},
    )
    def delete(self, request):
        sms_offer_enrolment_stop(technician=request.user)
        return Response(status=204)


TOKEN_PARAMETER = OpenApiParameter(
    "token",
    str,
    location=OpenApiParameter.QUERY,
    required=True,
    description="The secret AFRICASTALKING_CALLBACK_TOKEN, set in the callback URL on the AT dashboard.",
)


class _AfricasTalkingView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    # AT posts application/x-www-form-urlencoded with its own snake/camel keys: no camelCase renaming.
    parser_classes = [FormParser]
    renderer_classes = [JSONRenderer]

    def denied(self, request) -> Response | None:
        token = request.query_params.get("token", "")
        expected = settings.AFRICASTALKING_CALLBACK_TOKEN
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            logger.warning(
                "Africa's Talking callback with a wrong token from %s", client_ip(request)
            )
            return Response(error_body("permission_denied", "Forbidden."), status=403)
        allowed = settings.AFRICASTALKING_ALLOWED_IPS
        if allowed and client_ip(request) not in allowed:
            logger.warning(
                "Africa's Talking callback from a non-allowed address %s", client_ip(request)
            )
            return Response(error_body("permission_denied", "Forbidden."), status=403)
        return None


class InboundSmsInputSerializer(serializers.Serializer):
    """Africa's Talking's inbound SMS callback fields, as posted."""

    id = serializers.CharField(max_length=100)
    # `from` is a Python keyword: declared below under its wire name.
    to = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    text = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")
    date = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    linkId = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")  # noqa: N815


InboundSmsInputSerializer._declared_fields["from"] = serializers.CharField(max_length=32)

_INBOUND_ACK = inline_serializer(
    "InboundSmsAck", {"status": serializers.ChoiceField(choices=["processed", "duplicate"])}
)


class InboundSmsApi(_AfricasTalkingView):
    @extend_schema(
        operation_id="featurephone_sms_inbound",
        tags=["africastalking-callbacks"],
        summary="Africa's Talking inbound SMS (a technician answers a job offer: YES 4821 / NO 4821)",
        description=(
            "Form-encoded as Africa's Talking posts it (`from`, `to`, `text`, `date`, `id`, `linkId`). Stored"
            " under `id`: a replay answers 200 `duplicate` and changes nothing. The answer to the technician"
            " goes out as an SMS in their language."
        ),
        parameters=[TOKEN_PARAMETER],
        request={"application/x-www-form-urlencoded": InboundSmsInputSerializer},
        responses={
            200: _INBOUND_ACK,
            **error_responses(400, 403),
        },
        auth=[],
    )
    def post(self, request):
        denied = self.denied(request)
        if denied is not None:
            return denied
        payload = InboundSmsInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        _row, created = inbound_sms_record(
            provider_message_id=data["id"],
            phone_number=data["from"],
            to=data["to"],
            text=data["text"],
            link_id=data["linkId"],
            provider_date=data["date"],
            remote_addr=client_ip(request) or None,
        )
        return Response({"status": "processed" if created else "duplicate"})


class UssdInputSerializer(serializers.Serializer):
    """Africa's Talking's USSD callback fields, as posted."""

    sessionId = serializers.CharField(max_length=100)  # noqa: N815
    serviceCode = serializers.CharField(max_length=32, required=False, allow_blank=True)  # noqa: N815
    phoneNumber = serializers.CharField(max_length=32)  # noqa: N815
    networkCode = serializers.CharField(max_length=16, required=False, allow_blank=True)  # noqa: N815
    text = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class UssdApi(_AfricasTalkingView):
    @extend_schema(
        operation_id="featurephone_ussd",
        tags=["africastalking-callbacks"],
        summary="Africa's Talking USSD step (a technician's open offers and jobs; accept, decline, en route,"
        " arrived, start, done)",
        description=(
            "Form-encoded as Africa's Talking posts it (`sessionId`, `serviceCode`, `phoneNumber`,"
            " `networkCode`, `text` = the answers so far joined by `*`). Answers `text/plain`: `CON <screen>`"
            " to continue, `END <screen>` to close. `0` on the first screen switches English/Kiswahili. The step"
            " that acts is stored under (sessionId, text): a replay answers the same screen without acting."
        ),
        parameters=[TOKEN_PARAMETER],
        request={"application/x-www-form-urlencoded": UssdInputSerializer},
        responses={(200, "text/plain"): OpenApiTypes.STR, **error_responses(400, 403)},
        auth=[],
    )
    def post(self, request):
        denied = self.denied(request)
        if denied is not None:
            return denied
        payload = UssdInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        screen = ussd_respond(
            session_id=data["sessionId"], phone_number=data["phoneNumber"], text=data["text"]
        )
        return HttpResponse(screen, content_type="text/plain; charset=utf-8")
