"""What a B2C or Transaction Status result means for the money: paid, definitively failed, or unknown.

The one place that decides whether a payout attempt may be given up. Only a code listed in
`B2C_DEFINITIVE_FAILURES` ends an attempt as failed; everything else that is not a success (timeouts, system
errors, codes we have never seen, results that are not final) is `unknown`: the attempt is checked with
Transaction Status, and no new attempt is sent until it is resolved. Guessing "failed" is what pays twice.

Source of every code: Safaricom's Daraja B2C page (developer.safaricom.co.ke/apis/BusinessToCustomer), as
summarised in shared/integrations.md §1.6 "B2C result codes [DJ-B2C]". Each listed code is a refusal
decided by a rule, account or credential check before any money moves (nothing was debited and the same
request can never complete later), which is why it is definitive. A new attempt may then be sent once the
cause is fixed (funds topped up, credential renewed, recipient registered).

Deliberately NOT definitive (→ unknown):
- any `ResultDesc` that says the request timed out, whatever its code (queue-timeout bodies come with
  `ResultCode` 1 in third-party samples, §1.6 "Queue timeout callback": "NOT failed, NOT retried blindly");
- 1037 "DS timeout" (§1.4 [DJ-STK]) and the community codes 26 "System busy" and 1001 "Unable to lock
  subscriber" (§1.4): the request may still be processed;
- `ResultType` 1, "waiting for further messages" (§1.6, from [DJ-TS]): not a final answer;
- every code not in the table below.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Outcome(StrEnum):
    PAID = "paid"
    FAILED = "failed"
    UNKNOWN = "unknown"


SUCCESS_CODE = "0"

# code → what Daraja says it means (shared/integrations.md §1.6 [DJ-B2C]).
B2C_DEFINITIVE_FAILURES: dict[str, str] = {
    "1": "Insufficient balance in the B2C utility account",
    "2": "Amount below the B2C minimum (KES 10)",
    "3": "Amount above the B2C maximum (KES 250,000)",
    "4": "Daily transfer limit exceeded",
    "8": "Recipient would exceed the maximum account balance",
    "11": "The debit party (our shortcode) is in an invalid state",
    "21": "Initiator not allowed (missing the ORG B2C API initiator role)",
    "2001": "The initiator information is invalid (username, password, certificate or algorithm)",
    "2006": "Account status does not allow the transaction",
    "2028": "The shortcode is not permitted to do B2C (product assignment)",
    "2040": "The recipient is not a registered M-Pesa customer",
    "8006": "The security credential is locked",
    "SFC_IC0003": "The recipient MSISDN does not exist",
}

# Codes the documents name that are explicitly not final (kept here so the table above stays exhaustive
# about what is definitive; anything unlisted is unknown anyway).
B2C_UNKNOWN_OUTCOME_CODES: dict[str, str] = {
    "1037": "DS timeout: the request timed out (§1.4 [DJ-STK])",
    "26": "System busy (§1.4 [COMMUNITY])",
    "1001": "Unable to lock subscriber (§1.4 [COMMUNITY])",
}

# Transaction Status results whose TransactionStatus means the money went out (§1.7 sample: "Completed").
TRANSACTION_COMPLETED_STATUSES = frozenset({"completed", "success", "successful"})

_TIMED_OUT = re.compile(r"time[ds]?[\s_-]*out", re.IGNORECASE)
_WAITING_FOR_FURTHER_MESSAGES = 1


def says_timed_out(description: str | None) -> bool:
    return bool(description and _TIMED_OUT.search(description))


def b2c_result_outcome(
    *, result_code: str, result_desc: str = "", result_type: int | None = None
) -> Outcome:
    """Classify a B2C result (ResultURL body). `result_code` is already normalised to str."""
    if result_type == _WAITING_FOR_FURTHER_MESSAGES or says_timed_out(result_desc):
        return Outcome.UNKNOWN
    if result_code == SUCCESS_CODE:
        return Outcome.PAID
    if result_code in B2C_DEFINITIVE_FAILURES:
        return Outcome.FAILED
    return Outcome.UNKNOWN


def transaction_status_outcome(
    *, result_code: str, transaction_status: str | None, result_type: int | None = None
) -> Outcome:
    """Classify a Transaction Status result about one of our B2C requests.

    Only "the query succeeded and the transaction is Completed" is conclusive. A non-zero ResultCode is about
    the query (its own initiator, rate limits, "not found yet"), not about the payout, so it never fails one.
    """
    if result_type == _WAITING_FOR_FURTHER_MESSAGES or result_code != SUCCESS_CODE:
        return Outcome.UNKNOWN
    if (transaction_status or "").strip().lower() in TRANSACTION_COMPLETED_STATUSES:
        return Outcome.PAID
    return Outcome.UNKNOWN
