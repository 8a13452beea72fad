"""HTTP and WebSockets in one ASGI application (uvicorn; gunicorn with uvicorn-worker)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dumuwaks.settings.production")
django_asgi_app = get_asgi_application()  # must run before importing anything that touches models

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dumuwaks.core.request_limits import RequestLimitsASGIMiddleware  # noqa: E402
from dumuwaks.routing import websocket_urlpatterns  # noqa: E402
from dumuwaks.ws_auth import JWTAuthMiddlewareStack  # noqa: E402
from dumuwaks.ws_origin import TokenSocketOriginValidator, allowed_socket_origins  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Django's ASGIHandler reads each body in full before any Django middleware: the limits go first.
        "http": RequestLimitsASGIMiddleware(django_asgi_app),
        "websocket": TokenSocketOriginValidator(
            JWTAuthMiddlewareStack(URLRouter(websocket_urlpatterns)), allowed_socket_origins()
        ),
    }
)
