"""Thin HTTP layer for /api/v1/support/…: parse, call one service or selector, render."""

from drf_spectacular.utils import extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.permissions import IsStaffMember
from support import selectors, services
from support.chat import ticket_chat_open
from support.errors import InvalidAssignee
from support.filters import SupportTicketFilter
from support.serializers import (
    SupportAgentAvailabilityInputSerializer,
    SupportAgentAvailabilityOutputSerializer,
    SupportChatOutputSerializer,
    SupportStatsFilterSerializer,
    SupportStatsOutputSerializer,
    SupportTicketAssignInputSerializer,
    SupportTicketCloseInputSerializer,
    SupportTicketCreateInputSerializer,
    SupportTicketEscalateInputSerializer,
    SupportTicketMessageInputSerializer,
    SupportTicketMessageOutputSerializer,
    SupportTicketOutputSerializer,
    SupportTicketPriorityInputSerializer,
    SupportTicketRateInputSerializer,
    SupportTicketReopenInputSerializer,
    SupportTicketStatusInputSerializer,
)

TAGS = ["support"]


def _ticket_response(ticket, status=200):
    return Response(SupportTicketOutputSerializer(ticket).data, status=status)


class SupportTicketListCreateApi(GenericAPIView):
    # The selector applies SupportTicketFilter; pagination is the default StandardPagination.
    filter_backends = [FilterSetInSelector]
    filterset_class = SupportTicketFilter
    serializer_class = SupportTicketOutputSerializer

    @extend_schema(
        tags=TAGS,
        responses={200: SupportTicketOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request):
        qs = selectors.ticket_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SupportTicketOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=SupportTicketCreateInputSerializer,
        responses={201: SupportTicketOutputSerializer, **error_responses(400, 401)},
    )
    def post(self, request):
        data = SupportTicketCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_create(created_by=request.user, **data.validated_data)
        return _ticket_response(ticket, status=201)


class SupportTicketDetailApi(APIView):
    @extend_schema(
        tags=TAGS, responses={200: SupportTicketOutputSerializer, **error_responses(401, 404)}
    )
    def get(self, request, pk: int):
        return _ticket_response(selectors.ticket_get(user=request.user, ticket_id=pk))


class SupportTicketMessagesApi(GenericAPIView):
    filter_backends: list = []
    serializer_class = SupportTicketMessageOutputSerializer

    @extend_schema(
        tags=TAGS,
        responses={
            200: SupportTicketMessageOutputSerializer(many=True),
            **error_responses(401, 404),
        },
    )
    def get(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        qs = selectors.ticket_message_list(ticket=ticket, user=request.user)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(
            SupportTicketMessageOutputSerializer(page, many=True).data
        )

    @extend_schema(
        tags=TAGS,
        request=SupportTicketMessageInputSerializer,
        responses={
            201: SupportTicketMessageOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketMessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.ticket_message_create(
            ticket=ticket, author=request.user, **data.validated_data
        )
        return Response(SupportTicketMessageOutputSerializer(message).data, status=201)


class _StaffTicketActionApi(APIView):
    permission_classes = [IsStaffMember]


class SupportTicketAssignApi(_StaffTicketActionApi):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketAssignInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketAssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = None
        if data.validated_data.get("agent_id"):
            agent = User.objects.filter(pk=data.validated_data["agent_id"]).first()
            if agent is None:
                raise InvalidAssignee(fields={"agent_id": [InvalidAssignee.message]})
        return _ticket_response(
            services.ticket_assign(ticket=ticket, agent=agent, actor=request.user)
        )


class SupportTicketStatusApi(_StaffTicketActionApi):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketStatusInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_change_status(
            ticket=ticket,
            to=data.validated_data["status"],
            actor=request.user,
            note=data.validated_data["note"],
            resolution=data.validated_data["resolution"],
        )
        return _ticket_response(ticket)


class SupportTicketPriorityApi(_StaffTicketActionApi):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketPriorityInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketPriorityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_change_priority(
            ticket=ticket, priority=data.validated_data["priority"], actor=request.user
        )
        return _ticket_response(ticket)


class SupportTicketEscalateApi(_StaffTicketActionApi):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketEscalateInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketEscalateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_escalate(
            ticket=ticket, actor=request.user, reason=data.validated_data["reason"]
        )
        return _ticket_response(ticket)


class SupportTicketCloseApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketCloseInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketCloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_close(
            ticket=ticket, actor=request.user, resolution=data.validated_data["resolution"]
        )
        return _ticket_response(ticket)


class SupportTicketReopenApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketReopenInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketReopenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_reopen(
            ticket=ticket, actor=request.user, note=data.validated_data["reason"]
        )
        return _ticket_response(ticket)


class SupportTicketRateApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=SupportTicketRateInputSerializer,
        responses={200: SupportTicketOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        data = SupportTicketRateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = services.ticket_rate(ticket=ticket, actor=request.user, **data.validated_data)
        return _ticket_response(ticket)


class SupportTicketChatApi(APIView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: SupportChatOutputSerializer, **error_responses(401, 404)},
    )
    def post(self, request, pk: int):
        ticket = selectors.ticket_get(user=request.user, ticket_id=pk)
        conversation_id = ticket_chat_open(ticket=ticket, actor=request.user)
        return Response(
            SupportChatOutputSerializer(
                {"ticket_id": ticket.pk, "conversation_id": conversation_id}
            ).data
        )


class SupportStatsApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAGS,
        parameters=[SupportStatsFilterSerializer],
        responses={200: SupportStatsOutputSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        filters = SupportStatsFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        stats = selectors.ticket_stats(
            date_from=filters.validated_data.get("from"), date_to=filters.validated_data.get("to")
        )
        return Response(SupportStatsOutputSerializer(stats).data)


class SupportAgentAvailabilityApi(APIView):
    permission_classes = [IsStaffMember]

    @extend_schema(
        tags=TAGS,
        responses={200: SupportAgentAvailabilityOutputSerializer, **error_responses(401, 403)},
    )
    def get(self, request):
        return Response(
            SupportAgentAvailabilityOutputSerializer(
                selectors.agent_availability_get(agent=request.user)
            ).data
        )

    @extend_schema(
        tags=TAGS,
        request=SupportAgentAvailabilityInputSerializer,
        responses={200: SupportAgentAvailabilityOutputSerializer, **error_responses(400, 401, 403)},
    )
    def put(self, request):
        data = SupportAgentAvailabilityInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.agent_availability_update(agent=request.user, **data.validated_data)
        return Response(
            SupportAgentAvailabilityOutputSerializer(
                selectors.agent_availability_get(agent=request.user)
            ).data
        )
