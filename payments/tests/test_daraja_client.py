"""The real Daraja client against the local fake Daraja (payments/tests/fakes/daraja.py)."""

import base64
import datetime as dt
import threading
from decimal import Decimal

import httpx
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15

from dumuwaks.core.phone import InvalidPhoneNumber
from payments.daraja import (
    B2CAccepted,
    DarajaBusy,
    DarajaConfigurationError,
    DarajaDuplicateRequest,
    DarajaError,
    DarajaOutcomeUnknown,
    DarajaUnavailable,
    StkPushAccepted,
    StkQueryResult,
    get_mpesa_client,
    parse_b2c_result,
    parse_stk_callback,
    parse_transaction_status_result,
    security,
)
from payments.daraja.client import DarajaClient
from payments.daraja.simulator import SimulatorClient
from payments.tests.fakes.certs import write_test_certificate
from payments.tests.fakes.daraja import (
    PATH_B2C,
    PATH_STK_PUSH,
    PATH_STK_QUERY,
    PATH_TOKEN,
    PATH_TRANSACTION_STATUS,
)
from payments.tests.fakes.pytest_plugin import *  # noqa: F403

EAT = dt.timezone(dt.timedelta(hours=3))
CALLBACK = "https://api.example.co.ke/api/v1/payments/daraja/stk/secret-token"
RESULT = "https://api.example.co.ke/api/v1/payments/daraja/b2c/result/secret-token"
TIMEOUT = "https://api.example.co.ke/api/v1/payments/daraja/b2c/timeout/secret-token"


def stk(client, **overrides):
    kwargs = dict(
        phone_msisdn="254708374149",
        amount=300,
        account_reference="BK-2026-000042",
        description="Booking deposit for plumbing",
        callback_url=CALLBACK,
    )
    kwargs.update(overrides)
    return client.stk_push(**kwargs)


def b2c(client, **overrides):
    kwargs = dict(
        originator_conversation_id="payout-17-1",
        phone_msisdn="+254708374149",
        amount=1275,
        remarks="Job BK42 payout",
        occasion="BK42",
        result_url=RESULT,
        timeout_url=TIMEOUT,
    )
    kwargs.update(overrides)
    return client.b2c_payment(**kwargs)


# --- building blocks ----------------------------------------------------------------------------------------------


def test_stk_password_matches_the_official_test_vector():
    password = security.stk_password(
        "174379",
        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        "20210628092408",
    )
    assert password == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkx"
        "OTIwMjEwNjI4MDkyNDA4"
    )


def test_timestamp_is_east_africa_time_even_when_the_server_clock_is_utc():
    utc_moment = dt.datetime(2026, 1, 1, 22, 30, 5, tzinfo=dt.UTC)
    assert security.eat_timestamp(utc_moment) == "20260102013005"


def test_field_limits():
    assert security.account_reference("BK-2026-000042") == "BK2026000042"
    assert len(security.account_reference("X" * 40)) == 12
    assert security.transaction_desc("Booking deposit for plumbing") == "Booking depos"
    assert security.transaction_desc("   ") == "Payment"
    assert security.whole_shillings(Decimal("1500.00"), minimum=1, maximum=250_000) == 1500
    with pytest.raises(ValueError):
        security.whole_shillings(Decimal("1500.50"), minimum=1, maximum=250_000)
    with pytest.raises(TypeError):
        security.whole_shillings(1500.0, minimum=1, maximum=250_000)
    with pytest.raises(ValueError):
        security.whole_shillings(9, minimum=10, maximum=250_000)
    assert security.msisdn("0712 345 678") == "254712345678"
    assert security.msisdn("+254112345678") == "254112345678"


@pytest.mark.parametrize("der", [False, True])
def test_security_credential_decrypts_to_the_initiator_password(tmp_path, der):
    key, cert_path = write_test_certificate(tmp_path, der=der)
    credential = security.security_credential("Safaricom999!", str(cert_path))
    assert len(credential) == 344  # 2048-bit key, base64
    assert key.decrypt(base64.b64decode(credential), PKCS1v15()) == b"Safaricom999!"
    assert credential != security.security_credential("Safaricom999!", str(cert_path))


def test_security_credential_without_certificate_is_a_configuration_error(tmp_path):
    with pytest.raises(DarajaConfigurationError):
        security.security_credential("pw", str(tmp_path / "missing.pem"))


