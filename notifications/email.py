"""Templated email through Django's email backend.

A template named `welcome` is three files under `templates/email/`: `welcome.subject.txt` (one line),
`welcome.txt` (plain text) and optionally `welcome.html`. Swahili variants are `welcome.sw.subject.txt`,
`welcome.sw.txt`, `welcome.sw.html`. Every template ships every part in every language (a test walks
templates/email); should a variant still be missing, that part falls back to English and a warning is
logged. HTML templates usually extend `email/base.html`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, TemplateDoesNotExist
from django.template.loader import select_template
from django.utils import translation

logger = logging.getLogger(__name__)

PARTS = ("subject.txt", "txt", "html")


def template_name(template: str, part: str, language: str) -> str:
    """The file that holds `part` of `template` in `language` (English has no language infix)."""
    if language and language != "en":
        return f"email/{template}.{language}.{part}"
    return f"email/{template}.{part}"


def _render(template: str, part: str, context: dict, language: str) -> str:
    wanted = template_name(template, part, language)
    selected = select_template(list(dict.fromkeys([wanted, template_name(template, part, "en")])))
    if selected.template.name != wanted:
        logger.warning("email template %s missing: sent %s instead", wanted, selected.template.name)
    if part.endswith("txt"):
        # Plain text must not be HTML-escaped ("O'Brien", URLs with "&").
        return selected.template.render(Context(context, autoescape=False))
    return selected.render(context)


def render_templated_email(*, template: str, context: dict, language: str = "en"):
    """Return `(subject, text, html_or_None)`; raises TemplateDoesNotExist without subject or text."""
    full_context = {
        "site_name": "Dumu Waks",
        "client_web_url": settings.CLIENT_WEB_URL,
        "language": language,
        **context,
    }
    with translation.override(language or "en"):
        subject = " ".join(_render(template, "subject.txt", full_context, language).split())
        text = _render(template, "txt", full_context, language)
        try:
            html = _render(template, "html", full_context, language)
        except TemplateDoesNotExist:
            html = None
    return subject, text, html


def send_templated_email(
    *, to: list[str], template: str, context: dict, language: str = "en"
) -> int:
    """Render and send one message to `to`; returns the number sent (0 or 1). SMTP errors propagate."""
    recipients = [address for address in to if address]
    if not recipients:
        return 0
    subject, text, html = render_templated_email(
        template=template, context=context, language=language
    )
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message.send()
