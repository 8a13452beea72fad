"""What every analytics figure counts, written once.

The selectors compute exactly this, the output serializers publish it as each field's OpenAPI description,
and the README's "Analytics" section repeats it (a test checks that every figure is listed there).
Money figures come from the payments ledger (payments/services/ledger.py: accounts and references).
"""

from __future__ import annotations

# --- GET /analytics/bookings: bookings created in the range ----------------------------------------------------

BOOKING_FIGURES: dict[str, str] = {
    "total": "Bookings created in the range (Nairobi days, by `created_at`), whatever their status.",
    "gross_value": (
        "Sum of those bookings' prices, whatever their status (cancelled and expired included): "
        "demand, not money received (see `/analytics/revenue` for money)."
    ),
    "by_status": "The same bookings counted and priced by their current status.",
    "by_category": "The same bookings counted and priced by service category, most bookings first.",
    "by_day": "The same bookings counted and priced by the Nairobi day they were created.",
}

# --- GET /analytics/revenue: ledger movements in the period ----------------------------------------------------
# Each line is the movement of one set of ledger accounts, by the ledger transactions posted in the period
# (Nairobi time). Lines that are a change in what an account holds ("held", "owed") may be negative in a
# period; with no `from`, their totals are what the account holds at the end of the range.
# Reconciliation (a test posts through the real services and checks it):
#   customer_payments = released_on_completion + cancellation_fees + dispute_releases
#                       + cancellation_refunds + dispute_refunds + payment_refunds + escrow_held
#   released_on_completion + cancellation_fees + dispute_releases − (dispute_clawbacks − dispute_recoveries)
#                       = platform_fees + technician_earnings
#   technician_earnings + tips_carried = technician_payouts + recoveries_withheld + technician_owed
#   technician_debt = dispute_recoveries + payout_overpayments − recoveries_withheld
#   cancellation_refunds + dispute_refunds + payment_refunds + dispute_clawbacks + suspense_refunds
#                       = refunds_sent + refunds_owed
#   tips_received = tips_paid_out + tips_carried + tips_owed
# Tips (payments/services/tips.py) are not platform revenue and never enter escrow or customer_payments.

