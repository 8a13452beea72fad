"""Play a feature-phone technician from the terminal: type what the technician would text, see the reply.

    python manage.py featurephone_simulator --phone +254733000222            # in-process
    python manage.py featurephone_simulator --phone +254733000222 --url http://127.0.0.1:8000 --token ...
    python manage.py featurephone_simulator --phone +254733000222 --text "YES 4821"   # one message

Each message is built in Africa's Talking's inbound format (`featurephone/africastalking.py`). In-process it
goes through the same service the webhook calls (`inbound_sms_record`); with `--url` it is posted to a running
server's `/api/v1/sms/inbound`. The reply shown is what the technician would receive by SMS.
"""

from __future__ import annotations

import requests
from django.core.management.base import BaseCommand, CommandError

from featurephone.africastalking import inbound_sms_form
from featurephone.models import InboundSms
from featurephone.services import inbound_sms_record


class Command(BaseCommand):
    help = "Play a feature-phone technician: send SMS answers (YES 4821 / NO 4821) and read the replies."

    def add_arguments(self, parser):
        parser.add_argument(
            "--phone", required=True, help="The technician's phone, e.g. +254733000222"
        )
        parser.add_argument("--text", help="Send this one message and exit (default: interactive)")
        parser.add_argument(
            "--url", help="Post to this running server instead of calling in-process"
        )
        parser.add_argument(
            "--token", default="dev-callback-token", help="AFRICASTALKING_CALLBACK_TOKEN"
        )

    def handle(self, *args, phone, text=None, url=None, token="", **options):
        if text is not None:
            self._send(phone, text, url, token)
            return
        self.stdout.write(
            "Type the technician's SMS (e.g. YES 4821); an empty line or Ctrl-D quits."
        )
        while True:
            try:
                line = input("sms> ")
            except EOFError:
                break
            if not line.strip():
                break
            self._send(phone, line, url, token)

    def _send(self, phone: str, text: str, url: str | None, token: str) -> None:
        form = inbound_sms_form(phone=phone, text=text)
        if url:
            try:
                response = requests.post(
                    f"{url.rstrip('/')}/api/v1/sms/inbound",
                    params={"token": token},
                    data=form,
                    timeout=10,
                )
            except requests.RequestException as exc:
                raise CommandError(f"Could not reach {url}: {exc}") from exc
            self.stdout.write(f"[{response.status_code}] {response.text}")
            # The reply text itself goes out by SMS from the server (console backend: its log).
            return
        inbound_sms_record(
            provider_message_id=form["id"], phone_number=phone, text=text, to=form["to"]
        )
        row = InboundSms.objects.get(provider_message_id=form["id"])
        self.stdout.write(
            f"({row.outcome}) {row.reply or '[no reply: not a technician with that verified phone]'}"
        )
