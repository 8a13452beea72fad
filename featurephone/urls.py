from django.urls import path

from featurephone import apis

urlpatterns = [
    path("sms/inbound", apis.InboundSmsApi.as_view(), name="featurephone-sms-inbound"),
    path("ussd", apis.UssdApi.as_view(), name="featurephone-ussd"),
    path(
        "users/me/feature-phone",
        apis.MySmsOfferEnrolmentApi.as_view(),
        name="users-me-feature-phone",
    ),
]
