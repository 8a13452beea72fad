"""PDF receipts: text from templates/receipts/, laid out with reportlab."""

from __future__ import annotations

from io import BytesIO

from django.template.loader import render_to_string
from django.utils import timezone
from reportlab.lib.pagesizes import A5
from reportlab.pdfgen import canvas

from dumuwaks.core.phone import mask_phone
from payments import errors
from payments.models import Payment, PaymentStatus, Payout, PayoutKind, PayoutStatus


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
            },
        )
        return text, f"receipt-{number}.pdf"
    if record.status != PayoutStatus.PAID:
        raise ReceiptNotAvailable()
    number = record.receipt or f"DW-PO-{record.pk}"
    text = render_to_string(
        "receipts/payout_receipt.txt",
        {
            "title": "Refund receipt" if record.kind == PayoutKind.REFUND else "Payout receipt",
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


def render_receipt_pdf(record: Payment | Payout) -> tuple[bytes, str]:
    text, filename = receipt_text(record)
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A5, invariant=1)
    pdf.setTitle(filename.removesuffix(".pdf"))
    _width, height = A5
    y = height - 50
    for index, line in enumerate(text.splitlines()):
        pdf.setFont("Helvetica-Bold" if index == 0 else "Helvetica", 16 if index == 0 else 10)
        pdf.drawString(40, y, line)
        y -= 22 if index == 0 else 14
    pdf.showPage()
    pdf.save()
    return buffer.getvalue(), filename
