from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the demo data `make run` serves (idempotent): delegates to `seed --demo` when it exists."

    def handle(self, *args, **options):
        from django.core.management import get_commands

        if "seed" in get_commands():
            call_command("seed", "--demo", stdout=self.stdout)
        else:
            from accounts.demo import load_demo_accounts

            load_demo_accounts(stdout=self.stdout)
