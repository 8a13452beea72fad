"""One way to change a status: a declared transition map per model and the one function that applies it.

Every stateful model declares a `StateMachine` beside it (in its app's `models.py`): which statuses may follow
which, named guards on some edges, the status-history model its audit rows go to and the event that announces a
change. `transition()` is the only code that writes such a status: it locks the row, checks the map and the
guards against the locked row, updates it, appends the audit row and publishes the event after commit (ids only).
The app's `<entity>_transition` service is a thin wrapper that adds what only that app knows (which extra
columns a change stamps, what else moves with it). `transition_many()` is its bulk form for sweeps (expiring
many rows of one status at once): the same map, lock, history rows and events, in one UPDATE and one INSERT.
These two are the only writers of status-history rows.

`docs/state-machines.md` is generated from these declarations (`manage.py transition_tables`); a test fails when
the committed file differs, so the docs cannot drift from the code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from dumuwaks.core.errors import InvalidTransition
from dumuwaks.core.events import Event
from dumuwaks.core.side_effects import publish_after_commit


@dataclass(frozen=True)
class TransitionContext:
    """What a guard sees: the row as locked (fresh from the database), the change asked for and who asks."""

    instance: models.Model
    from_status: str
    to_status: str
    actor: Any


@dataclass(frozen=True)
class Guard:
    """A named condition on one edge. `check` raises an `ApplicationError` (with its own stable code) to
    refuse; it runs under the row lock, so it sees the committed state. `name` is what the docs show."""

    name: str
    check: Callable[[TransitionContext], None]


@dataclass(frozen=True)
class StateMachine:
    """The declared workflow of one model's status field.

    `transitions` maps every status to the statuses it may become (a terminal status maps to nothing).
    `history_model` (a `StatusHistory` subclass) receives one row per change through its `history_fk`;
    None when the model keeps no history of its own. `event` is published after commit with
    `{<event_id_name>, from_status, to_status, actor_id}`; None when nothing subscribes to the change.
    """

    label: str  # "booking": messages ("A booking cannot go from …") and the docs heading
    model: type[models.Model]
    transitions: Mapping[str, Collection[str]]
    field: str = "status"
    guards: Mapping[tuple[str, str], tuple[Guard, ...]] = dataclasses.field(default_factory=dict)
    history_model: type[models.Model] | None = None
    history_fk: str = ""
    event: type[Event] | None = None  # declared in dumuwaks/core/events.py
    event_id_name: str = ""
    article: str = "A"  # "A booking …", "KYC …" (article "")

    def __post_init__(self):
        statuses = set(self.transitions)
        for source, targets in self.transitions.items():
            unknown = set(targets) - statuses
            if unknown:
                raise ValueError(
                    f"{self.label}: {source} -> {sorted(unknown)} are not declared statuses"
                )
        for edge in self.guards:
            if not self.allows(*edge):
                raise ValueError(f"{self.label}: guard on undeclared edge {edge}")
        if self.history_model is not None and not self.history_fk:
            raise ValueError(f"{self.label}: history_model needs history_fk")
        if self.event and not self.event_id_name:
            raise ValueError(f"{self.label}: event needs event_id_name")

    @property
    def statuses(self) -> list[str]:
        return list(self.transitions)

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.transitions.get(from_status, ())

    def edges(self) -> Iterator[tuple[str, str]]:
        for source, targets in self.transitions.items():
            for target in sorted(targets, key=self.statuses.index):
                yield source, target

    def subject(self) -> str:
        return f"{self.article} {self.label}".strip()


def transition(
    *,
    machine: StateMachine,
    instance: models.Model,
    to: str,
    actor=None,
    note: str = "",
    fields: Mapping[str, Any] | None = None,
    expect: Mapping[str, Any] | None = None,
    guards: tuple[Guard, ...] = (),
    history_fields: Mapping[str, Any] | None = None,
) -> models.Model:
    """Move `instance` to `to`: the one way a declared status changes. `actor=None` is the system.

    The change is checked against the status the caller read (`instance.<field>`): the row is locked
    (`SELECT … FOR NO KEY UPDATE`, the lock an UPDATE takes anyway, so child-row inserts are not blocked) and a
    different status there means someone else moved it first: 409 `invalid_transition`, nothing written; so
    does a column of `expect` (attname -> value the caller decided on) that changed. An edge the map does not
    declare is the same 409. The edge's declared guards, then the call's `guards` (checks only the service can
    make), run on the locked row. `fields` are extra columns written in the same UPDATE; `history_fields`
    extra columns of the history row (a subclass's own, e.g. KYC's `reason_code`). One history row is
    appended and the machine's event published after commit. Runs in its own `transaction.atomic` (a
    savepoint inside the caller's), so a refusal leaves the caller's transaction usable. Returns `instance`
    with the status and `fields` applied.
    """
    current = getattr(instance, machine.field)
    if not machine.allows(current, to):
        raise InvalidTransition(
            f"{machine.subject()} cannot go from {current} to {to}.",
            extra={"from": str(current), "to": str(to)},
        )
    model = machine.model
    with transaction.atomic():
        locked = (
            model.objects.select_for_update(no_key=True, of=("self",))
            .filter(pk=instance.pk)
            .first()
        )
        if (
            locked is None
            or getattr(locked, machine.field) != current
            or any(getattr(locked, name) != value for name, value in (expect or {}).items())
        ):
            raise InvalidTransition(f"The {machine.label} changed meanwhile; reload and try again.")
        context = TransitionContext(instance=locked, from_status=current, to_status=to, actor=actor)
        for guard in (*machine.guards.get((current, to), ()), *guards):
            guard.check(context)
        values: dict[str, Any] = {machine.field: to, **(fields or {})}
        if _has_field(model, "updated_at"):
            values.setdefault("updated_at", timezone.now())
        model.objects.filter(pk=instance.pk).update(**values)
        status_history_append(
            machine=machine,
            instance=instance,
            from_status=current,
            to_status=to,
            actor=actor,
            note=note,
            **(history_fields or {}),
        )
        if machine.event:
            publish_after_commit(
                machine.event(
                    **{machine.event_id_name: instance.pk},
                    from_status=str(current),
                    to_status=str(to),
                    actor_id=actor.pk if actor is not None else None,
                )
            )
    for name, value in values.items():
        setattr(instance, name, value)
    return instance


def transition_many(
    *,
    machine: StateMachine,
    pks: Collection[int],
    from_status: str,
    to: str,
    actor=None,
    note: str = "",
    fields: Mapping[str, Any] | None = None,
    skip_locked: bool = False,
) -> list[int]:
    """Move the rows of `pks` that are still in `from_status` to `to`: `transition()` for many rows at once,
    for sweeps (one UPDATE, one INSERT of history rows, the event per row after commit). Returns the ids moved.

    The rows are locked in id order. A row that has left `from_status` meanwhile stays as it is (someone
    else decided it first; not an error in a sweep); with `skip_locked`, so does a row another transaction
    holds, left for the next sweep rather than waited for. An undeclared edge is the 409 `transition()`
    gives; an edge with declared guards cannot be swept (guards judge one row: call `transition()` per row).
    """
    if not machine.allows(from_status, to):
        raise InvalidTransition(
            f"{machine.subject()} cannot go from {from_status} to {to}.",
            extra={"from": str(from_status), "to": str(to)},
        )
    if machine.guards.get((from_status, to)):
        raise ValueError(f"{machine.label}: {from_status} -> {to} is guarded; use transition()")
    if not pks:
        return []
    model = machine.model
    with transaction.atomic():
        moved = list(
            model.objects.select_for_update(no_key=True, skip_locked=skip_locked)
            .filter(pk__in=pks, **{machine.field: from_status})
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not moved:
            return []
        values: dict[str, Any] = {machine.field: to, **(fields or {})}
        if _has_field(model, "updated_at"):
            values.setdefault("updated_at", timezone.now())
        model.objects.filter(pk__in=moved).update(**values)
        if machine.history_model is not None:
            machine.history_model.objects.bulk_create(
                _history_row(
                    machine=machine,
                    pk=pk,
                    from_status=from_status,
                    to_status=to,
                    actor=actor,
                    note=note,
                )
                for pk in moved
            )
        if machine.event:
            for pk in moved:
                publish_after_commit(
                    machine.event(
                        **{machine.event_id_name: pk},
                        from_status=str(from_status),
                        to_status=str(to),
                        actor_id=actor.pk if actor is not None else None,
                    )
                )
    return moved


def status_history_append(
    *,
    machine: StateMachine,
    instance: models.Model,
    from_status: str,
    to_status: str,
    actor=None,
    note: str = "",
    **columns,
) -> models.Model | None:
    """The audit row of one change, or of a creation (`from_status=""`) or a note without a change
    (`from_status == to_status`). `columns` are the history subclass's own. Caller is inside the transaction
    that made the change."""
    if machine.history_model is None:
        return None
    row = _history_row(
        machine=machine,
        pk=instance.pk,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        note=note,
        **columns,
    )
    row.save(force_insert=True)
    return row


def _history_row(
    *, machine: StateMachine, pk, from_status: str, to_status: str, actor, note: str, **columns
) -> models.Model:
    return machine.history_model(
        **{f"{machine.history_fk}_id": pk},
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        note=note or "",
        **columns,
    )


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


# --- Registry and docs ------------------------------------------------------------------------------------------

_machines: dict[str, StateMachine] = {}


def register(machine: StateMachine) -> StateMachine:
    """Declare a machine for the generated docs; returns it so a models module writes
    `BOOKING_MACHINE = register(StateMachine(...))`."""
    _machines[machine.model._meta.label] = machine
    return machine


def registered_machines() -> list[StateMachine]:
    return sorted(_machines.values(), key=lambda m: (m.model._meta.app_label, m.label))


def transition_tables_markdown() -> str:
    """`docs/state-machines.md`: one table per registered machine, in app order."""
    lines = [
        "# State machines",
        "",
        "Generated by `python manage.py transition_tables` from the `StateMachine` declarations beside each",
        "model (`dumuwaks/core/state_machine.py`); a test fails when this file differs from them. Every change",
        "goes through `dumuwaks.core.state_machine.transition` (or `transition_many`, its bulk form for sweeps):",
        "row lock, this map, the guards, one history row per change, the event after commit. A change not",
        "listed here is refused with 409 `invalid_transition`.",
        "",
    ]
    for machine in registered_machines():
        meta = machine.model._meta
        lines.append(f"## {machine.label} (`{meta.label}.{machine.field}`)")
        lines.append("")
        history = (
            f"`{machine.history_model._meta.label}`"
            if machine.history_model is not None
            else "none"
        )
        event = f"`{machine.event.name}`" if machine.event else "none"
        lines.append(f"History: {history}. Event: {event}.")
        lines.append("")
        statuses = ", ".join(f"`{s!s}`" for s in machine.statuses)
        terminal = ", ".join(f"`{s!s}`" for s in machine.statuses if not machine.transitions[s])
        lines.append(f"Statuses: {statuses}.")
        if terminal:
            lines.append(f"Final: {terminal}.")
        lines.append("")
        lines.append("| from | to | guards |")
        lines.append("| --- | --- | --- |")
        for source, target in machine.edges():
            guards = "; ".join(g.name for g in machine.guards.get((source, target), ())) or ""
            lines.append(f"| `{source!s}` | `{target!s}` | {guards} |")
        lines.append("")
    return "\n".join(lines)
