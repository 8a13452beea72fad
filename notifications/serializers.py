"""Input and output shapes of the chat and notification endpoints (and of the WebSocket payloads, which
reuse the output serializers so both transports show the same message)."""

from collections.abc import Mapping

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dumuwaks.core.renderers import camel_key
from dumuwaks.core.serializers import ModelSerializer
from notifications.models import (
    AttachmentType,
    Conversation,
    ConversationKind,
    ConversationParticipant,
    DevicePlatform,
    DeviceTargetKind,
    DeviceToken,
    Message,
    Notification,
    NotificationChannel,
    NotificationGroup,
)
from social.serializers.media import MediaRefInputSerializer

MAX_BODY_LENGTH = 4000
MAX_ATTACHMENTS = 10


# --- Chat --------------------------------------------------------------------------------------------------------


class ChatUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    avatar_url = serializers.CharField()
    role = serializers.CharField()


class ChatAttachmentSerializer(serializers.Serializer):
    """An attachment as messages show it: the sender's upload's URL, storage id, kind and size."""

    url = serializers.URLField(max_length=500)
    public_id = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(choices=AttachmentType.choices)
    size = serializers.IntegerField(min_value=0)


class ChatMessageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    sender = ChatUserSerializer(allow_null=True)
    body = serializers.SerializerMethodField()
    attachments = serializers.SerializerMethodField()
    reply_to_id = serializers.IntegerField(allow_null=True)
    is_edited = serializers.BooleanField()
    edited_at = serializers.DateTimeField(allow_null=True)
    is_deleted = serializers.BooleanField()
    deleted_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_body(self, message: Message) -> str:
        return "" if message.is_deleted else message.body

    @extend_schema_field(ChatAttachmentSerializer(many=True))
    def get_attachments(self, message: Message) -> list:
        return [] if message.is_deleted else list(message.attachments or [])


class ChatParticipantSerializer(serializers.Serializer):
    user = ChatUserSerializer()
    last_read_at = serializers.DateTimeField(allow_null=True)
    last_read_message_id = serializers.IntegerField(allow_null=True)


class ConversationLastMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sender_id = serializers.IntegerField(allow_null=True)
    body = serializers.SerializerMethodField()
    attachment_count = serializers.SerializerMethodField()
    is_deleted = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.STR)
    def get_body(self, message: Message) -> str:
        return "" if message.is_deleted else message.body[:200]

    @extend_schema_field(OpenApiTypes.INT)
    def get_attachment_count(self, message: Message) -> int:
        return 0 if message.is_deleted else len(message.attachments or [])


class ConversationBookingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    title = serializers.CharField()
    status = serializers.CharField()


class ConversationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ConversationKind.choices)
    booking_id = serializers.IntegerField(allow_null=True)
    booking = ConversationBookingSerializer(allow_null=True)
    subject = serializers.CharField()
    created_by_id = serializers.IntegerField(allow_null=True)
    last_message_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    unread_count = serializers.IntegerField(source="my_unread_count", default=0)
    last_message = serializers.SerializerMethodField()
    participants = serializers.SerializerMethodField()

    @extend_schema_field(ConversationLastMessageSerializer(allow_null=True))
    def get_last_message(self, conversation: Conversation):
        message = getattr(conversation, "last_message", None)
        return ConversationLastMessageSerializer(message).data if message else None

    @extend_schema_field(ChatParticipantSerializer(many=True))
    def get_participants(self, conversation: Conversation):
        participants: list[ConversationParticipant] = list(conversation.participants.all())
        return ChatParticipantSerializer(participants, many=True).data


class ConversationCreateInputSerializer(serializers.Serializer):
    booking_id = serializers.IntegerField(required=False, min_value=1)
    user_id = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        if ("booking_id" in attrs) == ("user_id" in attrs):
            raise serializers.ValidationError("Send exactly one of bookingId or userId.")
        return attrs


class ConversationReadInputSerializer(serializers.Serializer):
    message_id = serializers.IntegerField(required=False, min_value=1)


class ConversationReadOutputSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    last_read_message_id = serializers.IntegerField(allow_null=True)
    last_read_at = serializers.DateTimeField(allow_null=True)
    unread_count = serializers.IntegerField()
    message_ids = serializers.ListField(child=serializers.IntegerField())