def test_backend_selection(settings, fake_daraja):
    settings.MPESA_BACKEND = "simulator"
    assert isinstance(get_mpesa_client(), SimulatorClient)
    settings.MPESA_BACKEND = "sandbox"
    client = get_mpesa_client()
    assert isinstance(client, DarajaClient)
    assert client.base_url == fake_daraja.base_url
    settings.MPESA_BASE_URL_OVERRIDE = ""
    assert get_mpesa_client().base_url == "https://sandbox.safaricom.co.ke"
    settings.MPESA_BACKEND = "production"
    assert get_mpesa_client().base_url == "https://api.safaricom.co.ke"
    settings.MPESA_BACKEND = "nonsense"
    with pytest.raises(DarajaConfigurationError):
        get_mpesa_client()


# --- OAuth token --------------------------------------------------------------------------------------------------


def test_token_is_fetched_once_and_shared_by_clients(fake_daraja):
    stk(get_mpesa_client())
    stk(get_mpesa_client())
    get_mpesa_client().stk_query(checkout_request_id=next(iter(fake_daraja.stk)))
    assert fake_daraja.tokens_issued == 1
    (token_request,) = fake_daraja.requests_to(PATH_TOKEN)
    assert token_request.method == "GET"
    assert token_request.query == {"grant_type": ["client_credentials"]}
    assert (
        token_request.headers["authorization"]
        == "Basic " + base64.b64encode(b"fake-consumer-key:fake-consumer-secret").decode()
    )


def test_token_refreshed_about_five_minutes_before_expiry(fake_daraja):
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=EAT)
    with time_machine.travel(start, tick=False) as traveller:
        stk(get_mpesa_client())
        traveller.shift(dt.timedelta(minutes=54))
        stk(get_mpesa_client())
        assert fake_daraja.tokens_issued == 1
        traveller.shift(dt.timedelta(minutes=1, seconds=30))  # 55.5 min: inside the 5-min margin
        stk(get_mpesa_client())
        assert fake_daraja.tokens_issued == 2
        # A day later the stored token must not look fresh (the django-daraja minutes % 60 bug).
        traveller.shift(dt.timedelta(days=1, minutes=1))
        stk(get_mpesa_client())
        assert fake_daraja.tokens_issued == 3


@pytest.mark.parametrize("expires_in", [1200, "1200", " 1200 ", "1200.0"])
def test_expires_in_parsed_tolerantly(fake_daraja, expires_in):
    """A 20-minute token however Daraja spells the number: used for 15 minutes (the 5-minute margin), not
    for the hour an unreadable `expires_in` falls back to."""
    fake_daraja.token_expires_in = expires_in
    client = get_mpesa_client()
    start = dt.datetime(2026, 3, 1, 9, 0, tzinfo=EAT)
    with time_machine.travel(start, tick=False) as traveller:
        client.access_token()
        traveller.shift(dt.timedelta(minutes=14))
        client.access_token()
        assert fake_daraja.tokens_issued == 1
        traveller.shift(dt.timedelta(minutes=1, seconds=30))
        client.access_token()
        assert fake_daraja.tokens_issued == 2


def test_invalid_access_token_refreshes_once_and_retries_once(fake_daraja):
    client = get_mpesa_client()
    stk(client)
    fake_daraja.revoke_tokens()  # e.g. another system minted a token with the same app
    accepted = stk(client)
    assert accepted.checkout_request_id in fake_daraja.stk
    assert fake_daraja.tokens_issued == 2
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 3


def test_invalid_access_token_twice_gives_up_after_one_retry(fake_daraja):
    fake_daraja.fail_next(PATH_STK_PUSH, "invalid_token", times=2)
    with pytest.raises(DarajaError) as exc:
        stk(get_mpesa_client())
    assert exc.value.error_code == "404.001.03"
    assert exc.value.http_status == 404
    assert len(fake_daraja.requests_to(PATH_STK_PUSH)) == 2
    assert fake_daraja.tokens_issued == 2


def test_wrong_consumer_credentials(fake_daraja, settings):
    settings.MPESA_CONSUMER_SECRET = "wrong"
    with pytest.raises(DarajaError) as exc:
        stk(get_mpesa_client())
    assert exc.value.error_code == "400.008.01"
    assert fake_daraja.requests_to(PATH_STK_PUSH) == []


def test_concurrent_workers_mint_a_single_token(fake_daraja):
    errors = []
    barrier = threading.Barrier(5)

    def worker():
        try:
            barrier.wait()
            get_mpesa_client().access_token()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert fake_daraja.tokens_issued == 1


# --- STK push and query -------------------------------------------------------------------------------------------


