"""`Cache-Control: no-store` (and `Pragma: no-cache` for HTTP/1.0 caches) on API responses that may carry
tokens or personal data, so no browser, proxy or CDN keeps a copy.

That is every `/api/` response to a request that authenticated (an Authorization header, the only way the API
authenticates, or a user DRF authenticated by other means), and every `/api/` response to a method other than
GET, HEAD and OPTIONS, which covers the public endpoints that hand out tokens (login, 2FA, refresh,
register: all POSTs) without listing them. Anonymous reads (categories, public profiles) stay cacheable.
It runs after the view, so it also covers responses served from the rendered cache (GET /auth/me).
"""

from django.utils.functional import SimpleLazyObject

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _authenticated(request) -> bool:
    if "HTTP_AUTHORIZATION" in request.META:
        return True
    # DRF puts the user it authenticated on the Django request; until then this is the lazy session user,
    # which the API never authenticates with and which would cost a session read to evaluate.
    user = getattr(request, "user", None)
    return (
        user is not None
        and not isinstance(user, SimpleLazyObject)
        and bool(getattr(user, "is_authenticated", False))
    )


class PrivateApiResponsesMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith("/api/") and (
            request.method not in SAFE_METHODS or _authenticated(request)
        ):
            response["Cache-Control"] = "no-store"
            response["Pragma"] = "no-cache"
        return response
