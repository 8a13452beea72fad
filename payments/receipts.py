"""PDF receipts: text from templates/receipts/, laid out with reportlab.

A payment receipt says where the booking's money stands when it is printed, from the ledger
(`payments.selectors.transactions.booking_money_movements`): held in escrow, released to the technician (and the platform
fee), refunded or being refunded to the customer. Never a promise that no longer holds (the money "is held in
escrow" after it was released).
"""

from __future__ import annotations

from io import BytesIO

from django.template.loader import render_to_string
from django.utils import timezone
from reportlab.lib.pagesizes import A5
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from dumuwaks.core.phone import mask_phone
from payments import errors
from payments.models import (
    Payment,
    PaymentPurpose,
    PaymentStatus,
    Payout,
    PayoutKind,
    PayoutStatus,
)
from payments.selectors.transactions import booking_money_movements


class ReceiptNotAvailable(errors.PaymentNotDue):
    code = "receipt_not_available"
    message = "A receipt is available once the money has moved."


def receipt_text(record: Payment | Payout) -> tuple[str, str]:
    """(text, filename) for a succeeded payment or a paid payout."""
    if isinstance(record, Payment):
        if record.status != PaymentStatus.SUCCEEDED:
            raise ReceiptNotAvailable()
        number = record.mpesa_receipt or f"DW-PAY-{record.pk}"
        text = render_to_string(
            "receipts/payment_receipt.txt",
            {
                "receipt_number": number,
                "date": timezone.localtime(record.completed_at or record.updated_at),
                "booking": record.booking,
                "payer_name": record.payer.get_full_name(),
                "purpose": record.get_purpose_display(),
                "method": record.get_method_display(),
                "reference": record.mpesa_receipt or record.stripe_payment_intent_id or "",
                "amount": record.amount,
                "currency": record.currency,
                "status": record.get_status_display(),
                "is_tip": record.purpose == PaymentPurpose.TIP,
                "outcome": payment_outcome_lines(record),
            },
        )
        return text, f"receipt-{number}.pdf"
    if record.status != PayoutStatus.PAID:
        raise ReceiptNotAvailable()
    number = record.receipt or f"DW-PO-{record.pk}"
    text = render_to_string(
        "receipts/payout_receipt.txt",
        {
            "title": _PAYOUT_TITLES.get(record.kind, "Payout receipt"),
            "receipt_number": number,
            "date": timezone.localtime(record.paid_at or record.updated_at),
            "booking": record.booking,
            "recipient_name": record.recipient.get_full_name(),
            "phone": mask_phone(record.phone),
            "channel": record.get_channel_display(),
            "reference": record.receipt,
            "amount": record.amount,
            "currency": record.currency,
            "status": record.get_status_display(),
        },
    )
    return text, f"receipt-{number}.pdf"


_PAYOUT_TITLES = {PayoutKind.REFUND: "Refund receipt", PayoutKind.TIP: "Tip payout receipt"}


def payment_outcome_lines(payment: Payment) -> list[str]:
    """What happened to the booking's money, one fact a line (only the facts that apply)."""
    if payment.purpose == PaymentPurpose.TIP:
        return _tip_outcome_lines(payment)
    moves = booking_money_movements(booking_id=payment.booking_id)
    currency = payment.currency
    lines = []
    if payment.pk in moves.refunded_payment_ids:
        lines.append(f"This payment is refunded to you in full ({currency} {payment.amount}).")
    if moves.held > 0:
        lines.append(
            f"Held in escrow by Dumu Waks: {currency} {moves.held}. It goes to the technician once"
            " the job is confirmed and paid in full."
        )
    if moves.released_to_technician > 0:
        lines.append(
            f"Released to the technician: {currency} {moves.released_to_technician}"
            f" (Dumu Waks fee: {currency} {moves.platform_fee})."
        )
    elif moves.platform_fee > 0:
        lines.append(f"Kept by Dumu Waks as a fee: {currency} {moves.platform_fee}.")
    if moves.refund_sent > 0:
        lines.append(f"Refunded to you: {currency} {moves.refund_sent}.")
    if moves.refund_on_its_way > 0:
        lines.append(f"Being refunded to you: {currency} {moves.refund_on_its_way}.")
    return lines


def _tip_outcome_lines(payment: Payment) -> list[str]:
    """A tip never enters escrow: 100 % is the technician's (payments/services/tips.py)."""
    currency = payment.currency
    lines = [
        f"This is a tip: 100 % of it ({currency} {payment.amount}) goes to the technician. "
        "Dumu Waks takes no fee."
    ]
    payout = payment.refunds.filter(kind=PayoutKind.TIP).first()
    if payout is None:
        return lines
    if payout.status in (PayoutStatus.DEFERRED, PayoutStatus.CARRIED):
        lines.append("It is paid to the technician with their next payout.")
    elif payout.status == PayoutStatus.PAID:
        lines.append(f"Paid out to the technician: {currency} {payout.amount}.")
    else:
        lines.append("It is being paid out to the technician.")
    return lines


# Receipt lines longer than the page is wide are wrapped (A5, 40 pt margins).
_MARGIN = 40


def render_receipt_pdf(record: Payment | Payout) -> tuple[bytes, str]:
    text, filename = receipt_text(record)
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5, invariant=1)
    pdf.setTitle(filename.removesuffix(".pdf"))
    width, height = A5
    y = height - 50
    for index, line in enumerate(text.splitlines()):
        font, size = ("Helvetica-Bold", 16) if index == 0 else ("Helvetica", 10)
        pdf.setFont(font, size)
        for part in simpleSplit(line, font, size, width - 2 * _MARGIN) or [""]:
            pdf.drawString(_MARGIN, y, part)
            y -= 22 if index == 0 else 14
    pdf.showPage()
    pdf.save()
    return buffer.getvalue(), filename