def test_stk_push_happy_path_sends_what_daraja_expects(fake_daraja):
    accepted = stk(get_mpesa_client(), phone_msisdn="0708374149", amount=Decimal("300.00"))
    assert isinstance(accepted, StkPushAccepted)
    assert accepted.checkout_request_id.startswith("ws_CO_")
    assert accepted.response_code == "0"
    assert accepted.customer_message == "Success. Request accepted for processing"
    (request,) = fake_daraja.requests_to(PATH_STK_PUSH)
    body = request.json
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"].startswith("Bearer ")
    assert body["Amount"] == 300 and isinstance(body["Amount"], int)
    assert body["PartyA"] == body["PhoneNumber"] == "254708374149"
    assert body["PartyB"] == body["BusinessShortCode"] == "174379"
    assert body["TransactionType"] == "CustomerPayBillOnline"
    assert body["AccountReference"] == "BK2026000042"
    assert body["TransactionDesc"] == "Booking depos"
    assert body["CallBackURL"] == CALLBACK
    assert body["Password"] == security.stk_password(
        "174379", fake_daraja.passkey, body["Timestamp"]
    )


def test_stk_push_rejected_field_raises_daraja_error(fake_daraja, settings):
    settings.MPESA_PASSKEY = "not-the-passkey"
    with pytest.raises(DarajaError) as exc:
        stk(get_mpesa_client())
    assert (exc.value.error_code, exc.value.error_message) == ("500.001.1001", "Wrong credentials")
    assert type(exc.value) is DarajaError


def test_stk_push_invalid_phone_never_reaches_daraja(fake_daraja):
    with pytest.raises(InvalidPhoneNumber):
        stk(get_mpesa_client(), phone_msisdn="12345")
    assert fake_daraja.requests_to(PATH_STK_PUSH) == []


@pytest.mark.parametrize("kind", ["busy", "quota"])
def test_spike_arrest_and_quota_are_busy(fake_daraja, kind):
    fake_daraja.fail_next(PATH_STK_PUSH, kind)
    with pytest.raises(DarajaBusy) as exc:
        stk(get_mpesa_client())
    assert exc.value.error_code == {"busy": "500.003.02", "quota": "500.003.03"}[kind]


def test_stk_push_timeout_is_outcome_unknown(fake_daraja):
    fake_daraja.fail_next(PATH_STK_PUSH, "hang")
    with pytest.raises(DarajaOutcomeUnknown):
        stk(get_mpesa_client())
    # the push did reach Daraja: the caller must query, not resend
    assert len(fake_daraja.stk) == 1


@pytest.mark.parametrize("kind", ["reset", "internal", "bad_gateway", "garbage"])
def test_stk_push_lost_answer_is_outcome_unknown(fake_daraja, kind):
    fake_daraja.fail_next(PATH_STK_PUSH, kind)
    with pytest.raises(DarajaOutcomeUnknown):
        stk(get_mpesa_client())


def test_unreachable_daraja_is_unavailable_and_retryable(settings):
    settings.MPESA_BACKEND = "sandbox"
    settings.MPESA_BASE_URL_OVERRIDE = "http://127.0.0.1:9"  # discard port: connection refused
    settings.MPESA_CONSUMER_KEY, settings.MPESA_CONSUMER_SECRET = "k", "s"
    with pytest.raises(DarajaUnavailable) as exc:
        stk(get_mpesa_client())
    assert isinstance(exc.value, DarajaBusy)


def test_stk_query_pending_then_succeeded_then_failed(fake_daraja):
    client = get_mpesa_client()
    accepted = stk(client)
    pending = client.stk_query(checkout_request_id=accepted.checkout_request_id)
    assert pending == StkQueryResult(
        state="pending",
        result_code=None,
        result_desc="The transaction is being processed",
        checkout_request_id=accepted.checkout_request_id,  # Daraja's requestId
    )
    fake_daraja.resolve_stk(accepted.checkout_request_id, "0")
    assert client.stk_query(checkout_request_id=accepted.checkout_request_id) == StkQueryResult(
        state="succeeded",
        result_code="0",
        result_desc="The service request is processed successfully.",
        checkout_request_id=accepted.checkout_request_id,
    )
    fake_daraja.resolve_stk(accepted.checkout_request_id, "1032")
    failed = client.stk_query(checkout_request_id=accepted.checkout_request_id)
    assert (failed.state, failed.result_code) == ("failed", "1032")
    query = fake_daraja.requests_to(PATH_STK_QUERY)[0].json
    assert query["CheckoutRequestID"] == accepted.checkout_request_id
    assert query["Password"] == security.stk_password(
        "174379", fake_daraja.passkey, query["Timestamp"]
    )