REVENUE_LINES: dict[str, str] = {
    "customer_payments": (
        "Money customers paid into bookings' escrow, M-Pesa and card, deposits and balances: what "
        "`payment:<id>:received` moved into `escrow:booking:*`. M-Pesa money that matched no payment counts "
        "once it is matched to one (until then it is in the admin's suspense items)."
    ),
    "deposits_collected": "The part of `customerPayments` paid for deposits (the 20 % booking fee).",
    "balances_collected": "The part of `customerPayments` paid for balances.",
    "released_on_completion": (
        "Escrow released when a confirmed booking's escrow held the full price, or a booking's whose dispute "
        "was released to the technician (`booking:<id>:release`): the technician's 85 % plus the "
        "platform's 15 %."
    ),
    "cancellation_fees": (
        "Escrow kept as cancellation fees of bookings the customer cancelled (`booking:<id>:cancel-fee`), "
        "technician's and platform's parts together."
    ),
    "dispute_releases": (
        "Escrow released to the technician and the platform by a resolved dispute (`dispute:<id>:release`)."
    ),
    "cancellation_refunds": (
        "Escrow refunded to customers of cancelled or expired bookings, the deposit less any cancellation "
        "fee (`booking:<id>:cancel-refund`)."
    ),
    "dispute_refunds": (
        "Escrow refunded to customers by a resolved dispute (`dispute:<id>:refund`); refunds of money "
        "already released are `disputeClawbacks`."
    ),
    "payment_refunds": (
        "Payments sent straight back because they arrived for a closed booking or paid the same thing "
        "twice (`payment:<id>:refund`)."
    ),
    "escrow_held": (
        "Change in what escrow holds: `customerPayments` − `releasedOnCompletion` − `cancellationFees` − "
        "`disputeReleases` − `cancellationRefunds` − `disputeRefunds` − `paymentRefunds` (net movement of "
        "`escrow:booking:*`)."
    ),
    "dispute_clawbacks": (
        "Refunds a dispute took from money already released (`dispute:<id>:clawback`): from the "
        "technician's payouts not yet sent, from the platform's fee, and the part the technician had "
        "already been paid (`disputeRecoveries`)."
    ),
    "dispute_recoveries": (
        "The part of `disputeClawbacks` the technician had already been paid: refunded to the customer "
        "now and owed back by the technician (`technician_receivable:*`, a recovery)."
    ),
    "payout_overpayments": (
        "Technician payouts paid twice, or paid after they were cancelled: the excess, owed back by the "
        "technician (`payout:<id>:overpaid:<total>`, `technician_receivable:*` → `mpesa_b2c_disbursed`)."
    ),
    "recoveries_withheld": (
        "Withheld from technicians' later earnings to repay what they owed back "
        "(`<release>:recovery`, `technician_payable:*` → `technician_receivable:*`)."
    ),
    "technician_debt": (
        "Change in what technicians owe back: `disputeRecoveries` + `payoutOverpayments` − "
        "`recoveriesWithheld` (net movement of `technician_receivable:*`, sign reversed)."
    ),
    "platform_fees": (
        "Net movement of `platform_revenue`: the platform's 15 % of releases, its part of cancellation fees "
        "and of dispute releases, less what dispute clawbacks took back."
    ),
    "technician_earnings": (
        "Net movement into `technician_payable:*` other than payouts and recoveries withheld: "
        "technicians' 85 % of releases, their part of cancellation fees and of dispute releases, less what "
        "dispute clawbacks took back from payouts not yet sent."
    ),
    "technician_payouts": (
        "Sent to technicians by M-Pesa B2C: what `payout:<id>:paid` moved out of `technician_payable:*` "
        "(a payout paid twice by mistake counts once; the excess is the payout's `overpaidAmount` and "
        "`payoutOverpayments`)."
    ),
    "technician_owed": (
        "Change in what technicians are owed: `technicianEarnings` − `technicianPayouts` − "
        "`recoveriesWithheld` + `tipsCarried` (net movement of `technician_payable:*`, deferred shares "
        "included)."
    ),
    "tips_received": (
        "Tips customers gave technicians after the job (M-Pesa or card): what `payment:<id>:received` moved into "
        "`tips_payable:*`. 100 % the technicians': not platform revenue, not in `customerPayments`."
    ),
    "tips_paid_out": (
        "Tips of at least the at-once threshold sent to technicians on their own: what `payout:<id>:paid` "
        "moved out of `tips_payable:*`."
    ),
    "tips_carried": (
        "Smaller tips moved into the technician payout that sends them (`payout:<tip payout>:carried`, "
        "`tips_payable:*` → `technician_payable:*`); that payout's amount is in `technicianPayouts`."
    ),
    "tips_owed": (
        "Change in tips not yet paid out: `tipsReceived` − `tipsPaidOut` − `tipsCarried` (net movement of "
        "`tips_payable:*`)."
    ),
    "suspense_refunds": (
        "M-Pesa money that matched no payment, refunded by staff (`suspense:<id>:refund` into "
        "`refunds_payable`)."
    ),
    "refunds_sent": (
        "Refunds sent to customers by M-Pesa B2C or back to their card: what `payout:<id>:paid` moved out "
        "of `refunds_payable`."
    ),
    "refunds_owed": (
        "Change in refunds owed to customers: `cancellationRefunds` + `disputeRefunds` + `paymentRefunds` + "
        "`disputeClawbacks` + `suspenseRefunds` − `refundsSent` (net movement of `refunds_payable`)."
    ),
    "gross_booking_value": (
        "Not a ledger figure: the price of bookings whose deposit was paid in the period (by "
        "`deposit_paid_at`), whatever happened to them afterwards."
    ),
}

