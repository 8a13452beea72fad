"""Local fakes of external providers (Daraja, Stripe) bound to 127.0.0.1, speaking their real wire format.

Pytest fixtures live in `payments.tests.fakes.pytest_plugin`.
"""

import json
from pathlib import Path

FIXTURES_DIR = Path(__file__).parent / "fixtures"


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES_DIR / name).read_text())
