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
    path("users/me/availability", apis.MyAvailabilityApi.as_view(), name="my-availability"),
    path(
        "users/<int:pk>/availability",
        apis.TechnicianFreeSlotsApi.as_view(),
        name="technician-availability",
    ),
]
