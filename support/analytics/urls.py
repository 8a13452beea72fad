from django.urls import path

from support.analytics import apis

urlpatterns = [
    path("analytics/bookings", apis.AnalyticsBookingsApi.as_view(), name="analytics-bookings"),
    path("analytics/revenue", apis.AnalyticsRevenueApi.as_view(), name="analytics-revenue"),
    path(
        "analytics/technicians",
        apis.AnalyticsTechniciansApi.as_view(),
        name="analytics-technicians",
    ),
]
