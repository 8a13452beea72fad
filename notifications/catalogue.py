"""Texts of every notification type, in English and Kiswahili.

`render(type, language, context)` picks the user's language (falling back to English) and fills
`{placeholders}` from the context; a placeholder the producer did not supply renders as an empty string
rather than failing, so a missing detail never loses the notification. Producers give times as datetimes:
they are written in local time with the reader's day and month names (`TIME_FORMAT`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import datetime

from django.utils import dateformat, timezone, translation

from notifications.models import NotificationGroup as G


@dataclass(frozen=True)
class Entry:
    group: str
    en: tuple[str, str]
    sw: tuple[str, str]


CATALOGUE: dict[str, Entry] = {
    # Bookings -------------------------------------------------------------------------------------------------
    # Which type a recipient gets for which state: notifications/wording.py.
    "booking.created": Entry(
        G.BOOKINGS,
        ("New job request", "{customer_name} requested {booking_title} ({booking_number})."),
        ("Ombi jipya la kazi", "{customer_name} ameomba {booking_title} ({booking_number})."),
    ),
    "booking.deposit_paid": Entry(  # the assigned technician; the booking is still pending
        G.BOOKINGS,
        (
            "Deposit paid",
            "{customer_name} paid the deposit for {booking_number}. You can accept the job now.",
        ),
        (
            "Mteja amelipa malipo ya awali",
            "{customer_name} amelipa malipo ya awali ya {booking_number}. Sasa unaweza kukubali kazi.",
        ),
    ),
    "booking.accepted": Entry(
        G.BOOKINGS,
        ("Booking accepted", "{technician_name} accepted your booking {booking_number}."),
        ("Ombi limekubaliwa", "{technician_name} amekubali ombi lako {booking_number}."),
    ),
    "booking.pending": Entry(  # the technician declined or withdrew
        G.BOOKINGS,
        (
            "Looking for another technician",
            "The technician can no longer take {booking_number}. Other technicians can now accept"
            " it; we will tell you when one does.",
        ),
        (
            "Tunatafuta fundi mwingine",
            "Fundi hawezi tena kufanya kazi {booking_number}. Mafundi wengine sasa wanaweza"
            " kuikubali; tutakujulisha mmoja akikubali.",
        ),
    ),
    "booking.en_route": Entry(
        G.BOOKINGS,
        ("Technician on the way", "{technician_name} is on the way for {booking_number}."),
        (
            "Fundi yuko njiani",
            "{technician_name} yuko njiani kuja kwako kwa kazi {booking_number}.",
        ),
    ),
    "booking.arrived": Entry(
        G.BOOKINGS,
        (
            "Technician has arrived",
            "{technician_name} has arrived for {booking_number}.",
        ),
        (
            "Fundi amefika",
            "{technician_name} amefika kwa kazi {booking_number}.",
        ),
    ),
    "booking.in_progress": Entry(
        G.BOOKINGS,
        ("Work started", "Work on {booking_number} has started."),
        ("Kazi imeanza", "Kazi {booking_number} imeanza."),
    ),
    "booking.completed": Entry(
        G.BOOKINGS,
        (
            "Job completed",
            "{technician_name} marked {booking_number} as completed. Please confirm.",
        ),
        (
            "Kazi imekamilika",
            "{technician_name} amesema kazi {booking_number} imekamilika. Tafadhali thibitisha.",
        ),
    ),
    "booking.confirmed": Entry(  # the technician, when the customer confirmed
        G.BOOKINGS,
        ("Job confirmed", "{customer_name} confirmed {booking_number} is done. Well done!"),
        (
            "Kazi imethibitishwa",
            "{customer_name} amethibitisha kuwa kazi {booking_number} imekamilika. Hongera!",
        ),
    ),
    "booking.auto_confirmed": Entry(  # both parties, when the confirmation period ran out
        G.BOOKINGS,
        (
            "Job confirmed",
            "{booking_number} was confirmed automatically: it was neither confirmed nor disputed"
            " within the confirmation period.",
        ),
        (
            "Kazi imethibitishwa",
            "Kazi {booking_number} imethibitishwa kiotomatiki kwa sababu muda wa kuthibitisha au"
            " kulalamika umeisha.",
        ),
    ),
    "booking.cancelled": Entry(
        G.BOOKINGS,
        ("Booking cancelled", "Booking {booking_number} was cancelled."),
        ("Hifadhi imeghairiwa", "Hifadhi {booking_number} imeghairiwa."),
    ),
    "booking.expired": Entry(  # the customer, deposit paid, no technician accepted in time
        G.BOOKINGS,
        (
            "No technician available",
            "No technician accepted {booking_number} in time, so the booking has expired. Your"
            " deposit will be refunded.",
        ),
        (
            "Hakuna fundi aliyepatikana",
            "Hakuna fundi aliyekubali {booking_number} kwa wakati, kwa hivyo hifadhi imeisha muda."
            " Malipo yako ya awali yatarudishwa.",
        ),
    ),
    "booking.expired_unpaid": Entry(  # the customer, deposit never paid
        G.BOOKINGS,
        (
            "Booking expired",
            "Booking {booking_number} expired because the deposit was not paid in time.",
        ),
        (
            "Hifadhi imeisha muda",
            "Hifadhi {booking_number} imeisha muda kwa sababu malipo ya awali hayakulipwa kwa wakati.",
        ),
    ),
    "booking.expired_for_technician": Entry(
        G.BOOKINGS,
        ("Job request expired", "The job request {booking_number} expired before it was accepted."),
        (
            "Ombi la kazi limeisha muda",
            "Ombi la kazi {booking_number} limeisha muda kabla ya kukubaliwa.",
        ),
    ),
    # Agreements (bookings/services/agreements.py): the party who has to answer, or the proposer when
    # answered; both when nobody answered in time. {proposed_start} is local time, {price} the new price.
    "booking.reschedule_proposed": Entry(
        G.BOOKINGS,
        (
            "New time proposed",
            "{proposer_name} proposes to move {booking_number} to {proposed_start}: {reason}. Accept"
            " or decline by {expires_at}.",
        ),
        (
            "Muda mpya umependekezwa",
            "{proposer_name} anapendekeza kuhamisha {booking_number} hadi {proposed_start}: {reason}."
            " Kubali au kataa kabla ya {expires_at}.",
        ),
    ),
    "booking.reschedule_accepted": Entry(
        G.BOOKINGS,
        (
            "New time agreed",
            "{answerer_name} accepted: {booking_number} now starts {proposed_start}.",
        ),
        (
            "Muda mpya umekubaliwa",
            "{answerer_name} amekubali: {booking_number} sasa itaanza {proposed_start}.",
        ),
    ),
    "booking.reschedule_declined": Entry(
        G.BOOKINGS,
        (
            "New time declined",
            "{answerer_name} declined moving {booking_number} to {proposed_start}. The booking keeps"
            " its time.",
        ),
        (
            "Muda mpya umekataliwa",
            "{answerer_name} amekataa kuhamisha {booking_number} hadi {proposed_start}. Muda wa"
            " awali unabaki.",
        ),
    ),
    "booking.reschedule_withdrawn": Entry(
        G.BOOKINGS,
        (
            "Proposal withdrawn",
            "{proposer_name} withdrew the proposal to move {booking_number}. The booking keeps its"
            " time.",
        ),
        (
            "Pendekezo limeondolewa",
            "{proposer_name} ameondoa pendekezo la kuhamisha {booking_number}. Muda wa awali unabaki.",
        ),
    ),
    "booking.reschedule_expired": Entry(
        G.BOOKINGS,
        (
            "Proposal expired",
            "The proposal to move {booking_number} to {proposed_start} was not answered in time. The"
            " booking keeps its time.",
        ),
        (
            "Pendekezo limeisha muda",
            "Pendekezo la kuhamisha {booking_number} hadi {proposed_start} halikujibiwa kwa wakati."
            " Muda wa awali unabaki.",
        ),
    ),
    "booking.quote_proposed": Entry(
        G.BOOKINGS,
        (
            "New quote",
            "{proposer_name} quoted KES {price} for {booking_number}: {reason}. Accept or decline"
            " by {expires_at}.",
        ),
        (
            "Bei mpya imetolewa",
            "{proposer_name} ametoa bei ya KES {price} kwa {booking_number}: {reason}. Kubali au"
            " kataa kabla ya {expires_at}.",
        ),
    ),
    "booking.quote_accepted": Entry(
        G.BOOKINGS,
        (
            "Quote accepted",
            "{answerer_name} accepted your quote of KES {price} for {booking_number}.",
        ),
        (
            "Bei yako imekubaliwa",
            "{answerer_name} amekubali bei yako ya KES {price} kwa {booking_number}.",
        ),
    ),
    "booking.quote_declined": Entry(
        G.BOOKINGS,
        (
            "Quote not taken",
            "Your quote of KES {price} for {booking_number} was not taken.",
        ),
        (
            "Bei yako haikukubaliwa",
            "Bei yako ya KES {price} kwa {booking_number} haikukubaliwa.",
        ),
    ),
    "booking.quote_withdrawn": Entry(
        G.BOOKINGS,
        (
            "Quote withdrawn",
            "{proposer_name} withdrew the quote of KES {price} for {booking_number}.",
        ),
        (
            "Bei imeondolewa",
            "{proposer_name} ameondoa bei ya KES {price} kwa {booking_number}.",
        ),
    ),
    "booking.quote_expired": Entry(
        G.BOOKINGS,
        (
            "Quote expired",
            "The quote of KES {price} for {booking_number} was not accepted in time.",
        ),
        (
            "Bei imeisha muda",
            "Bei ya KES {price} kwa {booking_number} haikukubaliwa kwa wakati.",
        ),
    ),
    "booking.change_order_proposed": Entry(
        G.BOOKINGS,
        (
            "Price change proposed",
            "{proposer_name} proposes a change of KES {amount} to {booking_number} (new price KES"
            " {price}): {reason}. Approve or reject by {expires_at}.",
        ),
        (
            "Mabadiliko ya bei yamependekezwa",
            "{proposer_name} anapendekeza mabadiliko ya KES {amount} kwa {booking_number} (bei mpya"
            " KES {price}): {reason}. Idhinisha au kataa kabla ya {expires_at}.",
        ),
    ),
    "booking.change_order_accepted": Entry(
        G.BOOKINGS,
        (
            "Price change approved",
            "{answerer_name} approved the change to {booking_number}: the price is now KES {price}.",
        ),
        (
            "Mabadiliko ya bei yameidhinishwa",
            "{answerer_name} ameidhinisha mabadiliko ya {booking_number}: bei sasa ni KES {price}.",
        ),
    ),
    "booking.change_order_declined": Entry(
        G.BOOKINGS,
        (
            "Price change rejected",
            "{answerer_name} rejected the change of KES {amount} to {booking_number}. The price"
            " stays.",
        ),
        (
            "Mabadiliko ya bei yamekataliwa",
            "{answerer_name} amekataa mabadiliko ya KES {amount} kwa {booking_number}. Bei inabaki.",
        ),
    ),
    "booking.change_order_withdrawn": Entry(
        G.BOOKINGS,
        (
            "Price change withdrawn",
            "{proposer_name} withdrew the change of KES {amount} to {booking_number}.",
        ),
        (
            "Mabadiliko ya bei yameondolewa",
            "{proposer_name} ameondoa mabadiliko ya KES {amount} kwa {booking_number}.",
        ),
    ),
    "booking.change_order_expired": Entry(
        G.BOOKINGS,
        (
            "Price change expired",
            "The change of KES {amount} to {booking_number} was not approved in time. The price"
            " stays.",
        ),
        (
            "Mabadiliko ya bei yameisha muda",
            "Mabadiliko ya KES {amount} kwa {booking_number} hayakuidhinishwa kwa wakati. Bei"
            " inabaki.",
        ),
    ),
    "dispute.opened": Entry(
        G.BOOKINGS,
        (
            "Dispute opened",
            "A dispute was opened on {booking_number}. Our support team will contact you.",
        ),
        (
            "Malalamiko kuhusu kazi",
            "Malalamiko yametolewa kuhusu kazi {booking_number}. Timu yetu ya huduma kwa wateja"
            " itawasiliana nawe.",
        ),
    ),
    "dispute.resolved": Entry(
        G.BOOKINGS,
        (
            "Dispute resolved",
            "Support has decided the dispute on {booking_number}. Open the booking to see the"
            " outcome.",
        ),
        (
            "Uamuzi wa malalamiko",
            "Huduma kwa wateja imetoa uamuzi kuhusu malalamiko ya kazi {booking_number}. Fungua"
            " kazi uone uamuzi.",
        ),
    ),
    # Workmanship guarantee (bookings/services/guarantee.py): who gets which type for which step is
    # notifications/wording.py GUARANTEE_CLAIM_TYPES. {respond_by} and {visit_start} are local time.
    "guarantee.claim_opened": Entry(  # the technician: answer before {respond_by}
        G.BOOKINGS,
        (
            "Return visit requested",
            "{customer_name} says the fix for {booking_number} did not last: {description}. Offer a"
            " free return visit or decline by {respond_by}.",
        ),
        (
            "Ombi la kurudi kazini",
            "{customer_name} anasema marekebisho ya {booking_number} hayakudumu: {description}."
            " Toa muda wa kurudi bila malipo au kataa kabla ya {respond_by}.",
        ),
    ),
    "guarantee.claim_withdrawn": Entry(  # the technician: no answer or return visit is needed any more
        G.BOOKINGS,
        (
            "Guarantee claim withdrawn",
            "{customer_name} withdrew the guarantee claim on {booking_number}. No return visit is"
            " needed.",
        ),
        (
            "Dai la dhamana limeondolewa",
            "{customer_name} ameondoa dai la dhamana kuhusu {booking_number}. Hakuna haja ya"
            " kurudi.",
        ),
    ),
    "guarantee.visit_scheduled": Entry(  # the customer
        G.BOOKINGS,
        (
            "Return visit booked",
            "{technician_name} will come back for {booking_number} on {visit_start}, free of charge.",
        ),
        (
            "Ziara ya marudio imepangwa",
            "{technician_name} atarudi kwa {booking_number} tarehe {visit_start}, bila malipo.",
        ),
    ),
    "guarantee.visit_fixed": Entry(  # the technician: the customer confirmed (or said nothing in time)
        G.BOOKINGS,
        (
            "Return visit done",
            "The return visit fixed {booking_number}. The guarantee claim is closed.",
        ),
        (
            "Ziara ya marudio imekamilika",
            "Ziara ya marudio imetatua tatizo la {booking_number}. Dai la dhamana limefungwa.",
        ),
    ),
    "guarantee.closed_fixed": Entry(  # the customer, when the beat job closed the claim for them
        G.BOOKINGS,
        (
            "Guarantee claim closed",
            "You did not report a problem after the return visit for {booking_number}, so your"
            " guarantee claim is closed as fixed.",
        ),
        (
            "Dai la dhamana limefungwa",
            "Hukuripoti tatizo baada ya ziara ya marudio ya {booking_number}, kwa hiyo dai lako la"
            " dhamana limefungwa kama limetatuliwa.",
        ),
    ),
    "guarantee.claim_declined": Entry(  # the customer: the technician declined
        G.BOOKINGS,
        (
            "Return visit declined",
            "{technician_name} declined a free return visit for {booking_number}: {reason}. Our"
            " support team will look into it and contact you.",
        ),
        (
            "Ziara ya marudio imekataliwa",
            "{technician_name} amekataa kurudi bila malipo kwa {booking_number}: {reason}. Timu yetu"
            " ya huduma kwa wateja itashughulikia dai lako na kuwasiliana nawe.",
        ),
    ),
    "guarantee.claim_unanswered": Entry(  # the customer: the technician did not answer in time
        G.BOOKINGS,
        (
            "No answer from the technician",
            "{technician_name} did not answer your guarantee claim on {booking_number} in time. Our"
            " support team will look into it and contact you.",
        ),
        (
            "Fundi hakujibu",
            "{technician_name} hakujibu dai lako la dhamana kuhusu {booking_number} kwa wakati. Timu"
            " yetu ya huduma kwa wateja italishughulikia na kuwasiliana nawe.",
        ),
    ),
    "guarantee.claim_expired": Entry(  # the technician who did not answer in time
        G.BOOKINGS,
        (
            "Guarantee claim not answered",
            "You did not answer the guarantee claim on {booking_number} in time. Our support team"
            " will look into it and contact you.",
        ),
        (
            "Dai la dhamana halikujibiwa",
            "Hukujibu dai la dhamana kuhusu {booking_number} kwa wakati. Timu yetu ya huduma kwa"
            " wateja italishughulikia na kuwasiliana nawe.",
        ),
    ),
    "guarantee.visit_failed": Entry(  # the technician: the customer says the visit did not fix it
        G.BOOKINGS,
        (
            "Return visit did not fix it",
            "{customer_name} says the return visit did not fix {booking_number}: {note}. Our"
            " support team will look into it and contact you.",
        ),
        (
            "Ziara ya marudio haikutatua tatizo",
            "{customer_name} anasema ziara ya marudio haikutatua tatizo la {booking_number}:"
            " {note}. Timu yetu ya huduma kwa wateja italishughulikia na kuwasiliana nawe.",
        ),
    ),
    "guarantee.disputed": Entry(  # the party whose own step (decline, failure report) made the dispute
        G.BOOKINGS,
        (
            "Guarantee claim is now a dispute",
            "The guarantee claim on {booking_number} is now a dispute. Our support team will"
            " contact you.",
        ),
        (
            "Dai la dhamana sasa ni malalamiko",
            "Dai la dhamana kuhusu {booking_number} sasa ni malalamiko. Timu yetu ya huduma kwa"
            " wateja itawasiliana nawe.",
        ),
    ),
    "review.received": Entry(
        G.BOOKINGS,
        ("New review", "{reviewer_name} rated you {rating}/5 for {booking_number}."),
        ("Tathmini mpya", "{reviewer_name} amekupa alama {rating}/5 kwa kazi {booking_number}."),
    ),
    "review.received_blind": Entry(
        G.BOOKINGS,
        (
            "You have a review",
            "{reviewer_name} reviewed {booking_number}. Leave your review to see theirs.",
        ),
        (
            "Umepata tathmini",
            "{reviewer_name} ametathmini kazi {booking_number}. Toa tathmini yako uone yao.",
        ),
    ),
    # Payments (the payer) -------------------------------------------------------------------------------------
    "payment.deposit_received": Entry(  # no technician has accepted yet: nothing is confirmed
        G.PAYMENTS,
        (
            "Deposit received",
            "We received your KES {amount} deposit for {booking_number}. We will tell you as soon"
            " as a technician accepts the job.",
        ),
        (
            "Malipo ya awali yamepokelewa",
            "Tumepokea malipo yako ya awali ya KES {amount} kwa {booking_number}. Tutakujulisha"
            " fundi atakapokubali kazi.",
        ),
    ),
    "payment.succeeded": Entry(
        G.PAYMENTS,
        ("Payment received", "We received KES {amount} for {booking_number}. Thank you!"),
        ("Malipo yamepokelewa", "Tumepokea KES {amount} kwa {booking_number}. Asante!"),
    ),
    "tip.sent": Entry(  # the customer's tip arrived: all of it is the technician's
        G.PAYMENTS,
        (
            "Tip sent",
            "Thank you! Your KES {amount} tip for {booking_number} goes in full to your technician.",
        ),
        (
            "Bakshishi imetumwa",
            "Asante! Bakshishi yako ya KES {amount} kwa {booking_number} itamfikia fundi wako yote.",
        ),
    ),
    "tip.received": Entry(  # the technician: a customer tipped them (paid out at once or with the next payout)
        G.PAYMENTS,
        (
            "You got a tip",
            "Your customer tipped you KES {amount} for {booking_number}. All of it is yours; it is sent"
            " to your M-Pesa with your next payout or on its own within 7 days (large tips at once).",
        ),
        (
            "Umepata bakshishi",
            "Mteja wako amekupa bakshishi ya KES {amount} kwa {booking_number}. Yote ni yako; itatumwa"
            " kwa M-Pesa yako pamoja na malipo yako yajayo au peke yake ndani ya siku 7 (bakshishi"
            " kubwa mara moja).",
        ),
    ),
    "payment.refund_due": Entry(  # the booking closed before the money arrived
        G.PAYMENTS,
        (
            "Payment received",
            "We received KES {amount} for {booking_number}, but the booking is closed. We will"
            " refund what is due to you and tell you when it is sent.",
        ),
        (
            "Malipo yamepokelewa",
            "Tumepokea KES {amount} kwa {booking_number}, lakini hifadhi hii imefungwa."
            " Tutakurudishia kiasi unachostahili na kukujulisha tukishakituma.",
        ),
    ),
    "payment.duplicate": Entry(  # the same deposit/balance was already paid
        G.PAYMENTS,
        (
            "Already paid",
            "We received KES {amount} for {booking_number}, which was already paid. We will refund"
            " it and tell you when it is sent.",
        ),
        (
            "Tayari umelipa",
            "Tumepokea KES {amount} kwa {booking_number}, ambayo tayari ilikuwa imelipwa."
            " Tutakurudishia pesa hizo na kukujulisha tukishazituma.",
        ),
    ),
    "payment.failed": Entry(
        G.PAYMENTS,
        (
            "Payment failed",
            "Your payment for {booking_number} did not go through. Please try again.",
        ),
        (
            "Malipo hayakufaulu",
            "Malipo yako ya {booking_number} hayakufaulu. Tafadhali jaribu tena.",
        ),
    ),
    # The balance of a confirmed job (payments/services/balance.py): reminders to the customer, then support.
    # Which reminder type: notifications/wording.py `balance_reminder_type`.
    "payment.balance_prompt": Entry(  # a reminder while an M-Pesa prompt for the balance waits on the phone
        G.PAYMENTS,
        (
            "Balance due",
            "We sent an M-Pesa prompt for the balance of KES {amount} for {booking_number}. Enter your"
            " M-Pesa PIN to pay it.",
        ),
        (
            "Salio linadaiwa",
            "Tumetuma ombi la M-Pesa la salio la KES {amount} kwa {booking_number}. Weka PIN yako ya"
            " M-Pesa kulilipa.",
        ),
    ),
    "payment.balance_due": Entry(  # a reminder when nothing waits on the phone: the customer pays in the app
        G.PAYMENTS,
        (
            "Balance due",
            "The balance of KES {amount} for {booking_number} is still unpaid. Please pay it in the app.",
        ),
        (
            "Salio linadaiwa",
            "Salio la KES {amount} la {booking_number} bado halijalipwa. Tafadhali lilipe kupitia"
            " programu.",
        ),
    ),
    "payment.balance_overdue": Entry(  # the customer, when the deadline passed and support took it over
        G.PAYMENTS,
        (
            "Balance overdue",
            "The balance of KES {amount} for {booking_number} is overdue. Our support team will contact"
            " you about it (ticket {ticket_number}); you can still pay it in the app.",
        ),
        (
            "Salio limechelewa",
            "Salio la KES {amount} la {booking_number} limepitwa na muda. Timu yetu ya huduma kwa wateja"
            " itawasiliana nawe kuhusu hilo (tiketi {ticket_number}); bado unaweza kulilipa kupitia"
            " programu.",
        ),
    ),
    "payment.balance_with_support": Entry(  # the technician, at the same moment
        G.PAYMENTS,
        (
            "Balance follow-up",
            "The customer has not paid the balance for {booking_number} yet. Our support team is"
            " following it up; we will pay you as soon as it is paid.",
        ),
        (
            "Ufuatiliaji wa salio",
            "Mteja bado hajalipa salio la {booking_number}. Timu yetu ya huduma kwa wateja"
            " inalifuatilia; tutakulipa mara litakapolipwa.",
        ),
    ),
    # Payouts (a technician's earnings) and refunds (to a customer) ----------------------------------------------
    "payout.paid": Entry(
        G.PAYMENTS,
        ("Payout sent", "KES {amount} has been sent to your M-Pesa."),
        ("Umelipwa", "Tumetuma KES {amount} kwa M-Pesa yako."),
    ),
    "payout.failed": Entry(
        G.PAYMENTS,
        (
            "Payout delayed",
            "We could not send KES {amount} to your M-Pesa yet. Our team is on it.",
        ),
        (
            "Malipo yamechelewa",
            "Hatujaweza kutuma KES {amount} kwa M-Pesa yako bado. Timu yetu inashughulikia.",
        ),
    ),
    "refund.paid": Entry(
        G.PAYMENTS,
        ("Refund sent", "KES {amount} for {booking_number} has been refunded to your M-Pesa."),
        ("Pesa zimerudishwa", "Tumekurudishia KES {amount} za {booking_number} kupitia M-Pesa."),
    ),
    "refund.paid_card": Entry(
        G.PAYMENTS,
        (
            "Refund sent",
            "KES {amount} for {booking_number} has been refunded to your card. Your bank may take a"
            " few days to show it.",
        ),
        (
            "Pesa zimerudishwa",
            "Tumekurudishia KES {amount} za {booking_number} kwenye kadi yako. Huenda benki yako"
            " ikachukua siku chache kuzionyesha.",
        ),
    ),
    "refund.failed": Entry(
        G.PAYMENTS,
        (
            "Refund delayed",
            "We could not refund KES {amount} for {booking_number} yet. Our team is on it.",
        ),
        (
            "Kurejesha pesa kumechelewa",
            "Hatujaweza kukurudishia KES {amount} za {booking_number} bado. Timu yetu"
            " inashughulikia.",
        ),
    ),
    # Messages -------------------------------------------------------------------------------------------------
    "social.mentioned": Entry(
        G.MESSAGES,
        ("You were mentioned", "{author_name} mentioned you in a post."),
        ("Umetajwa", "{author_name} amekutaja kwenye chapisho."),
    ),
    "message.received": Entry(
        G.MESSAGES,
        ("New message from {sender_name}", "{preview}"),
        ("Ujumbe mpya kutoka kwa {sender_name}", "{preview}"),
    ),
    # Support --------------------------------------------------------------------------------------------------
    "support.ticket_replied": Entry(
        G.SUPPORT,
        ("Support replied", "Support replied to your ticket {ticket_number}."),
        ("Huduma kwa wateja imejibu", "Huduma kwa wateja imejibu tiketi yako {ticket_number}."),
    ),
    "support.ticket_assigned": Entry(
        G.SUPPORT,
        ("Ticket assigned", "Ticket {ticket_number} was assigned to you."),
        ("Tiketi imekabidhiwa", "Tiketi {ticket_number} imekabidhiwa kwako."),
    ),
    "support.ticket_escalated": Entry(
        G.SUPPORT,
        (
            "Ticket escalated",
            "Ticket {ticket_number} was escalated to level {level} ({priority} priority).",
        ),
        (
            "Tiketi imepandishwa",
            "Tiketi {ticket_number} imepandishwa hadi kiwango {level} (kipaumbele {priority}).",
        ),
    ),
    "support.ticket_waiting": Entry(  # every support agent and admin: nobody had room for an urgent ticket
        G.SUPPORT,
        (
            "Urgent ticket waiting",
            "Urgent ticket {ticket_number} has no agent: everyone is at capacity or away. It goes to"
            " the first agent with room; pick it up now if you can.",
        ),
        (
            "Tiketi ya dharura inasubiri",
            "Tiketi ya dharura {ticket_number} haina wakala: wote wamejaa au hawapo. Itapewa wakala"
            " wa kwanza atakayepata nafasi; ichukue sasa ukiweza.",
        ),
    ),
    # Account / marketing --------------------------------------------------------------------------------------
    "account.notice": Entry(
        G.ACCOUNT,
        ("{title}", "{body}"),
        ("{title}", "{body}"),
    ),
    "marketing.announcement": Entry(
        G.MARKETING,
        ("{title}", "{body}"),
        ("{title}", "{body}"),
    ),
}


GROUP_LABELS = {
    "en": {
        G.BOOKINGS: "booking",
        G.PAYMENTS: "payment",
        G.MESSAGES: "message",
        G.SUPPORT: "support",
        G.MARKETING: "offers and news",
        G.ACCOUNT: "account",
    },
    "sw": {
        G.BOOKINGS: "maombi ya huduma",
        G.PAYMENTS: "malipo",
        G.MESSAGES: "ujumbe",
        G.SUPPORT: "huduma kwa wateja",
        G.MARKETING: "ofa na habari",
        G.ACCOUNT: "akaunti",
    },
}


def group_label(group: str, language: str) -> str:
    return GROUP_LABELS.get(language, GROUP_LABELS["en"]).get(group, group)


class UnknownNotificationType(KeyError):
    pass


class _Blank(dict):
    def __missing__(self, key):
        return ""


_FORMATTER = string.Formatter()


SENTENCE_ENDS = (".", "!", "?")
# A time in a text, local (Africa/Nairobi), with day and month names in the reader's language:
# "Mon 07 Dec 2026 09:30", "Jtatu 07 Dis 2026 09:30".
TIME_FORMAT = "D d M Y H:i"


def _text(value, language: str) -> object:
    if isinstance(value, datetime):
        with translation.override(language):
            return dateformat.format(timezone.localtime(value), TIME_FORMAT)
    return value


def _fill(template: str, context: dict, language: str = "en") -> str:
    """`template` with its {name} fields filled from a forgiving dict (only plain fields are used in the
    catalogue); datetimes are written in `language`. A template's full stop right after a field whose text
    already ends a sentence (a customer's "The tap leaks again.") is left out, so the reader does not get
    "again.."."""
    values = _Blank({k: "" if v is None else _text(v, language) for k, v in context.items()})
    parts: list[str] = []
    previous = ""
    for literal, field, spec, conversion in _FORMATTER.parse(template):
        if literal.startswith(".") and previous.rstrip().endswith(SENTENCE_ENDS):
            literal = literal[1:]
        parts.append(literal)
        previous = ""
        if field is not None:
            value = _FORMATTER.convert_field(values[field], conversion)
            previous = _FORMATTER.format_field(value, spec or "")
            parts.append(previous)
    return "".join(parts)


def group_of(type_: str) -> str:
    try:
        return CATALOGUE[type_].group
    except KeyError as exc:
        raise UnknownNotificationType(type_) from exc


def render(type_: str, language: str, context: dict) -> tuple[str, str]:
    try:
        entry = CATALOGUE[type_]
    except KeyError as exc:
        raise UnknownNotificationType(type_) from exc
    title, body = entry.sw if language == "sw" else entry.en
    return _fill(title, context, language)[:200], _fill(body, context, language)
