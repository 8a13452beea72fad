from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications and chat"

    def ready(self):
        # Not at module top: the subscribers import models, which cannot load before the app registry is
        # ready (Django's documented place for this is `ready()`).
        from notifications import events

        events.subscribe_all()
