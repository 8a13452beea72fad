"""Thin HTTP layer of the bookings API (parse -> one service/selector -> render), by sub-domain."""

from bookings.apis.availability import MyAvailabilityApi, TechnicianFreeSlotsApi
from bookings.apis.bookings import (
    BookingAcceptApi,
    BookingCancellationQuoteApi,
    BookingCompleteApi,
    BookingConfirmApi,
    BookingDeclineApi,
    BookingDetailApi,
    BookingDisputeApi,
    BookingEnRouteApi,
    BookingHistoryApi,
    BookingListCreateApi,
    BookingStartApi,
    BookingStatsApi,
)
from bookings.apis.disputes import (
    BookingDisputeNoteApi,
    BookingDisputeQueueApi,
    BookingDisputeResolveApi,
)

__all__ = [
    "BookingAcceptApi",
    "BookingCancellationQuoteApi",
    "BookingCompleteApi",
    "BookingConfirmApi",
    "BookingDeclineApi",
    "BookingDetailApi",
    "BookingDisputeApi",
    "BookingDisputeNoteApi",
    "BookingDisputeQueueApi",
    "BookingDisputeResolveApi",
    "BookingEnRouteApi",
    "BookingHistoryApi",
    "BookingListCreateApi",
    "BookingStartApi",
    "BookingStatsApi",
    "MyAvailabilityApi",
    "TechnicianFreeSlotsApi",
]
