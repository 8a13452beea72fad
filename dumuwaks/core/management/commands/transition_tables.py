"""`manage.py transition_tables`: write docs/state-machines.md from the StateMachine declarations.

`--check` writes nothing and exits non-zero when the committed file differs (CI, and the test that keeps the
doc true).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dumuwaks.core.state_machine import transition_tables_markdown

DOC = Path(settings.BASE_DIR) / "docs" / "state-machines.md"


class Command(BaseCommand):
    help = "Write docs/state-machines.md from every model's declared transition map."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Fail when the committed file is out of date."
        )

    def handle(self, *args, check: bool = False, **options):
        text = transition_tables_markdown()
        if check:
            if not DOC.exists() or DOC.read_text() != text:
                raise CommandError(f"{DOC} is out of date: run `manage.py transition_tables`.")
            self.stdout.write(f"{DOC} is up to date.")
            return
        DOC.write_text(text)
        self.stdout.write(f"Wrote {DOC}.")
