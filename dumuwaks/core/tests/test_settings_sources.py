"""Settings hold only what differs between deployments, each documented in .env.example; product rules are
constants in their app's rules.py (README, "Product rules")."""

import ast
import re
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
APPS = (
    "accounts",
    "bookings",
    "matching",
    "notifications",
    "payments",
    "social",
    "support",
    "dumuwaks",
)
_ENV_READ = re.compile(r'\benv(?:\.\w+)?\(\s*"([A-Z0-9_]+)"')
_DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]+)[=:]", re.MULTILINE)


def test_every_environment_variable_read_is_in_env_example_and_nothing_else():
    read = set()
    for path in (ROOT / "dumuwaks/settings").glob("*.py"):
        read |= set(_ENV_READ.findall(path.read_text()))
    documented = set(_DOCUMENTED.findall((ROOT / ".env.example").read_text()))
    # DJANGO_SETTINGS_MODULE is read by Django itself; "SMS" is a comment heading the SMS block.
    documented -= {"DJANGO_SETTINGS_MODULE", "SMS"}
    assert sorted(read - documented) == [], "read by settings, missing from .env.example"
    assert sorted(documented - read) == [], "in .env.example, read by nothing"


def _rule_names(path: Path) -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]+)\s*=", path.read_text(), re.MULTILINE))


def test_every_product_rule_is_listed_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Product rules") :]
    section = section[: section.index("\n## ", 1)]
    modules = [*ROOT.glob("*/rules.py"), ROOT / "dumuwaks/core/request_limits.py"]
    assert len(modules) >= 5
    missing = [
        f"{path.relative_to(ROOT)} {name}"
        for path in modules
        for name in sorted(_rule_names(path))
        if f"`{path.relative_to(ROOT)}` `{name}`" not in section
    ]
    assert missing == []


def test_settings_are_read_directly_never_with_a_fallback_default():
    """`getattr(settings, "NAME", default)` repeats a default and hides a missing setting until that line
    runs; `settings.NAME` fails at once."""

    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        parts = path.relative_to(ROOT).parts
        if parts[0] not in APPS or "tests" in parts or "migrations" in parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "getattr"
                and len(node.args) == 3
                and getattr(node.args[0], "id", None) == "settings"
                and isinstance(node.args[1], ast.Constant)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []
