from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "dumuwaks.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        from dumuwaks.core import checks  # noqa: F401  (registers the deploy checks)