class MessageListQuerySerializer(serializers.Serializer):
    conversation = serializers.IntegerField(min_value=1)


class MessageCreateInputSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField(min_value=1)
    body = serializers.CharField(
        max_length=MAX_BODY_LENGTH,
        allow_blank=True,
        required=False,
        default="",
        trim_whitespace=True,
    )
    attachments = MediaRefInputSerializer(many=True, required=False, default=list)
    reply_to_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)

    def validate_attachments(self, value):
        if len(value) > MAX_ATTACHMENTS:
            raise serializers.ValidationError(f"At most {MAX_ATTACHMENTS} attachments.")
        return value

    def validate(self, attrs):
        if not attrs.get("body") and not attrs.get("attachments"):
            raise serializers.ValidationError("A message needs a body or an attachment.")
        return attrs


class MessageUpdateInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY_LENGTH, trim_whitespace=True)


# --- Notifications -----------------------------------------------------------------------------------------------


class NotificationOutputSerializer(ModelSerializer):
    class Meta:
        model = Notification
        fields = [
            "id",
            "type",
            "group",
            "title",
            "body",
            "data",
            "is_read",
            "read_at",
            "created_at",
        ]
        read_only_fields = fields


class NotificationReadAllOutputSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class _ClosedObject:
    """A JSON object whose keys are exactly the declared fields: an unknown key is refused by name (a
    misspelt preference that answered 200 and changed nothing looked saved). `what` names the keys in
    the error ("channel", "notification group")."""

    what = "key"

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            return super().to_internal_value(data)  # DRF's own "expected a dictionary"
        known = ", ".join(camel_key(name) for name in self.fields)
        message = f"Unknown {self.what}; expected one of: {known}."
        errors = {key: [message] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(
                {key: item for key, item in data.items() if key in self.fields}
            )
        except serializers.ValidationError as exc:  # name unknown keys and bad values at once
            if not errors:
                raise
            errors.update(exc.detail)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class NotificationChannelPreferencesSerializer(_ClosedObject, serializers.Serializer):
    """{channel: enabled} for one notification group; an unknown channel is a 400 naming it."""

    what = "channel"

    in_app = serializers.BooleanField(required=False)
    push = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)


class NotificationPreferencesSerializer(_ClosedObject, serializers.Serializer):
    """{group: {channel: enabled}}. On PUT every key is optional: what is sent is changed, the rest kept;
    a group or channel that does not exist is a 400 naming it."""

    what = "notification group"

    bookings = NotificationChannelPreferencesSerializer(required=False)
    payments = NotificationChannelPreferencesSerializer(required=False)
    messages = NotificationChannelPreferencesSerializer(required=False)
    support = NotificationChannelPreferencesSerializer(required=False)
    marketing = NotificationChannelPreferencesSerializer(required=False)
    account = NotificationChannelPreferencesSerializer(required=False)


class _ClosedObjectSchema(OpenApiSerializerExtension):
    """Documents the closed objects above with `additionalProperties: false`."""

    def map_serializer(self, auto_schema, direction):
        return {**super().map_serializer(auto_schema, direction), "additionalProperties": False}


class _ChannelPreferencesSchema(_ClosedObjectSchema):
    target_class = NotificationChannelPreferencesSerializer


class _PreferencesSchema(_ClosedObjectSchema):
    target_class = NotificationPreferencesSerializer


assert set(NotificationPreferencesSerializer._declared_fields) == set(NotificationGroup.values)
assert set(NotificationChannelPreferencesSerializer._declared_fields) == set(
    NotificationChannel.values
)


class DeviceRegisterInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)
    platform = serializers.ChoiceField(choices=DevicePlatform.choices)
    kind = serializers.ChoiceField(
        choices=DeviceTargetKind.choices, required=False, default=DeviceTargetKind.TOKEN
    )


class DeviceDeleteInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)


class DeviceOutputSerializer(ModelSerializer):
    class Meta:
        model = DeviceToken
        fields = ["id", "token", "kind", "platform", "last_seen", "created_at"]
        read_only_fields = fields
