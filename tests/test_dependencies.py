"""Every import is declared, nothing unused is declared, and the lock files pin what the declarations say.

`requirements.txt` / `requirements-dev.txt` declare the direct dependencies; `requirements.lock` /
`requirements-dev.lock` (bin/lock-requirements, pip-tools) pin every package, transitive ones included, and
are what `make` and the image install.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = {
    "dumuwaks",
    "accounts",
    "bookings",
    "matching",
    "payments",
    "social",
    "support",
    "notifications",
    "featurephone",
    "tests",
    "conftest",
    "manage",
}
# Declared packages no module imports by name: each is used through configuration.
USED_WITHOUT_IMPORT = {
    "gunicorn": "WSGI server (docs/operations.md)",
    "uvicorn": "ASGI server (make run, the image)",
    "uvicorn-worker": "gunicorn's uvicorn worker class, named on the command line",
    "psycopg-pool": "DATABASES OPTIONS pool",
    "hiredis": "redis-py's C reply parser, picked up when installed",
    "whitenoise": "MIDDLEWARE and STORAGES strings",
    "drf-spectacular-sidecar": "INSTALLED_APPS; Swagger UI and ReDoc assets",
    "django-cors-headers": "INSTALLED_APPS and MIDDLEWARE strings",
    "channels-redis": "CHANNEL_LAYERS backend string",
    "argon2-cffi": "PASSWORD_HASHERS string",
    "pytest-django": "pytest plugin",
    "pytest-xdist": "pytest plugin (make test runs -n 2)",
    "ruff": "linter and formatter (make test)",
    "playwright": "imported as playwright.sync_api in the browser tests",
    "daphne": "channels.testing imports it for WebsocketCommunicator (tests only; not a shipped server)",
}
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[_normal(match.group(1))] = match.group(3)
    return pins


def _imported_modules(paths) -> dict[str, set[str]]:
    """Top-level third-party module -> the installed distributions that provide it."""
    modules = set()
    for path in paths:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    third_party = modules - PROJECT_PACKAGES - set(sys.stdlib_module_names) - {"__future__"}
    by_module = packages_distributions()
    found = {}
    for module in third_party:
        assert module in by_module, (
            f"{module} is imported but no installed distribution provides it"
        )
        found[module] = {_normal(name) for name in by_module[module]}
    return found


def _undeclared(paths, declared: set[str]) -> set[str]:
    # A namespace package (google.*) is provided by many distributions: one declared is enough.
    return {m for m, dists in _imported_modules(paths).items() if not dists & declared}


def _python_files(*, tests: bool) -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {".venv", "staticfiles", "media"} or "migrations" in relative.parts:
            continue
        is_test = (
            "tests" in relative.parts
            or relative.parts[0] == "bench"
            or path.name in {"conftest.py"}
            or path.name.startswith("test_")
        )
        if is_test == tests:
            files.append(path)
    return files


def test_lock_files_pin_exactly_what_is_declared():
    runtime, runtime_lock = _pins(ROOT / "requirements.txt"), _pins(ROOT / "requirements.lock")
    dev, dev_lock = _pins(ROOT / "requirements-dev.txt"), _pins(ROOT / "requirements-dev.lock")
    assert {n: v for n, v in runtime.items() if runtime_lock.get(n) != v} == {}
    assert {n: v for n, v in dev.items() if dev_lock.get(n) != v} == {}
    # The test environment runs the versions the image installs.
    assert {n: v for n, v in runtime_lock.items() if dev_lock.get(n) != v} == {}


def test_every_third_party_import_is_declared_directly():
    runtime = set(_pins(ROOT / "requirements.txt"))
    dev = set(_pins(ROOT / "requirements-dev.txt"))
    assert _undeclared(_python_files(tests=False), runtime) == set(), "add to requirements.txt"
    assert _undeclared(_python_files(tests=True), runtime | dev) == set(), "add to -dev.txt"


def test_nothing_declared_is_unused():
    imported = set().union(
        *_imported_modules(_python_files(tests=False) + _python_files(tests=True)).values()
    )
    declared = set(_pins(ROOT / "requirements.txt")) | set(_pins(ROOT / "requirements-dev.txt"))
    unused = declared - imported - set(USED_WITHOUT_IMPORT)
    assert unused == set()
