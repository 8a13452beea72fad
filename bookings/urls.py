from django.urls import path

from bookings import apis

urlpatterns = [
    path("bookings", apis.BookingListCreateApi.as_view(), name="booking-list"),
    path("bookings/stats", apis.BookingStatsApi.as_view(), name="booking-stats"),
    path("bookings/disputes", apis.BookingDisputeQueueApi.as_view(), name="booking-disputes"),
    path(
        "bookings/disputes/<int:pk>/resolve",
        apis.BookingDisputeResolveApi.as_view(),
        name="booking-dispute-resolve",
    ),
    path(
        "bookings/disputes/<int:pk>/notes",
        apis.BookingDisputeNoteApi.as_view(),
        name="booking-dispute-notes",
    ),
    path("bookings/<int:pk>", apis.BookingDetailApi.as_view(), name="booking-detail"),
    path("bookings/<int:pk>/accept", apis.BookingAcceptApi.as_view(), name="booking-accept"),
    path("bookings/<int:pk>/decline", apis.BookingDeclineApi.as_view(), name="booking-decline"),
    path("bookings/<int:pk>/en-route", apis.BookingEnRouteApi.as_view(), name="booking-en-route"),
    path("bookings/<int:pk>/arrived", apis.BookingArrivedApi.as_view(), name="booking-arrived"),
    path("bookings/<int:pk>/start", apis.BookingStartApi.as_view(), name="booking-start"),
    path("bookings/<int:pk>/complete", apis.BookingCompleteApi.as_view(), name="booking-complete"),
    path("bookings/<int:pk>/confirm", apis.BookingConfirmApi.as_view(), name="booking-confirm"),
    path("bookings/<int:pk>/dispute", apis.BookingDisputeApi.as_view(), name="booking-dispute"),
    path("bookings/<int:pk>/history", apis.BookingHistoryApi.as_view(), name="booking-history"),
    path(
        "bookings/<int:pk>/cancellation-quote",
        apis.BookingCancellationQuoteApi.as_view(),
        name="booking-cancellation-quote",
    ),
    path(
        "bookings/<int:pk>/reschedule-proposals",
        apis.BookingRescheduleProposalListCreateApi.as_view(),
        name="booking-reschedule-proposals",
    ),
    path(
        "bookings/<int:pk>/reschedule-proposals/<int:proposal_id>/accept",
        apis.BookingRescheduleAcceptApi.as_view(),
        name="booking-reschedule-proposal-accept",
    ),
    path(
        "bookings/<int:pk>/reschedule-proposals/<int:proposal_id>/decline",
        apis.BookingRescheduleDeclineApi.as_view(),
        name="booking-reschedule-proposal-decline",
    ),
    path(
        "bookings/<int:pk>/reschedule-proposals/<int:proposal_id>/withdraw",
        apis.BookingRescheduleWithdrawApi.as_view(),
        name="booking-reschedule-proposal-withdraw",
    ),
    path(
        "bookings/<int:pk>/quotes",
        apis.BookingQuoteListCreateApi.as_view(),
        name="booking-quotes",
    ),
    path(
        "bookings/<int:pk>/quotes/<int:proposal_id>/accept",
        apis.BookingQuoteAcceptApi.as_view(),
        name="booking-quote-accept",
    ),
    path(
        "bookings/<int:pk>/quotes/<int:proposal_id>/decline",
        apis.BookingQuoteDeclineApi.as_view(),
        name="booking-quote-decline",
    ),
    path(
        "bookings/<int:pk>/quotes/<int:proposal_id>/withdraw",
        apis.BookingQuoteWithdrawApi.as_view(),
        name="booking-quote-withdraw",
    ),
    path(
        "bookings/<int:pk>/change-orders",
        apis.BookingChangeOrderListCreateApi.as_view(),
        name="booking-change-orders",
    ),
    path(
        "bookings/<int:pk>/change-orders/<int:proposal_id>/approve",
        apis.BookingChangeOrderApproveApi.as_view(),
        name="booking-change-order-approve",
    ),
    path(
        "bookings/<int:pk>/change-orders/<int:proposal_id>/reject",
        apis.BookingChangeOrderRejectApi.as_view(),
        name="booking-change-order-reject",
    ),
    path(
        "bookings/<int:pk>/change-orders/<int:proposal_id>/withdraw",
        apis.BookingChangeOrderWithdrawApi.as_view(),
        name="booking-change-order-withdraw",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims",
        apis.BookingGuaranteeClaimListCreateApi.as_view(),
        name="booking-guarantee-claims",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims/<int:claim_id>/accept",
        apis.BookingGuaranteeAcceptApi.as_view(),
        name="booking-guarantee-claim-accept",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims/<int:claim_id>/decline",
        apis.BookingGuaranteeDeclineApi.as_view(),
        name="booking-guarantee-claim-decline",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims/<int:claim_id>/withdraw",
        apis.BookingGuaranteeWithdrawApi.as_view(),
        name="booking-guarantee-claim-withdraw",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims/<int:claim_id>/confirm",
        apis.BookingGuaranteeConfirmApi.as_view(),
        name="booking-guarantee-claim-confirm",
    ),
    path(
        "bookings/<int:pk>/guarantee-claims/<int:claim_id>/report-failed",
        apis.BookingGuaranteeReportFailedApi.as_view(),
        name="booking-guarantee-claim-report-failed",
    ),
    path("users/me/availability", apis.MyAvailabilityApi.as_view(), name="my-availability"),
    path(
        "users/<int:pk>/availability",
        apis.TechnicianFreeSlotsApi.as_view(),
        name="technician-availability",
    ),
]
