"""The event catalogue (dumuwaks/core/events.py) is the whole bus: every declared event has a publisher in
the source and a subscriber at start-up, and nothing is published or subscribed outside it."""

import ast
import dataclasses
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction

from dumuwaks.core import events, side_effects

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


def _source_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            parts = path.relative_to(ROOT).parts
            if (
                "tests" in parts
                or "migrations" in parts
                or path == ROOT / "dumuwaks/core/events.py"
            ):
                continue
            yield path


class _EventReferences(ast.NodeVisitor):
    """Names of catalogued event classes a module uses, except as an annotation or as subscribe()'s
    argument: building one (or handing the class to code that builds it) is publishing it."""

    def __init__(self):
        self.found: set[str] = set()

    def visit_Call(self, node):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called == "subscribe":
            return
        self.generic_visit(node)

    def visit_arg(self, node):
        return  # an annotation names the event a handler takes

    def visit_FunctionDef(self, node):
        for child in (*node.decorator_list, node.args, *node.body):  # not the return annotation
            self.visit(child)

    def visit_AsyncFunctionDef(self, node):
        self.visit_FunctionDef(node)

    def visit_AnnAssign(self, node):
        if node.value is not None:
            self.visit(node.value)

    def visit_Name(self, node):
        self.found.add(node.id)

    def visit_Attribute(self, node):
        self.found.add(node.attr)
        self.generic_visit(node)


def _publishers() -> dict[type[events.Event], list[str]]:
    """Event class -> the source files that publish it."""
    by_class_name = {cls.__name__: cls for cls in events.CATALOGUE.values()}
    publishers: dict[type[events.Event], list[str]] = {}
    for path in sorted(_source_files()):
        visitor = _EventReferences()
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        for name in sorted(visitor.found & set(by_class_name)):
            publishers.setdefault(by_class_name[name], []).append(str(path.relative_to(ROOT)))
    return publishers


def _published() -> set[type[events.Event]]:
    return set(_publishers())


def test_every_published_event_has_a_subscriber_and_every_subscribed_one_a_publisher():
    declared = set(events.CATALOGUE.values())
    subscribed = set(side_effects.subscriptions())
    published = _published()
    assert sorted(e.name for e in published - subscribed) == [], "published, nobody subscribes"
    assert sorted(e.name for e in subscribed - published) == [], "subscribed, nobody publishes"
    assert sorted(e.name for e in declared - published) == [], "declared, never published"


def test_the_scan_finds_publishers():
    # Guards the test above against a scan that finds nothing (then every set would be empty).
    assert events.BookingStatusChanged in _published()
    assert events.SupportTicketWaiting in _published()


def test_only_declared_events_are_published_or_subscribed():
    class Undeclared:
        name = "booking.created"

    with pytest.raises(TypeError):
        side_effects.subscribe(Undeclared, lambda event: None)
    with pytest.raises(TypeError):
        side_effects.publish_after_commit(Undeclared())


def test_the_payload_is_exactly_the_declared_ids():
    with pytest.raises(TypeError):
        events.BookingCreated()  # a missing field
    with pytest.raises(TypeError):
        events.BookingCreated(booking_id=1, customer_id=2)  # an undeclared one
    with pytest.raises(TypeError, match=r"booking\.created\.booking_id"):
        events.BookingCreated(booking_id=object())  # ids only, never a row
    assert events.BookingStatusChanged(
        booking_id=1, from_status="pending", to_status="accepted", actor_id=None
    ).payload() == {
        "booking_id": 1,
        "from_status": "pending",
        "to_status": "accepted",
        "actor_id": None,
    }


def test_event_names_are_unique_and_namespaced():
    for name, cls in events.CATALOGUE.items():
        assert cls.name == name
        app, _, fact = name.partition(".")
        assert app and fact and name == name.lower()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_event_subscribers")
def test_a_failing_subscriber_does_not_stop_the_others():
    received = []

    def broken(event):
        raise RuntimeError("boom")

    side_effects.subscribe(events.PayoutPaid, broken)
    side_effects.subscribe(events.PayoutPaid, received.append)
    with transaction.atomic():
        side_effects.publish_after_commit(events.PayoutPaid(payout_id=7))
        assert received == []  # nothing before the commit
    assert received == [events.PayoutPaid(payout_id=7)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_event_subscribers")
def test_an_unsubscribed_handler_is_not_called():
    received = []
    side_effects.subscribe(events.PayoutPaid, received.append)
    side_effects.unsubscribe(events.PayoutPaid, received.append)
    side_effects.unsubscribe(events.PayoutPaid, received.append)  # twice: nothing to remove
    side_effects.publish_after_commit(events.PayoutPaid(payout_id=7))
    assert received == []
    assert side_effects.subscriptions() == {}


def _catalogue_table() -> str:
    publishers = _publishers()
    subscriptions = side_effects.subscriptions()
    rows = [
        "| event | payload | published in | handled by |",
        "|---|---|---|---|",
    ]
    for name, cls in sorted(events.CATALOGUE.items()):
        fields = ", ".join(f"`{f.name}`" for f in dataclasses.fields(cls))
        published_in = ", ".join(f"`{p}`" for p in publishers.get(cls, []))
        handlers = ", ".join(
            f"`{h.__module__}.{h.__qualname__}`" for h in subscriptions.get(cls, [])
        )
        rows.append(f"| `{name}` (`{cls.__name__}`) | {fields} | {published_in} | {handlers} |")
    return "\n".join(rows) + "\n"


def test_docs_list_the_catalogue():
    """docs/events.md holds the table below between its markers; paste the expected text when it changes."""
    text = (ROOT / "docs/events.md").read_text()
    begin, end = "<!-- catalogue:begin -->\n", "<!-- catalogue:end -->"
    documented = text[text.index(begin) + len(begin) : text.index(end)]
    assert documented == _catalogue_table()
