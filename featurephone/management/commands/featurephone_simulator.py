"""Play a feature-phone technician from the terminal: text answers (SMS) or walk the USSD menu.

    python manage.py featurephone_simulator --phone +254733000222            # SMS, in-process
    python manage.py featurephone_simulator --phone +254733000222 --url http://127.0.0.1:8000 --token ...
    python manage.py featurephone_simulator --phone +254733000222 --text "YES 4821"   # one message
    python manage.py featurephone_simulator --phone +254733000222 --ussd     # dial the USSD menu
    python manage.py featurephone_simulator --phone +254733000222 --ussd --text "1*1"  # one scripted session

Every request is built in Africa's Talking's wire format (`featurephone/africastalking.py`). In-process it goes
through the same service the webhook calls (`inbound_sms_record`, `ussd_respond`); with `--url` it is posted
to a running server's `/api/v1/sms/inbound` or `/api/v1/ussd`. SMS: the reply shown is what the technician
would receive by SMS. USSD: each screen is shown as AT receives it (`CON ...` asks for a choice, `END ...`
closes the session); type the digit the technician would press, and AT's `text` (the answers so far joined
by `*`) is built for you.
"""

from __future__ import annotations

import sys
import uuid

import requests
from django.core.management.base import BaseCommand, CommandError

from featurephone.africastalking import inbound_sms_form, ussd_form
from featurephone.models import InboundSms
from featurephone.services import inbound_sms_record
from featurephone.ussd import ussd_respond

USSD_SERVICE_CODE = "*384*4821#"


class Command(BaseCommand):
    help = (
        "Play a feature-phone technician: send SMS answers (YES 4821 / NO 4821) and read the replies, or"
        " walk the USSD menu (--ussd)."
    )
    # A test passes `stdin=io.StringIO(...)` to script the typed lines.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--phone", required=True, help="The technician's phone, e.g. +254733000222"
        )
        parser.add_argument(
            "--text",
            help="SMS: send this one message and exit. USSD: play this one session (e.g. 1*1) and exit."
            " Default: interactive.",
        )
        parser.add_argument(
            "--ussd", action="store_true", help="Dial the USSD menu instead of sending SMS"
        )
        parser.add_argument(
            "--url", help="Post to this running server instead of calling in-process"
        )
        parser.add_argument(
            "--token", default="dev-callback-token", help="AFRICASTALKING_CALLBACK_TOKEN"
        )

    def handle(self, *args, phone, text=None, ussd=False, url=None, token="", **options):
        self.stdin = options.get("stdin") or sys.stdin
        if ussd:
            self._ussd(phone, text, url, token)
            return
        if text is not None:
            self._send_sms(phone, text, url, token)
            return
        self.stdout.write(
            "Type the technician's SMS (e.g. YES 4821); an empty line or Ctrl-D quits."
        )
        while True:
            line = self._read("sms> ")
            if not line:
                break
            self._send_sms(phone, line, url, token)

    def _read(self, prompt: str) -> str | None:
        """The next typed line, stripped; None at the end of input (Ctrl-D)."""
        self.stdout.write(prompt, ending="")
        self.stdout.flush()
        line = self.stdin.readline()
        return line.strip() if line else None

    # --- SMS -----------------------------------------------------------------------------------------------

    def _send_sms(self, phone: str, text: str, url: str | None, token: str) -> None:
        form = inbound_sms_form(phone=phone, text=text)
        if url:
            response = self._post(url, "/api/v1/sms/inbound", token, form)
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

    # --- USSD ----------------------------------------------------------------------------------------------

    def _ussd(self, phone: str, script: str | None, url: str | None, token: str) -> None:
        if script is not None:
            # One scripted session: every step AT would post on the way to "1*1", each screen shown.
            answers = [part for part in script.split("*") if part != ""]
            session_id = self._new_session()
            for step in range(len(answers) + 1):
                screen = self._ussd_step(phone, session_id, "*".join(answers[:step]), url, token)
                if not screen.startswith("CON "):
                    break
            return
        self.stdout.write(
            f"Dialling {USSD_SERVICE_CODE}: type the digit to press; an empty line or Ctrl-D hangs up."
        )
        while self._ussd_session(phone, url, token):
            if self._read("Session ended. Enter dials again, q quits: ") != "":
                break

    def _ussd_session(self, phone: str, url: str | None, token: str) -> bool:
        """One session, from dialling to END (True) or until the technician hangs up (False)."""
        session_id = self._new_session()
        answers: list[str] = []
        while True:
            screen = self._ussd_step(phone, session_id, "*".join(answers), url, token)
            if not screen.startswith("CON "):
                return True
            choice = self._read("ussd> ")
            if not choice:
                return False
            answers.append(choice)

    def _ussd_step(
        self, phone: str, session_id: str, text: str, url: str | None, token: str
    ) -> str:
        form = ussd_form(
            phone=phone, text=text, session_id=session_id, service_code=USSD_SERVICE_CODE
        )
        if url:
            response = self._post(url, "/api/v1/ussd", token, form)
            if response.status_code != 200:
                self.stdout.write(f"[{response.status_code}] {response.text}")
                return ""
            screen = response.text
        else:
            screen = ussd_respond(
                session_id=form["sessionId"], phone_number=form["phoneNumber"], text=form["text"]
            )
        self.stdout.write(screen)
        return screen

    @staticmethod
    def _new_session() -> str:
        return f"ATUid_{uuid.uuid4().hex}"

    @staticmethod
    def _post(url: str, path: str, token: str, form: dict) -> requests.Response:
        try:
            return requests.post(
                f"{url.rstrip('/')}{path}", params={"token": token}, data=form, timeout=10
            )
        except requests.RequestException as exc:
            raise CommandError(f"Could not reach {url}: {exc}") from exc
