from django.urls import include, path

from support import apis

urlpatterns = [
    path("support/tickets", apis.SupportTicketListCreateApi.as_view(), name="support-tickets"),
    path("support/tickets/<int:pk>", apis.SupportTicketDetailApi.as_view(), name="support-ticket"),
    path(
        "support/tickets/<int:pk>/messages",
        apis.SupportTicketMessagesApi.as_view(),
        name="support-ticket-messages",
    ),
    path(
        "support/tickets/<int:pk>/assign",
        apis.SupportTicketAssignApi.as_view(),
        name="support-ticket-assign",
    ),
    path(
        "support/tickets/<int:pk>/status",
        apis.SupportTicketStatusApi.as_view(),
        name="support-ticket-status",
    ),
    path(
        "support/tickets/<int:pk>/priority",
        apis.SupportTicketPriorityApi.as_view(),
        name="support-ticket-priority",
    ),
    path(
        "support/tickets/<int:pk>/escalate",
        apis.SupportTicketEscalateApi.as_view(),
        name="support-ticket-escalate",
    ),
    path(
        "support/tickets/<int:pk>/close",
        apis.SupportTicketCloseApi.as_view(),
        name="support-ticket-close",
    ),
    path(
        "support/tickets/<int:pk>/reopen",
        apis.SupportTicketReopenApi.as_view(),
        name="support-ticket-reopen",
    ),
    path(
        "support/tickets/<int:pk>/rate",
        apis.SupportTicketRateApi.as_view(),
        name="support-ticket-rate",
    ),
    path(
        "support/tickets/<int:pk>/chat",
        apis.SupportTicketChatApi.as_view(),
        name="support-ticket-chat",
    ),
    path("support/stats", apis.SupportStatsApi.as_view(), name="support-stats"),
    path(
        "support/agents/me/availability",
        apis.SupportAgentAvailabilityApi.as_view(),
        name="support-agent-availability",
    ),
    path("", include("support.analytics.urls")),
]