def test_stk_query_timeout_is_busy_not_outcome_unknown(fake_daraja):
    client = get_mpesa_client()
    accepted = stk(client)
    fake_daraja.fail_next(PATH_STK_QUERY, "hang")
    with pytest.raises(DarajaBusy) as exc:
        client.stk_query(checkout_request_id=accepted.checkout_request_id)
    assert not isinstance(exc.value, DarajaOutcomeUnknown)


def test_stk_query_unknown_checkout_id(fake_daraja):
    with pytest.raises(DarajaError) as exc:
        get_mpesa_client().stk_query(checkout_request_id="ws_CO_nope")
    assert exc.value.error_code == "400.002.02"


def test_fake_callback_for_a_push_parses(fake_daraja):
    accepted = stk(get_mpesa_client(), amount=1500)
    callback = parse_stk_callback(fake_daraja.stk_callback_payload(accepted.checkout_request_id))
    assert callback.checkout_request_id == accepted.checkout_request_id
    assert callback.merchant_request_id == accepted.merchant_request_id
    assert callback.amount == Decimal("1500.00")
    assert callback.phone_number == "+254708374149"


# --- B2C ----------------------------------------------------------------------------------------------------------


def test_b2c_happy_path(fake_daraja):
    accepted = b2c(get_mpesa_client())
    assert isinstance(accepted, B2CAccepted)
    assert accepted.originator_conversation_id == "payout-17-1"
    assert accepted.conversation_id.startswith("AG_")
    assert accepted.response_code == "0"
    (request,) = fake_daraja.requests_to(PATH_B2C)
    body = request.json
    assert body["OriginatorConversationID"] == "payout-17-1"
    assert body["InitiatorName"] == "testapi"
    assert body["CommandID"] == "BusinessPayment"
    assert body["Amount"] == 1275
    assert body["PartyA"] == "600992"
    assert body["PartyB"] == "254708374149"
    assert body["Remarks"] == "Job BK42 payout"
    assert body["Occassion"] == "BK42" and "Occasion" not in body
    assert (body["ResultURL"], body["QueueTimeOutURL"]) == (RESULT, TIMEOUT)
    assert fake_daraja.b2c["payout-17-1"]["decrypted_password"] == "Safaricom999!"
    result = parse_b2c_result(fake_daraja.b2c_result_payload("payout-17-1"))
    assert (result.originator_conversation_id, result.conversation_id) == (
        "payout-17-1",
        accepted.conversation_id,
    )
    assert result.amount == Decimal("1275.00")


def test_b2c_duplicate_originator_conversation_id(fake_daraja):
    client = get_mpesa_client()
    b2c(client)
    with pytest.raises(DarajaDuplicateRequest) as exc:
        b2c(client)
    assert (exc.value.error_code, exc.value.http_status) == ("500.002.1001", 500)
    assert len(fake_daraja.b2c) == 1


def test_b2c_timeout_is_outcome_unknown_and_resend_is_caught_as_duplicate(fake_daraja):
    client = get_mpesa_client()
    fake_daraja.fail_next(PATH_B2C, "hang")
    with pytest.raises(DarajaOutcomeUnknown):
        b2c(client)
    # Daraja processed it; a careless resend with the same id is refused, so money moves once.
    with pytest.raises(DarajaDuplicateRequest):
        b2c(client)
    assert len(fake_daraja.b2c) == 1
    assert len(fake_daraja.requests_to(PATH_B2C)) == 2


def test_b2c_busy(fake_daraja):
    fake_daraja.fail_next(PATH_B2C, "busy")
    with pytest.raises(DarajaBusy):
        b2c(get_mpesa_client())
    assert fake_daraja.b2c == {}
    b2c(get_mpesa_client())  # backoff then retry with the same id succeeds
    assert list(fake_daraja.b2c) == ["payout-17-1"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"amount": 9}, ValueError),
        ({"amount": 250_001}, ValueError),
        ({"originator_conversation_id": "payout 17"}, ValueError),
        ({"command_id": "Nope"}, ValueError),
    ],
)
def test_b2c_invalid_input_never_reaches_daraja(fake_daraja, overrides, error):
    with pytest.raises(error):
        b2c(get_mpesa_client(), **overrides)
    assert fake_daraja.requests_to(PATH_B2C) == []


def test_b2c_without_certificate_is_a_configuration_error(fake_daraja, settings):
    settings.MPESA_CERTIFICATE_FILE = ""
    with pytest.raises(DarajaConfigurationError):
        b2c(get_mpesa_client())
    assert fake_daraja.requests_to(PATH_B2C) == []


