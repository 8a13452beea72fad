"""CompiledQuery: the ORM's statement for a shape, reused with new parameter values, and the builders it
refuses because their query would not be the same statement for other values."""

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import CustomerFactory, TechnicianFactory
from bookings.models import Booking
from bookings.tests.factories import BookingFactory
from dumuwaks.core.compiled_queries import CompiledQuery

pytestmark = pytest.mark.django_db


def _compiled(query: CompiledQuery, shape=(), **values):
    """Ask twice (a shape is compiled the second time), outside any query counting."""
    query.rows(shape, **values)
    return query.rows(shape, **values)


def _bookings_of(shape, *, customer_id: int):
    ordering = shape or ("id",)
    return Booking.objects.filter(customer_id=customer_id).order_by(*ordering).values_list("id")


def test_a_compiled_shape_gives_the_orms_rows_for_any_parameter_value():
    first, second = CustomerFactory(), CustomerFactory()
    mine = [BookingFactory(customer=first).pk for _ in range(3)]
    theirs = [BookingFactory(customer=second).pk]
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int})
    assert [row[0] for row in _compiled(query, customer_id=first.pk)] == mine
    assert query.rows(customer_id=second.pk) == [(pk,) for pk in theirs]
    assert query.rows(("-id",), customer_id=first.pk) == [(pk,) for pk in reversed(mine)]
    assert query.rows(("-id",), customer_id=first.pk) == [(pk,) for pk in reversed(mine)]


def test_once_compiled_it_sends_the_orms_sql_and_nothing_else():
    customer = CustomerFactory()
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int})
    _compiled(query, customer_id=customer.pk)
    expected = str(_bookings_of((), customer_id=customer.pk).query)
    with CaptureQueriesContext(connection) as sent:
        query.rows(customer_id=customer.pk)
    assert len(sent.captured_queries) == 1
    assert sent.captured_queries[0]["sql"].replace('"', "") == expected.replace('"', "")


def test_not_compiled_while_queries_are_counted(django_assert_num_queries):
    """The sentinel statements never show in a counted request: the count is the same, compiled or not."""
    customer = CustomerFactory()
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int})
    for _ in range(3):
        with django_assert_num_queries(1):
            query.rows(customer_id=customer.pk)
    _compiled(query, customer_id=customer.pk)
    with django_assert_num_queries(1):
        query.rows(customer_id=customer.pk)


def test_model_instances_as_the_queryset_makes_them():
    user = TechnicianFactory()
    query = CompiledQuery(
        lambda _shape, *, user_id: User.objects.filter(pk=user_id), parameters={"user_id": int}
    )
    query.objects(user_id=user.pk)
    (loaded,) = query.objects(user_id=user.pk)
    fresh = User.objects.get(pk=user.pk)
    assert loaded == fresh and not loaded._state.adding and loaded._state.db == "default"
    assert {f.attname: getattr(loaded, f.attname) for f in User._meta.concrete_fields} == {
        f.attname: getattr(fresh, f.attname) for f in User._meta.concrete_fields
    }
    assert query.objects(user_id=user.pk + 10_000) == []


def test_model_instances_only_from_the_models_own_columns():
    booking = BookingFactory()
    query = CompiledQuery(
        lambda _shape, *, pk: Booking.objects.select_related("customer").filter(pk=pk),
        parameters={"pk": int},
    )
    query.objects(pk=booking.pk)
    with pytest.raises(ImproperlyConfigured, match="own columns"):
        query.objects(pk=booking.pk)


def test_a_parameter_a_shape_does_not_use_is_allowed():
    customer = CustomerFactory()
    booking = BookingFactory(customer=customer)

    def build(shape, *, customer_id, now):
        bookings = Booking.objects.filter(customer_id=customer_id)
        if shape == "upcoming":
            bookings = bookings.filter(scheduled_start__gt=now)
        return bookings.values_list("id")

    query = CompiledQuery(build, parameters={"customer_id": int, "now": datetime})
    later = booking.scheduled_start + timedelta(days=1)
    assert _compiled(query, "all", customer_id=customer.pk, now=later) == [(booking.pk,)]
    assert _compiled(query, "upcoming", customer_id=customer.pk, now=later) == []
    earlier = booking.scheduled_start - timedelta(days=1)
    assert query.rows("upcoming", customer_id=customer.pk, now=earlier) == [(booking.pk,)]


def test_an_empty_queryset_reads_nothing(django_assert_num_queries):
    query = CompiledQuery(
        lambda _shape, *, customer_id: Booking.objects.none().values_list("id"),
        parameters={"customer_id": int},
    )
    _compiled(query, customer_id=1)
    with django_assert_num_queries(0):
        assert query.rows(customer_id=1) == []


@pytest.mark.parametrize(
    "build, why",
    [
        # The clock read while building: every compiled run would keep the first instant.
        (
            lambda _s, *, customer_id: Booking.objects.filter(
                customer_id=customer_id, scheduled_start__gt=timezone.now()
            ).values_list("id"),
            "depends on something but its parameters",
        ),
        # A value derived from a parameter would be kept as it was for the sentinel.
        (
            lambda _s, *, customer_id: Booking.objects.filter(
                customer_id__in=[customer_id, customer_id + 1]
            ).values_list("id"),
            "depends on something but its parameters",
        ),
        # A row read while building: its value would be kept.
        (
            lambda _s, *, customer_id: Booking.objects.filter(
                customer_id=customer_id, category_id__in=list(Booking.objects.values_list("pk"))
            ).values_list("id"),
            "sent 2 statements",
        ),
        # A parameter written into the SQL text.
        (
            lambda _s, *, customer_id: Booking.objects.extra(
                where=[f"customer_id = {int(customer_id)}"]
            ).values_list("id"),
            "different SQL",
        ),
    ],
)
def test_builders_depending_on_anything_but_their_parameters_are_refused(build, why):
    BookingFactory()
    query = CompiledQuery(build, parameters={"customer_id": int})
    query.rows(customer_id=1)
    with pytest.raises(ImproperlyConfigured, match=why):
        query.rows(customer_id=1)


def test_the_oldest_shapes_go_first():
    customer = CustomerFactory()
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int}, max_shapes=2)
    for shape in [("id",), ("-id",), ("created_at",)]:
        _compiled(query, shape, customer_id=customer.pk)
    assert query.compiled_shapes == (("-id",), ("created_at",))


def test_parameters_are_named_exactly():
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int})
    with pytest.raises(TypeError):
        query.rows(user_id=1)


def test_compiled_with_debug_on_as_in_production(settings):
    """`make run` (DEBUG) serves the compiled statements too: only a test counting queries defers them."""
    settings.DEBUG = True
    customer = CustomerFactory()
    query = CompiledQuery(_bookings_of, parameters={"customer_id": int})
    _compiled(query, customer_id=customer.pk)
    assert query.compiled_shapes == ((),)
