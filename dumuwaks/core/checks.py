"""`manage.py check --deploy` reports the settings production refuses (dumuwaks/core/deployment.py).

Errors normally: such a process could not have started under production settings. Warnings when the staging
opt-in INSECURE_STAGING is set, so the findings stay visible on the deployment that accepted them.
"""

from django.conf import settings
from django.core import checks

from dumuwaks.core.deployment import INSECURE_STAGING_VARIABLE, insecure_settings


@checks.register(checks.Tags.security, deploy=True)
def insecure_settings_check(app_configs, **kwargs):
    opted_in = settings.INSECURE_STAGING
    level = checks.Warning if opted_in else checks.Error
    hint = (
        f"Accepted by {INSECURE_STAGING_VARIABLE}=true: not a production deployment."
        if opted_in
        else f"Fix the variable, or set {INSECURE_STAGING_VARIABLE}=true for a staging deployment."
    )
    check_id = "dumuwaks.W001" if opted_in else "dumuwaks.E001"
    return [
        level(str(item), hint=hint, id=check_id)
        for item in insecure_settings(lambda name: getattr(settings, name, None))
    ]
