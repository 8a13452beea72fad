from django.urls import re_path

from notifications.consumers import RealtimeConsumer

# `ws/` is the endpoint; `ws/chat/` is kept for clients of the original API. Trailing slash optional.
websocket_urlpatterns = [
    re_path(r"^ws/?$", RealtimeConsumer.as_asgi(), name="ws-realtime"),
    re_path(r"^ws/chat/?$", RealtimeConsumer.as_asgi(), name="ws-chat"),
]
