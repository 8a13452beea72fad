"""drf-spectacular postprocessing hooks that keep the documented schema honest about what we send.

Found by tests/test_api_fuzzing.py (schemathesis response_schema_conformance).
"""

from __future__ import annotations


def blank_urls_in_responses(result, generator, request, public):
    """Optional URL fields (`URLField(blank=True)`: avatars, KYC documents, media secure URLs) are sent as ""
    when unset, which is not a `format: uri` string. Responses document them as plain strings; request
    bodies keep `format: uri`, because input is still validated as a URL."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            continue
        _relax(component)
    return result


def _relax(node):
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "uri":
            del node["format"]
        for value in node.values():
            _relax(value)
    elif isinstance(node, list):
        for value in node:
            _relax(value)
