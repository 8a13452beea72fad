"""notifications.email: templates, language variants, and one delivery through a real SMTP server."""

from __future__ import annotations

import socket
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.template import TemplateDoesNotExist

from notifications.email import render_templated_email, send_templated_email

CONTEXT = {
    "first_name": "Akinyi",
    "email": "akinyi@example.co.ke",
    "token": "tok",
    "verify_url": "http://localhost:3000/verify-email/tok",
    "valid_days": 3,
}


def test_send_renders_subject_text_and_html():
    sent = send_templated_email(
        to=["akinyi@example.co.ke"], template="verify_email", context=CONTEXT
    )
    assert sent == 1
    (message,) = mail.outbox
    assert message.to == ["akinyi@example.co.ke"]
    assert message.from_email == "Dumu Waks <no-reply@dumuwaks.co.ke>"
    assert message.subject == "Confirm your email address for Dumu Waks"
    assert "Hello Akinyi," in message.body
    assert "http://localhost:3000/verify-email/tok" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert html.startswith("<!DOCTYPE html>") and "Confirm my email" in html


def test_kiswahili_is_chosen_for_every_part_html_included():
    subject, text, html = render_templated_email(
        template="password_changed",
        context={"first_name": "Akinyi", "email": "a@b.co", "changed_at": None},
        language="sw",
    )
    assert subject == "Nenosiri lako la Dumu Waks limebadilishwa"
    assert text.startswith("Habari Akinyi")
    assert '<html lang="sw">' in html and "Habari Akinyi" in html
    assert "The password of your Dumu Waks account" not in html


def test_a_missing_variant_falls_back_to_english_and_says_so(settings, tmp_path, caplog):
    folder = tmp_path / "email"
    folder.mkdir()
    (folder / "only_en.subject.txt").write_text("Hello")
    (folder / "only_en.txt").write_text("Hello {{ first_name }}")
    (folder / "only_en.sw.txt").write_text("Habari {{ first_name }}")
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}
    ]
    subject, text, html = render_templated_email(
        template="only_en", context={"first_name": "Akinyi"}, language="sw"
    )
    assert (subject, text, html) == ("Hello", "Habari Akinyi", None)
    assert "email/only_en.sw.subject.txt missing" in caplog.text


def test_unknown_template_raises():
    with pytest.raises(TemplateDoesNotExist):
        send_templated_email(to=["a@b.co"], template="no_such_template", context={})
    assert mail.outbox == []


def test_no_recipients_sends_nothing():
    assert send_templated_email(to=[""], template="verify_email", context=CONTEXT) == 0
    assert mail.outbox == []


class _Collect:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    # aiosmtpd 1.4.6 cannot start on port 0, so pick a free one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    handler = _Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield handler
    controller.stop()


def test_delivery_through_a_real_smtp_server(smtp_server):
    sent = send_templated_email(
        to=["akinyi@example.co.ke"], template="verify_email", context=CONTEXT, language="sw"
    )
    assert sent == 1
    (envelope,) = smtp_server.envelopes
    assert envelope.mail_from == "no-reply@dumuwaks.co.ke"
    assert envelope.rcpt_tos == ["akinyi@example.co.ke"]
    parsed = message_from_bytes(envelope.content, policy=default_policy)
    assert parsed["Subject"] == "Thibitisha anwani yako ya barua pepe kwa Dumu Waks"
    assert parsed["To"] == "akinyi@example.co.ke"
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(preferencelist=("plain",)).get_content()
    html = parsed.get_body(preferencelist=("html",)).get_content()
    assert "Habari Akinyi" in text and "http://localhost:3000/verify-email/tok" in text
    assert "Thibitisha barua pepe" in html
