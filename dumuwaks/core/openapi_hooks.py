"""drf-spectacular postprocessing hooks that keep the documented schema honest about what we send.

Found by tests/test_api_fuzzing.py (schemathesis response_schema_conformance).
"""

from __future__ import annotations

from dumuwaks.core.openapi import DOMAIN_TAGS


def honest_response_formats(result, generator, request, public):
    """Make response components describe what DRF actually renders; request bodies are left alone.

    - Optional URL fields (`URLField(blank=True)`: avatars, KYC documents, media secure URLs) are sent as ""
      when unset, which is not a `format: uri` string: documented as plain strings.
    - DRF's TimeField renders "07:30:00" (no UTC offset), but OpenAPI's `format: time` is RFC 3339 full-time,
      which requires one: documented with a pattern instead.
    """
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            continue
        _relax(component)
    return result


def _relax(node):
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "uri":
            del node["format"]
        elif node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            node.setdefault("pattern", r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$")
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for value in node:
            _relax(value)


def domain_tags(result, generator, request, public):
    """Declare the operations' tags in domain order with descriptions, and group them by domain."""
    result["tags"] = [
        {"name": tag, "description": description}
        for tags in DOMAIN_TAGS.values()
        for tag, description in tags
    ]
    result["x-tagGroups"] = [
        {"name": domain, "tags": [tag for tag, _ in tags]} for domain, tags in DOMAIN_TAGS.items()
    ]
    return result
