from django.urls import path

from notifications import apis

# Literal paths (preferences, devices, read-all) come before `<int:pk>` so they can never be captured.
urlpatterns = [
    path("conversations", apis.ConversationListCreateApi.as_view(), name="conversation-list"),
    path(
        "conversations/<int:pk>", apis.ConversationDetailApi.as_view(), name="conversation-detail"
    ),
    path(
        "conversations/<int:pk>/read", apis.ConversationReadApi.as_view(), name="conversation-read"
    ),
    path("messages", apis.MessageListCreateApi.as_view(), name="message-list"),
    path("messages/<int:pk>", apis.MessageDetailApi.as_view(), name="message-detail"),
    path("notifications", apis.NotificationListApi.as_view(), name="notification-list"),
    path(
        "notifications/preferences",
        apis.NotificationPreferencesApi.as_view(),
        name="notification-preferences",
    ),
    path(
        "notifications/read-all",
        apis.NotificationReadAllApi.as_view(),
        name="notification-read-all",
    ),
    path("notifications/devices", apis.DeviceApi.as_view(), name="notification-devices"),
    path(
        "notifications/devices/<str:token>",
        apis.DeviceDetailApi.as_view(),
        name="notification-device-detail",
    ),
    path(
        "notifications/<int:pk>/read", apis.NotificationReadApi.as_view(), name="notification-read"
    ),
]