# --- GET /analytics/technicians: one row per technician --------------------------------------------------------
# Job figures count bookings created in the range; money figures count ledger postings made in the range.

COMPLETION_RATE = (
    "`completedJobs` ÷ (`completedJobs` + `technicianCancellations` + `declinesAfterAccept`) × 100, two "
    "decimals; null when the technician has none of these. Only outcomes the technician is answerable for: "
    "customer cancellations, expiries, declines before accepting and jobs still open do not count. There "
    "is no no-show status to count."
)

TECHNICIAN_FIGURES: dict[str, str] = {
    "jobs": (
        "Bookings created in the range that are assigned to the technician now, in any status (a booking "
        "they declined went back to the pool and is not theirs)."
    ),
    "completed_jobs": (
        "Of `jobs`, those the technician finished: completed, confirmed, disputed or resolved (a dispute "
        "is about the work, not about whether it was done)."
    ),
    "technician_cancellations": (
        "Of `jobs`, those cancelled by the technician or by staff: the cancellations bookings count against "
        "the technician's reliability (no fee for the customer)."
    ),
    "customer_cancellations": "Of `jobs`, those cancelled by the customer (not in `completionRate`).",
    "declines_after_accept": (
        "Times the technician handed back a booking created in the range after accepting it "
        "(accepted → pending in the booking's status history)."
    ),
    "completion_rate": COMPLETION_RATE,
    "rating": (
        "The technician's average review rating, all time (not limited to the range); null until a"
        " review counts."
    ),
    "rating_count": "Number of reviews behind `rating`, all time.",
    "average_response_minutes": (
        "Mean minutes from a booking's creation to the technician accepting it, over `jobs` they "
        "accepted (declining clears the acceptance; null when none)."
    ),
    "earnings_jobs": (
        "The technician's 85 % of escrow released for confirmed jobs in the range, and for jobs a dispute "
        "released to them (`booking:<id>:release` into `technician_payable:<id>`)."
    ),
    "earnings_cancellation_fees": (
        "The technician's part of cancellation fees in the range (`booking:<id>:cancel-fee`)."
    ),
    "earnings_dispute_releases": (
        "The technician's part of escrow released by resolved disputes in the range "
        "(`dispute:<id>:release`)."
    ),
    "earnings_clawed_back": (
        "Taken back from the technician's unsent payouts by dispute refunds in the range "
        "(`dispute:<id>:clawback`)."
    ),
    "earnings": (
        "`earningsJobs` + `earningsCancellationFees` + `earningsDisputeReleases` − `earningsClawedBack`: "
        "everything that moved into or out of `technician_payable:<id>` in the range other than payouts, "
        "recoveries withheld and tips carried into a payout (tips are `tips`/`tipsTotal`, not earnings)."
    ),
    "paid_out": (
        "Sent to the technician by M-Pesa B2C in the range from `technician_payable:<id>` "
        "(`payout:<id>:paid`), small tips carried into those payouts included; a tip paid out on its own "
        "is paid from `tips_payable:<id>` and is not in this figure."
    ),
    "withheld": (
        "Withheld from the technician's earnings in the range to repay what they owed back "
        "(`<release>:recovery`)."
    ),
    "owed": (
        "What `technician_payable:<id>` holds at the end of the range: earned and not yet sent, deferred "
        "shares below the B2C minimum included."
    ),
    "tips": (
        "Tips customers gave the technician in the range, by M-Pesa or card: the number of "
        "`payment:<id>:received` postings into `tips_payable:<id>`."
    ),
    "tips_total": (
        "What those tips came to: 100 % the technician's, no platform fee, not in `earnings`; paid out at "
        "once, with the technician's next payout, or on their own after the wait bound."
    ),
    "currency": "Currency of every money figure (KES).",
    "owes_back": (
        "What the technician owes back at the end of the range (minus `technician_receivable:<id>`): "
        "refunds paid for them after they had been paid, payouts paid twice, less what was withheld."
    ),
}
