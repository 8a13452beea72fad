"""Africa's Talking's inbound wire formats, built locally: what the tests and the `featurephone_simulator`
command post to our callbacks, field for field as AT sends them (application/x-www-form-urlencoded).

USSD: `sessionId`, `serviceCode`, `phoneNumber`, `networkCode`, `text`; we answer `CON ...`/`END ...`.
Inbound SMS: `from` (E.164 with +), `to` (our short code), `text`, `date` (UTC, `YYYY-MM-DD HH:MM:SS`),
`id` (AT's unique message id), `linkId` (premium/on-demand reply link; may be empty).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

DEFAULT_SHORT_CODE = "20880"


def new_message_id() -> str:
    return str(uuid.uuid4())


def inbound_sms_form(
    *,
    phone: str,
    text: str,
    message_id: str | None = None,
    short_code: str = DEFAULT_SHORT_CODE,
    link_id: str = "",
    at: datetime | None = None,
) -> dict[str, str]:
    when = (at or datetime.now(UTC)).astimezone(UTC)
    return {
        "from": phone,
        "to": short_code,
        "text": text,
        "date": when.strftime("%Y-%m-%d %H:%M:%S"),
        "id": message_id or new_message_id(),
        "linkId": link_id,
    }


def ussd_form(
    *,
    phone: str,
    text: str,
    session_id: str,
    service_code: str = "*384*4821#",
    network_code: str = "63902",
) -> dict[str, str]:
    """One USSD step as AT posts it: `text` holds every answer so far, joined by `*` ("" on the first)."""
    return {
        "sessionId": session_id,
        "serviceCode": service_code,
        "phoneNumber": phone,
        "networkCode": network_code,
        "text": text,
    }
