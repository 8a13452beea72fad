from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the demo data `make run` serves (idempotent): `seed --demo`."

    def handle(self, *args, **options):
        call_command("seed", "--demo", stdout=self.stdout)
