"""Errors the chat and notification endpoints raise (stable codes are API contract)."""

from dumuwaks.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ConversationNotFound(NotFound):
    code = "conversation_not_found"
    message = "Conversation not found."


class MessageNotFound(NotFound):
    code = "message_not_found"
    message = "Message not found."


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    message = "Notification not found."


class DeviceNotFound(NotFound):
    code = "device_not_found"
    message = "Device token not found."


class UserNotFound(NotFound):
    code = "user_not_found"
    message = "User not found."


class BookingNotFound(NotFound):
    code = "booking_not_found"
    message = "Booking not found."


class MessagingNotAllowed(Forbidden):
    code = "messaging_not_allowed"
    message = (
        "You can message this person only through a booking you share or an existing conversation."
    )


class NotMessageSender(Forbidden):
    code = "not_message_sender"
    message = "Only the sender can change or delete this message."


class MessageDeleted(Conflict):
    code = "message_deleted"
    message = "This message was deleted."


class InvalidMessage(ValidationFailed):
    code = "invalid_message"
    message = "The message is empty or malformed."
