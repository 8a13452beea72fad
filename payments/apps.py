from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        from payments import events  # its tasks import models: only once the app registry is ready

        events.subscribe_all()
