from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "dumuwaks.core"
    label = "core"
    verbose_name = "Core"
