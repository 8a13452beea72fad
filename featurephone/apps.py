from django.apps import AppConfig


class FeaturePhoneConfig(AppConfig):
    name = "featurephone"
    verbose_name = "Feature-phone technicians (SMS/USSD)"

    def ready(self):
        from featurephone import events

        events.subscribe_all()