# --- Transaction Status -------------------------------------------------------------------------------------------


def test_transaction_status_by_originator_conversation_id(fake_daraja):
    client = get_mpesa_client()
    payout = b2c(client)
    accepted = client.transaction_status(
        originator_conversation_id="payout-17-1", result_url=RESULT, timeout_url=TIMEOUT
    )
    assert accepted.response_code == "0"
    assert accepted.conversation_id.startswith("AG_")
    (request,) = fake_daraja.requests_to(PATH_TRANSACTION_STATUS)
    body = request.json
    assert body["CommandID"] == "TransactionStatusQuery"
    assert body["OriginalConversationID"] == "payout-17-1"
    assert "TransactionID" not in body
    assert body["Initiator"] == "testapi"
    assert body["IdentifierType"] == "4"
    assert body["PartyA"] == "600992"
    assert "Occasion" in body and "Occassion" not in body
    assert fake_daraja.status_queries[accepted.originator_conversation_id][
        "decrypted_password"
    ] == ("Safaricom999!")
    result = parse_transaction_status_result(
        fake_daraja.transaction_status_result_payload(accepted.originator_conversation_id)
    )
    assert result.originator_conversation_id == accepted.originator_conversation_id
    assert result.original_originator_conversation_id == "payout-17-1"
    assert result.original_conversation_id == payout.conversation_id
    assert result.transaction_status == "Completed"


def test_transaction_status_by_receipt(fake_daraja):
    client = get_mpesa_client()
    client.transaction_status(transaction_id="NLJ41HAY6Q", result_url=RESULT, timeout_url=TIMEOUT)
    body = fake_daraja.requests_to(PATH_TRANSACTION_STATUS)[0].json
    assert body["TransactionID"] == "NLJ41HAY6Q"
    with pytest.raises(ValueError):
        client.transaction_status(result_url=RESULT, timeout_url=TIMEOUT)


def test_transaction_status_timeout_is_retryable(fake_daraja):
    fake_daraja.fail_next(PATH_TRANSACTION_STATUS, "hang")
    with pytest.raises(DarajaBusy):
        get_mpesa_client().transaction_status(
            originator_conversation_id="payout-17-1", result_url=RESULT, timeout_url=TIMEOUT
        )


def test_production_refuses_plain_http_callback_urls(fake_daraja, settings):
    settings.MPESA_BACKEND = "production"
    with pytest.raises(DarajaConfigurationError):
        stk(get_mpesa_client(), callback_url="http://api.example.co.ke/cb")
    with pytest.raises(DarajaConfigurationError):
        b2c(get_mpesa_client(), result_url="http://api.example.co.ke/cb")
    assert fake_daraja.requests_to(PATH_STK_PUSH) == fake_daraja.requests_to(PATH_B2C) == []
    assert stk(get_mpesa_client()).response_code == "0"  # https is fine


def test_fake_enforces_daraja_field_rules(fake_daraja):
    """The fake is only useful if it rejects what Daraja rejects; send raw bodies past the client."""
    client = get_mpesa_client()
    token = client.access_token()

    def post_raw(body: dict) -> httpx.Response:
        return httpx.post(
            f"{client.base_url}{PATH_STK_PUSH}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )

    good = {
        "BusinessShortCode": "174379",
        "Timestamp": security.eat_timestamp(),
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 10,
        "PartyA": "254708374149",
        "PartyB": "174379",
        "PhoneNumber": "254708374149",
        "CallBackURL": CALLBACK,
        "AccountReference": "BK42",
        "TransactionDesc": "Deposit",
    }
    good["Password"] = security.stk_password("174379", fake_daraja.passkey, good["Timestamp"])
    utc_stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S")
    cases = {
        "Amount": {"Amount": 10.5},
        "PhoneNumber": {"PhoneNumber": "0708374149"},
        "AccountReference": {"AccountReference": "X" * 13},
        "Remarks": {"TransactionDesc": ""},
        "CallBackURL": {"CallBackURL": CALLBACK + " "},
        "Timestamp": {
            "Timestamp": utc_stamp,
            "Password": security.stk_password("174379", fake_daraja.passkey, utc_stamp),
        },
    }
    for field, change in cases.items():
        response = post_raw({**good, **change})
        assert (response.status_code, response.json()["errorMessage"]) == (
            400,
            f"Bad Request - Invalid {field}",
        ), field
    response = post_raw(good)
    assert response.status_code == 200 and response.json()["ResponseCode"] == "0"
