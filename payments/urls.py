from django.urls import path
from drf_spectacular.utils import extend_schema

from payments import apis, callback_apis
from payments.services.common import DARAJA_CALLBACK_PATHS


def _undocumented(view_class):
    return extend_schema(exclude=True)(
        type(f"Daraja{view_class.__name__}", (view_class,), {})
    ).as_view()


urlpatterns = [
    path(DARAJA_CALLBACK_PATHS["stk_result"], _undocumented(callback_apis.MpesaStkCallbackApi)),
    path(DARAJA_CALLBACK_PATHS["stk_timeout"], _undocumented(callback_apis.MpesaStkTimeoutApi)),
    path(DARAJA_CALLBACK_PATHS["b2c_result"], _undocumented(callback_apis.MpesaB2CResultApi)),
    path(DARAJA_CALLBACK_PATHS["b2c_timeout"], _undocumented(callback_apis.MpesaB2CTimeoutApi)),
    path(DARAJA_CALLBACK_PATHS["status_result"], _undocumented(callback_apis.MpesaStatusResultApi)),
    path(
        DARAJA_CALLBACK_PATHS["status_timeout"], _undocumented(callback_apis.MpesaStatusTimeoutApi)
    ),
    path("payments/mpesa/stk-push", apis.PaymentStkPushApi.as_view(), name="payments-stk-push"),
    path("bookings/<int:pk>/tips", apis.BookingTipApi.as_view(), name="bookings-tips"),
    path("payments/mpesa/<int:pk>/query", apis.PaymentQueryApi.as_view(), name="payments-query"),
    path(
        "payments/mpesa/callback",
        callback_apis.MpesaStkCallbackApi.as_view(),
        name="payments-mpesa-callback",
    ),
    path(
        "payments/mpesa/timeout",
        callback_apis.MpesaStkTimeoutApi.as_view(),
        name="payments-mpesa-timeout",
    ),
    path(
        "payments/mpesa/b2c-callback",
        callback_apis.MpesaB2CResultApi.as_view(),
        name="payments-mpesa-b2c-callback",
    ),
    path(
        "payments/mpesa/b2c-timeout",
        callback_apis.MpesaB2CTimeoutApi.as_view(),
        name="payments-mpesa-b2c-timeout",
    ),
    path(
        "payments/mpesa/status-callback",
        callback_apis.MpesaStatusResultApi.as_view(),
        name="payments-mpesa-status-callback",
    ),
    path(
        "payments/mpesa/status-timeout",
        callback_apis.MpesaStatusTimeoutApi.as_view(),
        name="payments-mpesa-status-timeout",
    ),
    path(
        "payments/transactions",
        apis.PaymentTransactionListApi.as_view(),
        name="payments-transactions",
    ),
    path(
        "payments/transactions/<int:pk>",
        apis.PaymentTransactionDetailApi.as_view(),
        name="payments-transaction-detail",
    ),
    path(
        "payments/transactions/<int:pk>/receipt",
        apis.PaymentReceiptApi.as_view(),
        name="payments-transaction-receipt",
    ),
    path(
        "bookings/<int:pk>/fee-breakdown",
        apis.BookingFeeBreakdownApi.as_view(),
        name="bookings-fee-breakdown",
    ),
    path(
        "payments/payouts/pending",
        apis.PayoutPendingListApi.as_view(),
        name="payments-payouts-pending",
    ),
    path(
        "payments/payouts/my-payouts",
        apis.PayoutMyEarningsApi.as_view(),
        name="payments-payouts-mine",
    ),
    path(
        "payments/payouts/batch-process",
        apis.PayoutBatchProcessApi.as_view(),
        name="payments-payouts-batch-process",
    ),
    path("payments/payouts/<int:pk>", apis.PayoutDetailApi.as_view(), name="payments-payout"),
    path(
        "payments/payouts/<int:pk>/process",
        apis.PayoutProcessApi.as_view(),
        name="payments-payout-process",
    ),
    path(
        "payments/payouts/<int:pk>/check-status",
        apis.PayoutCheckStatusApi.as_view(),
        name="payments-payout-check-status",
    ),
    path(
        "payments/payouts/<int:pk>/confirm-paid",
        apis.PayoutConfirmPaidApi.as_view(),
        name="payments-payout-confirm-paid",
    ),
    path(
        "payments/payouts/<int:pk>/confirm-not-paid",
        apis.PayoutConfirmNotPaidApi.as_view(),
        name="payments-payout-confirm-not-paid",
    ),
    path(
        "payments/stripe/payment-intent",
        apis.PaymentCardIntentApi.as_view(),
        name="payments-stripe-intent",
    ),
    path(
        "payments/stripe/webhook",
        callback_apis.StripeWebhookApi.as_view(),
        name="payments-stripe-webhook",
    ),
]
