from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from payments.daraja import payloads
from payments.daraja.parsing import (
    MalformedCallback,
    parse_b2c_result,
    parse_queue_timeout,
    parse_stk_callback,
    parse_transaction_status_result,
)
from payments.tests.fakes import FIXTURES_DIR, load_fixture

EAT = ZoneInfo("Africa/Nairobi")


def test_every_fixture_parses_with_its_parser():
    parsers = {
        "stk_callback": parse_stk_callback,
        "b2c_result": parse_b2c_result,
        "transaction_status_result": parse_transaction_status_result,
    }
    seen = 0
    for path in sorted(FIXTURES_DIR.glob("*.json")):
        for prefix, parser in parsers.items():
            if path.name.startswith(prefix):
                parser(load_fixture(path.name))
                seen += 1
    assert seen == 8


def test_stk_success_callback():
    cb = parse_stk_callback(load_fixture("stk_callback_success.json"))
    assert cb.merchant_request_id == "29115-34620561-1"
    assert cb.checkout_request_id == "ws_CO_191220191020363925"
    assert cb.result_code == "0"
    assert cb.is_success
    assert cb.amount == Decimal("1.00")
    assert cb.receipt_number == "NLJ7RT61SV"
    assert cb.phone_number == "+254708374149"
    assert cb.transaction_date == datetime(2019, 12, 19, 10, 21, 15, tzinfo=EAT)
    assert cb.transaction_date.utcoffset().total_seconds() == 3 * 3600


def test_stk_cancelled_callback_has_no_metadata():
    cb = parse_stk_callback(load_fixture("stk_callback_cancelled.json"))
    assert cb.result_code == "1032"
    assert not cb.is_success
    assert cb.result_desc == "Request cancelled by user"
    assert (cb.amount, cb.receipt_number, cb.phone_number, cb.transaction_date) == (None,) * 4


def test_stk_callback_non_numeric_result_code_is_kept_as_string():
    cb = parse_stk_callback(load_fixture("stk_callback_string_code.json"))
    assert cb.result_code == "SFC_IC0003"
    assert not cb.is_success


def test_stk_callback_string_values_and_item_without_value():
    cb = parse_stk_callback(load_fixture("stk_callback_balance_without_value.json"))
    assert cb.result_code == "0"
    assert cb.amount == Decimal("1500.00")
    assert cb.receipt_number == "NLJ7RT61SW"
    assert cb.phone_number == "+254708374149"
    assert cb.transaction_date == datetime(2019, 12, 19, 10, 21, 15, tzinfo=EAT)


@pytest.mark.parametrize("code", [0, "0", 0.0])
def test_int_and_string_result_code_normalise_to_the_same_string(code):
    body = load_fixture("stk_callback_success.json")
    body["Body"]["stkCallback"]["ResultCode"] = code
    assert parse_stk_callback(body).result_code == "0"


def test_masked_phone_becomes_none():
    body = load_fixture("stk_callback_success.json")
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"][3]["Value"] = "25470****149"
    assert parse_stk_callback(body).phone_number is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Body": {}},
        {"Body": {"stkCallback": {"ResultCode": 0}}},
        {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1"}}},
        {"Body": "x"},
        [],
    ],
)
def test_stk_callback_missing_required_keys_raises(payload):
    with pytest.raises(MalformedCallback):
        parse_stk_callback(payload)
    assert issubclass(MalformedCallback, ValueError)


def test_b2c_success_result():
    result = parse_b2c_result(load_fixture("b2c_result_success.json"))
    assert result.originator_conversation_id == "10571-7910404-1"
    assert result.conversation_id == "AG_20191219_00004e48cf7e3533f581"
    assert result.result_code == "0"
    assert result.is_success
    assert result.transaction_id == "NLJ41HAY6Q"
    assert result.amount == Decimal("10.00")
    assert result.receipt_number == "NLJ41HAY6Q"
    assert result.receiver_name == "John Doe"
    assert result.receiver_msisdn == "+254708374149"
    assert result.completed_at == datetime(2019, 12, 19, 11, 45, 50, tzinfo=EAT)
    assert result.result_type == 0


def test_b2c_failure_result_without_parameters():
    result = parse_b2c_result(load_fixture("b2c_result_failure.json"))
    assert result.result_code == "2001"
    assert result.result_desc == "The initiator information is invalid."
    assert result.transaction_id == "NLJ0000000"
    assert (result.amount, result.receipt_number, result.completed_at) == (None, None, None)


def test_b2c_single_object_result_parameter():
    result = parse_b2c_result(load_fixture("b2c_result_single_parameter.json"))
    assert result.result_code == "2001"
    assert result.parameters == (("BOCompletedTime", 20200625232427),)
    assert result.originator_conversation_id == "payout-17-1"


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"Result": {"ResultCode": 0}},
        {"Result": {"OriginatorConversationID": "x"}},
    ],
)
def test_b2c_result_missing_required_keys_raises(payload):
    with pytest.raises(MalformedCallback):
        parse_b2c_result(payload)


def test_transaction_status_result():
    result = parse_transaction_status_result(load_fixture("transaction_status_result.json"))
    assert result.result_code == "0"
    assert result.originator_conversation_id == "8521-4298025-1"
    assert result.original_originator_conversation_id == "payout-17-1"
    assert result.original_conversation_id == "AG_20210311_00004b7c5c3b0e4ee7ff"
    assert result.transaction_status == "Completed"
    assert result.receipt_number == "PCB1I5W8HV"
    assert result.amount == Decimal("300.00")
    assert result.debit_party_name == "600310 - Safaricom333"  # first of the repeated key
    assert [k for k, _ in result.parameters].count("DebitPartyName") == 2
    assert result.finalised_at == datetime(2021, 3, 11, 11, 38, 45, tzinfo=EAT)
    assert result.occasion is None


def test_queue_timeout_never_raises():
    assert parse_queue_timeout("garbage").originator_conversation_id is None
    timeout = parse_queue_timeout(
        payloads.b2c_queue_timeout(originator_id="p-1", conversation="AG_1")
    )
    assert (timeout.originator_conversation_id, timeout.conversation_id) == ("p-1", "AG_1")
    assert timeout.result_code == "1"


def test_generated_payloads_round_trip_through_the_parsers():
    stk = parse_stk_callback(
        payloads.stk_callback(
            merchant_id="1-2-3",
            checkout_id="ws_CO_1",
            result_code=0,
            amount=1500,
            receipt="ABC123DEF4",
            phone_msisdn="254712345678",
        )
    )
    assert (stk.amount, stk.receipt_number, stk.phone_number) == (
        Decimal("1500.00"),
        "ABC123DEF4",
        "+254712345678",
    )
    b2c = parse_b2c_result(
        payloads.b2c_result(originator_id="p-1", conversation="AG_1", amount=1275, receipt="R1")
    )
    assert (b2c.amount, b2c.receipt_number, b2c.result_code) == (Decimal("1275.00"), "R1", "0")
    status = parse_transaction_status_result(
        payloads.transaction_status_result(
            originator_id="q-1", conversation="AG_2", original_originator_id="p-1", receipt="R1"
        )
    )
    assert (status.original_originator_conversation_id, status.receipt_number) == ("p-1", "R1")
