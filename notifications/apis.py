"""HTTP endpoints for chat and notifications (thin: parse → one service/selector → render)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from bookings.models import Booking
from dumuwaks.core.filtering import FilterSetInSelector
from dumuwaks.core.openapi import error_responses
from dumuwaks.core.pagination import CreatedCursorPagination, StandardPagination
from notifications import selectors
from notifications.errors import BookingNotFound, ConversationNotFound, UserNotFound
from notifications.filters import ConversationFilter, NotificationFilter
from notifications.models import Conversation, Message, Notification
from notifications.preferences import preference_matrix
from notifications.serializers import (
    ChatMessageOutputSerializer,
    ConversationCreateInputSerializer,
    ConversationOutputSerializer,
    ConversationReadInputSerializer,
    ConversationReadOutputSerializer,
    DeviceDeleteInputSerializer,
    DeviceOutputSerializer,
    DeviceRegisterInputSerializer,
    MessageCreateInputSerializer,
    MessageListQuerySerializer,
    MessageUpdateInputSerializer,
    NotificationOutputSerializer,
    NotificationPreferencesSerializer,
    NotificationReadAllOutputSerializer,
)
from notifications.services import chat as chat_services
from notifications.services import notifications as notification_services

CHAT_TAGS = ["chat"]
NOTIFICATION_TAGS = ["notifications"]


def _conversation_output(request, conversation_id: int, *, status_code=status.HTTP_200_OK):
    conversation = selectors.conversation_detail(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise ConversationNotFound()
    return Response(ConversationOutputSerializer(conversation).data, status=status_code)


class ConversationListCreateApi(GenericAPIView):
    # The selector applies ConversationFilter; ordering is fixed by the selector.
    filter_backends = [FilterSetInSelector]
    filterset_class = ConversationFilter
    queryset = Conversation.objects.none()  # for the schema; the selector scopes every request
    pagination_class = StandardPagination
    serializer_class = ConversationOutputSerializer

    @extend_schema(
        tags=CHAT_TAGS,
        summary="My conversations, latest activity first, with last message and unread count",
        responses={200: ConversationOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request):
        page = self.paginate_queryset(
            selectors.conversation_list(user=request.user, filters=request.query_params)
        )
        selectors.conversations_attach_last_messages(page)
        return self.get_paginated_response(ConversationOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=CHAT_TAGS,
        summary="Open (get or create) the conversation for a booking or with a user",
        request=ConversationCreateInputSerializer,
        responses={
            200: ConversationOutputSerializer,
            201: ConversationOutputSerializer,
            **error_responses(400, 401, 403, 404),
        },
    )
    def post(self, request):
        data = ConversationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "booking_id" in data.validated_data:
            booking = Booking.objects.filter(pk=data.validated_data["booking_id"]).first()
            if booking is None:
                raise BookingNotFound()
            conversation, created = chat_services.conversation_get_or_create_for_booking(
                booking=booking, user=request.user
            )
        else:
            other = User.objects.filter(pk=data.validated_data["user_id"], is_active=True).first()
            if other is None:
                raise UserNotFound()
            conversation, created = chat_services.conversation_get_or_create_direct(
                user=request.user, other=other
            )
        return _conversation_output(
            request,
            conversation.pk,
            status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class ConversationDetailApi(APIView):
    @extend_schema(
        tags=CHAT_TAGS,
        responses={200: ConversationOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, pk: int):
        return _conversation_output(request, pk)


class ConversationReadApi(APIView):
    @extend_schema(
        tags=CHAT_TAGS,
        summary="Mark the conversation read up to a message (default: the latest)",
        request=ConversationReadInputSerializer,
        responses={200: ConversationReadOutputSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request, pk: int):
        data = ConversationReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = chat_services.conversation_for_participant(
            conversation_id=pk, user=request.user
        )
        result = chat_services.conversation_mark_read(
            conversation=conversation,
            user=request.user,
            up_to_message=data.validated_data.get("message_id"),
        )
        return Response(ConversationReadOutputSerializer(result).data)


class MessageListCreateApi(GenericAPIView):
    filter_backends = ()  # ordering is fixed by the selector / cursor
    queryset = Message.objects.none()
    pagination_class = CreatedCursorPagination
    serializer_class = ChatMessageOutputSerializer

    @extend_schema(
        tags=CHAT_TAGS,
        summary="Messages of a conversation, newest first (cursor pagination)",
        parameters=[
            OpenApiParameter("conversation", int, required=True, description="Conversation id")
        ],
        responses={200: ChatMessageOutputSerializer(many=True), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        conversation = chat_services.conversation_for_participant(
            conversation_id=query.validated_data["conversation"], user=request.user
        )
        page = self.paginate_queryset(selectors.message_list(conversation_id=conversation.pk))
        return self.get_paginated_response(ChatMessageOutputSerializer(page, many=True).data)

    @extend_schema(
        tags=CHAT_TAGS,
        summary="Send a message (stored, then pushed as message.new to the conversation)",
        request=MessageCreateInputSerializer,
        responses={201: ChatMessageOutputSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request):
        data = MessageCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation = chat_services.conversation_for_participant(
            conversation_id=data.validated_data["conversation_id"], user=request.user
        )
        message = chat_services.message_send(
            conversation=conversation,
            sender=request.user,
            body=data.validated_data["body"],
            attachments=data.validated_data["attachments"],
            reply_to=data.validated_data.get("reply_to_id"),
        )
        return Response(ChatMessageOutputSerializer(message).data, status=status.HTTP_201_CREATED)


class MessageDetailApi(APIView):
    @extend_schema(
        tags=CHAT_TAGS,
        summary="Edit your own message",
        request=MessageUpdateInputSerializer,
        responses={200: ChatMessageOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, pk: int):
        data = MessageUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = chat_services.message_edit(
            message=pk, user=request.user, body=data.validated_data["body"]
        )
        return Response(ChatMessageOutputSerializer(message).data)

    @extend_schema(
        tags=CHAT_TAGS,
        summary="Delete your own message (soft: its text is removed for everyone)",
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, pk: int):
        chat_services.message_delete(message=pk, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Notifications -----------------------------------------------------------------------------------------------


class NotificationListApi(GenericAPIView):
    # The selector applies NotificationFilter; ordering is fixed by the selector.
    filter_backends = [FilterSetInSelector]
    filterset_class = NotificationFilter
    queryset = Notification.objects.none()
    pagination_class = StandardPagination
    serializer_class = NotificationOutputSerializer

    @extend_schema(
        tags=NOTIFICATION_TAGS,
        responses={200: NotificationOutputSerializer(many=True), **error_responses(400, 401)},
    )
    def get(self, request):
        qs = selectors.notification_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(NotificationOutputSerializer(page, many=True).data)


class NotificationReadApi(APIView):
    @extend_schema(
        tags=NOTIFICATION_TAGS,
        request=None,
        responses={200: NotificationOutputSerializer, **error_responses(401, 404)},
    )
    def post(self, request, pk: int):
        notification = notification_services.notification_mark_read(
            user=request.user, notification_id=pk
        )
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @extend_schema(
        tags=NOTIFICATION_TAGS,
        request=None,
        responses={200: NotificationReadAllOutputSerializer, **error_responses(401)},
    )
    def post(self, request):
        updated = notification_services.notification_mark_all_read(user=request.user)
        return Response(NotificationReadAllOutputSerializer({"updated": updated}).data)


class NotificationPreferencesApi(APIView):
    @extend_schema(
        tags=NOTIFICATION_TAGS,
        summary="Per group and channel: is this kind of notification sent this way?",
        description=(
            "Defaults: every channel on for every group, except marketing by SMS and email (opt-in)."
        ),
        responses={200: NotificationPreferencesSerializer, **error_responses(401)},
    )
    def get(self, request):
        return Response(
            NotificationPreferencesSerializer(preference_matrix(user_id=request.user.pk)).data
        )

    @extend_schema(
        tags=NOTIFICATION_TAGS,
        summary="Change preferences; groups and channels not sent keep their value",
        description=(
            'Send only what changes, e.g. `{"marketing": {"sms": true}}`. Groups are bookings,'
            " payments, messages, support, marketing and account; channels inApp, push, email and sms."
            " An unknown group or channel is refused with 400 `validation_error` whose `fields` names"
            " each unknown key (`pigeons`, `bookings.carrierPigeon`); nothing is changed then."
        ),
        request=NotificationPreferencesSerializer,
        responses={200: NotificationPreferencesSerializer, **error_responses(400, 401)},
    )
    def put(self, request):
        data = NotificationPreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        matrix = notification_services.preferences_update(
            user=request.user, changes=data.validated_data
        )
        return Response(NotificationPreferencesSerializer(matrix).data)


class DeviceApi(APIView):
    @extend_schema(
        tags=NOTIFICATION_TAGS,
        summary="Register this device for push notifications (FCM token or installation id)",
        request=DeviceRegisterInputSerializer,
        responses={
            200: DeviceOutputSerializer,
            201: DeviceOutputSerializer,
            **error_responses(400, 401),
        },
    )
    def post(self, request):
        data = DeviceRegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        device, created = notification_services.device_register(
            user=request.user, **data.validated_data
        )
        return Response(
            DeviceOutputSerializer(device).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=NOTIFICATION_TAGS,
        summary="Unregister a device (token in the JSON body)",
        request=DeviceDeleteInputSerializer,
        responses={204: None, **error_responses(400, 401, 404)},
    )
    def delete(self, request):
        data = DeviceDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        notification_services.device_delete(user=request.user, token=data.validated_data["token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class DeviceDetailApi(APIView):
    @extend_schema(
        tags=NOTIFICATION_TAGS,
        summary="Unregister a device by its token",
        operation_id="notifications_devices_delete_by_token",
        responses={204: None, **error_responses(401, 404)},
    )
    def delete(self, request, token: str):
        notification_services.device_delete(user=request.user, token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
