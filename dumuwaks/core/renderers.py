"""camelCase JSON output, with the key conversion computed once per distinct key.

Same result as djangorestframework-camel-case's renderer (its regex, applied per key), but that
renderer re-runs the regex for every key of every object; on a page of 20 bookings that was about a
third of the request's CPU. Keys are a small fixed vocabulary, so a cache makes it a dict lookup.
"""

from functools import lru_cache

from django.utils.encoding import force_str
from django.utils.functional import Promise
from djangorestframework_camel_case.util import camelize_re, underscore_to_camel
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

_SCALARS = (str, int, float, bool, type(None))


@lru_cache(maxsize=8192)
def camel_key(key: str) -> str:
    return camelize_re.sub(underscore_to_camel, key) if "_" in key else key


def camelize(data):
    if isinstance(data, _SCALARS):
        return data
    if isinstance(data, dict):
        result = {}
        for key, value in data.items():
            if isinstance(key, Promise):
                key = force_str(key)
            result[camel_key(key) if isinstance(key, str) else key] = camelize(value)
        return result
    if isinstance(data, list | tuple):
        return [camelize(item) for item in data]
    if isinstance(data, Promise):
        return force_str(data)
    return data


class PreRendered:
    """One object already rendered by `CamelCaseJSONRenderer` (e.g. kept in a cache): sent as it is."""

    def __init__(self, body: bytes):
        self.body = body


class PreRenderedPage:
    """A paginated body whose items are already rendered by `CamelCaseJSONRenderer` (e.g. kept in a cache).

    `envelope` holds `count`, `next` and `previous`; the renderer writes it and splices `items` in as
    `results`, so the body is the same as rendering the whole page at once.
    """

    def __init__(self, envelope: dict, items: list[bytes]):
        self.envelope = envelope
        self.items = items


# A string no JSON payload here contains, rendered where the pre-rendered items go.
_ITEMS_PLACEHOLDER = "\x00pre-rendered items\x00"


class CamelCaseJSONRenderer(JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, PreRendered):
            return data.body
        if isinstance(data, PreRenderedPage):
            envelope = {**data.envelope, "results": _ITEMS_PLACEHOLDER}
            body = super().render(camelize(envelope), accepted_media_type, renderer_context)
            placeholder = super().render(_ITEMS_PLACEHOLDER)
            return body.replace(placeholder, b"[" + b",".join(data.items) + b"]", 1)
        return super().render(camelize(data), accepted_media_type, renderer_context)


class PDFRenderer(BaseRenderer):
    """Lets a view that answers with a PDF accept `Accept: application/pdf` (DRF refused it with 406).

    The view returns the PDF itself (an HttpResponse); this renderer only takes part in content negotiation
    and passes bytes through. Error bodies stay JSON: see `JSONErrorsMixin`.
    """

    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | bytearray):
            return bytes(data)
        return CamelCaseJSONRenderer().render(data, renderer_context=renderer_context)


class JSONErrorsMixin:
    """For views with a binary renderer: an error (any DRF Response the view did not build as a file) is
    rendered as the usual JSON error body with `Content-Type: application/json`, whatever was accepted."""

    def finalize_response(self, request, response, *args, **kwargs):
        renderer = getattr(request, "accepted_renderer", None)
        if isinstance(response, Response) and renderer is not None and renderer.format != "json":
            request.accepted_renderer = CamelCaseJSONRenderer()
            request.accepted_media_type = CamelCaseJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)
