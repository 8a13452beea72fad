"""Every notification type on every channel in every language a user can choose, and every email/SMS
template in every language: walked from the catalogue and the template folders, not listed by hand."""

import re
import string
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.template.loader import get_template

from accounts.models import Language
from notifications import catalogue, email, sms
from notifications.email import PARTS, render_templated_email
from notifications.models import NotificationChannel
from notifications.services.delivery import EMAIL_TEMPLATE, SMS_TEMPLATE
from notifications.services.notifications import notify

LANGUAGES = Language.values
TEMPLATES_DIR = Path(settings.BASE_DIR) / "templates"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _only_placeholders(text: str) -> bool:
    return not re.sub(r"\{\w+\}", "", text).strip()


def channel_templates(*, channel: str, language: str) -> list[str]:
    """The template files a notification uses on `channel` in `language` (none for in-app and push)."""
    if channel == NotificationChannel.EMAIL:
        return [email.template_name(EMAIL_TEMPLATE, part, language) for part in PARTS]
    if channel == NotificationChannel.SMS:
        return [sms.template_name(SMS_TEMPLATE, language)]
    return []


@pytest.mark.parametrize("type_", sorted(catalogue.CATALOGUE))
@pytest.mark.parametrize("channel", NotificationChannel.values)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_type_reads_in_every_language_on_every_channel(type_, channel, language):
    entry = catalogue.CATALOGUE[type_]
    english = entry.en
    title, body = getattr(entry, language)  # a language users can pick needs its own texts
    assert title.strip() and body.strip()
    for own, reference in zip((title, body), english, strict=True):
        assert _placeholders(own) == _placeholders(reference), (type_, language, own)
        if language != "en" and not _only_placeholders(reference):
            assert own != reference, f"{type_} is not translated into {language}: {own!r}"

    # The channel's own files exist in this language (no silent fallback to English) ...
    for name in channel_templates(channel=channel, language=language):
        assert get_template(name).template.name == name
    # ... and carry the type's words, in a document that says which language it is in.
    words = {"first_name": "Akinyi", "title": title, "body": body, "group": entry.group}
    if channel == NotificationChannel.EMAIL:
        subject, text, html = render_templated_email(
            template=EMAIL_TEMPLATE, context=words, language=language
        )
        assert subject == title and body in text
        assert f'<html lang="{language}">' in html and title in html
    elif channel == NotificationChannel.SMS:
        assert sms.render_sms(template=SMS_TEMPLATE, context=words, language=language) == (
            f"{title}: {body}"
        )


def _template_files(folder: str) -> dict[tuple[str, str], set[str]]:
    """(name, part) -> languages present, for every template under templates/<folder>/ (layouts that
    others extend, like base.html, are not sent on their own and have no variants)."""
    found: dict[tuple[str, str], set[str]] = {}
    root = TEMPLATES_DIR / folder
    for path in root.rglob("*"):
        if path.suffix not in (".txt", ".html") or path.name.startswith("base."):
            continue
        relative = path.relative_to(root).as_posix()
        part = next(p for p in ("subject.txt", "txt", "html") if relative.endswith("." + p))
        name = relative[: -len(part) - 1]
        language = "en"
        for candidate in LANGUAGES:
            if name.endswith("." + candidate):
                name, language = name[: -len(candidate) - 1], candidate
        found.setdefault((name, part), set()).add(language)
    return found


@pytest.mark.parametrize("folder", ["email", "sms"])
def test_every_email_and_sms_template_exists_in_every_language(folder):
    files = _template_files(folder)
    assert files, f"no templates found under templates/{folder}"
    missing = sorted(
        f"{folder}/{name}{'' if lang == 'en' else '.' + lang}.{part}"
        for (name, part), languages in files.items()
        for lang in set(LANGUAGES) - languages
    )
    assert missing == []
    if folder == "email":
        names = {name for name, _ in files}
        incomplete = sorted(
            f"{name}.{part}" for name in names for part in PARTS if (name, part) not in files
        )
        assert incomplete == [], "every email has a subject, a text and an HTML part"


@pytest.mark.django_db
def test_a_kiswahili_user_gets_the_kiswahili_html_part(
    customer, technician, django_capture_on_commit_callbacks
):
    customer.preferred_language = "sw"
    customer.save(update_fields=["preferred_language"])
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            user_id=customer.pk,
            type="payment.deposit_received",
            context={"amount": "1000.00", "booking_number": "DW-2611-000042"},
        )
    (message,) = mail.outbox
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert '<html lang="sw">' in html
    assert "Habari Wanjiku" in html and "Malipo ya awali yamepokelewa" in html
    assert "Fungua Dumu Waks" in html
    assert "Hello" not in html and "Open Dumu Waks" not in html
    assert message.subject == "Malipo ya awali yamepokelewa"
