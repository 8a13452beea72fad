from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications and chat"

    def ready(self):
        from notifications import events

        events.subscribe_all()
