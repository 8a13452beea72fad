"""GET /bookings and GET /bookings/:id through the representation cache: the same bytes as rendering
without it, never stale, and right inside transactions too (these tests run inside the test transaction,
as every API test does, except the few that commit on purpose).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers as drf_serializers

from accounts.models import ServiceCategory, User
from accounts.tests.factories import ServiceCategoryFactory, UserFactory
from bookings import rendering, selectors
from bookings.models import Booking, BookingStatus, DisputeOutcome, DisputeStatus
from bookings.serializers import BookingOutputSerializer
from bookings.tests.factories import BookingFactory, DisputeFactory
from conftest import bearer_client, cached_keys
from dumuwaks.core import rendered_cache
from payments import money_summary
from payments.models import BalanceCollection, Payment, PaymentPurpose, PaymentStatus

pytestmark = pytest.mark.django_db


def _body(client, query, settings, *, cached: bool):
    settings.RENDERED_CACHE_SECONDS = 900 if cached else 0
    response = client.get(f"/api/v1/bookings{query}")
    return response.status_code, response.content


def _assert_paths_agree(client, query, settings):
    uncached = _body(client, query, settings, cached=False)
    first = _body(client, query, settings, cached=True)  # renders and stores the misses
    again = _body(client, query, settings, cached=True)  # served from the cache
    assert first == uncached, query
    assert again == uncached, query


def _cached_keys() -> list[str]:
    return cached_keys("booking:*")


def _with_money_history(bookings) -> None:
    """Payments in every state (and an overdue balance) on some bookings, so `money` varies across pages."""
    statuses = [
        PaymentStatus.PENDING,
        PaymentStatus.FAILED,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.OUTCOME_UNKNOWN,
        PaymentStatus.EXPIRED,
    ]
    for index, booking in enumerate(bookings):
        if index % 2:
            continue
        status = statuses[(index // 2) % len(statuses)]
        Payment.objects.create(
            booking=booking,
            payer=booking.customer,
            purpose=PaymentPurpose.BALANCE if booking.deposit_paid_at else PaymentPurpose.DEPOSIT,
            amount=booking.balance_amount if booking.deposit_paid_at else booking.deposit_amount,
            phone=booking.customer.phone_number or "",
            status=status,
            expires_at=timezone.now() + timedelta(minutes=3),
        )
        if index % 6 == 4:
            Booking.objects.filter(pk=booking.pk).update(
                status=BookingStatus.CONFIRMED, confirmed_at=timezone.now()
            )
            BalanceCollection.objects.create(
                booking=booking, due_since=timezone.now(), overdue_at=timezone.now()
            )


def test_cached_pages_equal_pages_rendered_from_the_database(settings):
    plumbing = ServiceCategoryFactory()
    electrical = ServiceCategoryFactory(slug="electrical")
    customer = UserFactory()
    technician = BookingFactory().technician
    start = timezone.now() + timedelta(days=3)
    for index, status in enumerate(
        [
            BookingStatus.PENDING,
            BookingStatus.ACCEPTED,
            BookingStatus.IN_PROGRESS,
            BookingStatus.COMPLETED,
        ]
        * 6
    ):
        BookingFactory(
            customer=customer,
            technician=technician if index % 3 else None,
            status=status,
            deposit_paid=status != BookingStatus.PENDING,
            category=electrical if index % 4 == 0 else plumbing,
            scheduled_start=start + timedelta(hours=3 * index),
            price=Decimal(1000 + 250 * index),
            attachments=[
                {"url": f"https://img.example/{index}.jpg", "public_id": "", "type": "image"}
            ],
        )
    BookingFactory(technician=None, deposit_paid=True, category=plumbing)  # an open job
    _with_money_history(Booking.objects.filter(customer=customer).order_by("pk"))
    staff = UserFactory(role="support", is_staff=True)
    frm = (start + timedelta(hours=10)).isoformat().replace("+", "%2B")
    queries = [
        "",
        "?page=2",
        "?page=last",
        "?page=9",
        "?page=0",
        "?page=abc",
        "?page=99999999999999999999999",
        "?pageSize=0",
        "?pageSize=7&page=3",
        "?pageSize=500",
        "?ordering=price",
        "?ordering=-createdAt&pageSize=5&page=2",
        "?status=accepted,in_progress",
        f"?category={electrical.pk}",
        f"?from={frm}",
        "?status=disputed",
    ]
    for viewer in (customer, technician, staff):
        client = bearer_client(viewer)
        for query in queries:
            _assert_paths_agree(client, query, settings)
    available = bearer_client(technician)
    _assert_paths_agree(available, "?available=true", settings)
    assert _cached_keys()


def test_a_cached_page_costs_the_user_row_and_one_page_query(django_assert_num_queries):
    customer = UserFactory()
    BookingFactory.create_batch(25, customer=customer)
    client = bearer_client(customer)
    # the user; the page; the bookings not cached yet; their payments
    with django_assert_num_queries(4):
        first = client.get("/api/v1/bookings?pageSize=25")
    with django_assert_num_queries(2):  # the user behind the token; the page's versions and total
        again = client.get("/api/v1/bookings?pageSize=25")
    assert len(again.json()["results"]) == 25
    assert again.content == first.content


def test_any_change_to_the_rows_shown_is_visible_on_the_next_read(settings):
    booking = BookingFactory(status=BookingStatus.ACCEPTED, deposit_paid=True)
    client = bearer_client(booking.customer)

    def shown():
        return client.get("/api/v1/bookings").json()["results"][0]

    assert shown()["title"] == booking.title
    # Writes that bypass save() and its updated_at still change the rows' xmin.
    Booking.objects.filter(pk=booking.pk).update(title="Burst pipe under the sink")
    assert shown()["title"] == "Burst pipe under the sink"
    User.objects.filter(pk=booking.customer_id).update(first_name="Wanjiru")
    assert shown()["customer"]["fullName"].startswith("Wanjiru")
    User.objects.filter(pk=booking.technician_id).update(phone_number="+254722000111")
    assert shown()["technician"]["phoneNumber"] == "+254722000111"
    ServiceCategory.objects.filter(pk=booking.category_id).update(name="Plumbing & drains")
    assert shown()["category"]["name"] == "Plumbing & drains"
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.COMPLETED)
    assert shown()["technician"]["phoneNumber"] is None  # contacts close with the job
    assert shown()["status"] == "completed"


def test_each_viewer_gets_the_contacts_they_may_see(settings):
    booking = BookingFactory(status=BookingStatus.ACCEPTED, deposit_paid=True)
    staff = UserFactory(role="support", is_staff=True)
    for _ in range(2):  # the second round comes from the cache
        as_technician = bearer_client(booking.technician).get("/api/v1/bookings").json()
        as_staff = bearer_client(staff).get("/api/v1/bookings").json()
        as_customer = bearer_client(booking.customer).get("/api/v1/bookings").json()
        assert (
            as_technician["results"][0]["customer"]["phoneNumber"] == booking.customer.phone_number
        )
        assert as_customer["results"][0]["technician"]["email"] == booking.technician.email
        assert as_staff["results"][0]["customer"]["email"] == booking.customer.email
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.CANCELLED)
    as_technician = bearer_client(booking.technician).get("/api/v1/bookings").json()
    assert as_technician["results"][0]["customer"]["phoneNumber"] is None


def test_the_cache_is_on_in_tests_inside_the_test_transaction(settings):
    """The authorization matrix, the abuse tests and the fuzzing run through the cache as production does."""
    assert settings.RENDERED_CACHE_SECONDS > 0 and transaction.get_connection().in_atomic_block
    booking = BookingFactory()
    bearer_client(booking.customer).get(f"/api/v1/bookings/{booking.pk}")
    assert len(_cached_keys()) == 1


def test_a_booking_deleted_between_the_two_queries_is_left_out(rf):
    kept, gone = BookingFactory.create_batch(2)
    staff = UserFactory(role="support", is_staff=True)
    rows = list(selectors.booking_list_versions(user=staff, filters={"ordering": "createdAt"}))
    assert [row.id for row in rows] == [kept.pk, gone.pk]
    gone.delete()
    request = rf.get("/api/v1/bookings")
    request.user = staff
    rendered = rendering.bookings_rendered(rows, request=request)
    assert len(rendered) == 1 and f'"id":{kept.pk},'.encode() in rendered[0]


def test_the_detail_comes_from_the_same_cache_with_the_same_rules(settings):
    booking = BookingFactory(status=BookingStatus.ACCEPTED, deposit_paid=True)
    open_job = BookingFactory(technician=None, deposit_paid=True)
    outsider = bearer_client(UserFactory())
    skilled = bearer_client(booking.technician)
    for client, target in [
        (bearer_client(booking.customer), booking),
        (skilled, booking),
        (bearer_client(UserFactory(role="support", is_staff=True)), booking),
        (skilled, open_job),  # an open job in their trade
    ]:
        url = f"/api/v1/bookings/{target.pk}"
        settings.RENDERED_CACHE_SECONDS = 0
        uncached = client.get(url)
        settings.RENDERED_CACHE_SECONDS = 900
        assert [client.get(url).content for _ in range(2)] == [uncached.content] * 2
        assert uncached.status_code == 200
    # Served from the cache: the stored rendering is what the detail answers with.
    (stored,) = [
        key
        for key in _cached_keys()
        if key.startswith(f"booking:{rendering.fingerprint()}:{booking.pk}:")
    ]
    rendered_cache.store({stored: b'{"served":"from cache"}'})
    assert skilled.get(f"/api/v1/bookings/{booking.pk}").json() == {"served": "from cache"}
    for url in (f"/api/v1/bookings/{booking.pk}", f"/api/v1/bookings/{open_job.pk}"):
        response = outsider.get(url)
        assert response.status_code == 404 and response.json()["code"] == "booking_not_found"
    for missing in (10**9, 2**63, 10**30):
        assert outsider.get(f"/api/v1/bookings/{missing}").status_code == 404
    Booking.objects.filter(pk=booking.pk).update(description="Now with a second leak")
    shown = bearer_client(booking.customer).get(f"/api/v1/bookings/{booking.pk}").json()
    assert shown["description"] == "Now with a second leak"


def test_out_of_range_ids_in_filters_match_nothing(settings):
    customer = UserFactory()
    BookingFactory(customer=customer)
    client = bearer_client(customer)
    for category in (2**63, 10**30):
        response = client.get(f"/api/v1/bookings?category={category}")
        assert response.status_code == 200 and response.json()["count"] == 0


def test_a_change_to_the_bookings_money_is_visible_on_the_next_read(settings):
    """`money` is built from the booking's payments and balance collection: their rows version the key."""
    booking = BookingFactory(status=BookingStatus.PENDING, deposit_paid=False)
    client = bearer_client(booking.customer)
    staff = bearer_client(UserFactory(role="support", is_staff=True))

    def money(viewer=client):
        return viewer.get(f"/api/v1/bookings/{booking.pk}").json()["money"]

    assert money()["pendingPayment"] is None
    payment = Payment.objects.create(
        booking=booking,
        payer=booking.customer,
        purpose=PaymentPurpose.DEPOSIT,
        amount=booking.deposit_amount,
        phone=booking.customer.phone_number,
        status=PaymentStatus.PENDING,
    )
    assert money()["pendingPayment"]["id"] == payment.pk
    assert money()["nextAction"] == "wait_for_prompt"
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.FAILED)
    assert money()["pendingPayment"] is None
    assert money()["nextAction"] == "pay_deposit"
    assert money()["deposit"]["paymentId"] == payment.pk
    Payment.objects.filter(pk=payment.pk).delete()  # a push that never reached Daraja is removed
    assert money()["deposit"]["paymentId"] is None

    Booking.objects.filter(pk=booking.pk).update(
        status=BookingStatus.CONFIRMED, deposit_paid_at=timezone.now(), confirmed_at=timezone.now()
    )
    assert money()["balance"]["status"] == "due"  # no number an automatic prompt may go to
    User.objects.filter(pk=booking.customer_id).update(is_phone_verified=True)
    assert money()["balance"]["status"] == "requesting"  # the automatic prompt is on its way
    collection = BalanceCollection.objects.create(booking=booking, due_since=timezone.now())
    assert money()["balanceOverdue"] is False
    BalanceCollection.objects.filter(pk=collection.pk).update(overdue_at=timezone.now())
    assert money()["balanceOverdue"] is True
    assert money(staff)["balanceOverdue"] is True
    User.objects.filter(pk=booking.customer_id).update(is_phone_verified=False)
    assert money()["balance"]["status"] == "due"  # no number an automatic prompt may go to
    assert money()["nextAction"] == "pay_balance"


def _version(booking) -> str:
    (row,) = selectors.booking_list_versions(user=booking.customer)
    return row.version


def test_the_key_names_every_payment_of_the_booking():
    booking = BookingFactory()
    seen = {_version(booking)}
    for _ in range(40):  # many attempts: the key changes with each and stays short
        Payment.objects.create(
            booking=booking,
            payer=booking.customer,
            purpose=PaymentPurpose.DEPOSIT,
            amount=booking.deposit_amount,
            status=PaymentStatus.FAILED,
        )
        seen.add(_version(booking))
    assert len(seen) == 41
    assert max(len(v) for v in seen) < 200


def test_a_row_updated_twice_in_one_transaction_gets_two_versions():
    """Inside one transaction a row keeps its `xmin`; its `ctid` still moves with every update."""
    booking = BookingFactory()
    seen = {_version(booking)}
    for title in ("Leak", "Leak under the sink", "Leak"):  # back to an earlier content, too
        Booking.objects.filter(pk=booking.pk).update(title=title)
        seen.add(_version(booking))
    assert len(seen) == 4


def test_a_resolved_disputes_outcome_shows_in_money():
    """`money` reads the booking's dispute (released to the technician: the balance is owed)."""
    dispute = DisputeFactory(
        status=DisputeStatus.RESOLVED,
        outcome=DisputeOutcome.FULL_REFUND,
        resolved_at=timezone.now(),
    )
    booking = dispute.booking
    Booking.objects.filter(pk=booking.pk).update(status=BookingStatus.RESOLVED)
    client = bearer_client(booking.customer)

    def balance():
        return client.get(f"/api/v1/bookings/{booking.pk}").json()["money"]["balance"]["status"]

    assert balance() == "not_collected"
    # The dispute's row alone changes (the booking row does not): its version is in the key.
    type(dispute).objects.filter(pk=dispute.pk).update(outcome=DisputeOutcome.RELEASE_TO_TECHNICIAN)
    assert balance() in ("due", "requesting")


class _WithANewField(BookingOutputSerializer):
    reference = drf_serializers.CharField(source="number")

    class Meta(BookingOutputSerializer.Meta):
        fields = [*BookingOutputSerializer.Meta.fields, "reference"]


def test_a_new_serializer_field_changes_every_key(monkeypatch):
    """The key holds a fingerprint derived from the serializer: a deploy with a changed representation
    never serves the old one, and nobody bumps a number."""
    booking = BookingFactory()
    client = bearer_client(booking.customer)
    url = f"/api/v1/bookings/{booking.pk}"
    assert "reference" not in client.get(url).json()
    before = rendering.fingerprint()
    assert before == rendered_cache.representation_fingerprint(
        BookingOutputSerializer, modules=[money_summary]
    )  # the same code gives the same fingerprint

    monkeypatch.setattr(rendering, "BookingOutputSerializer", _WithANewField)
    rendering.fingerprint.cache_clear()
    try:
        assert rendering.fingerprint() != before
        assert client.get(url).json()["reference"] == booking.number
        assert client.get("/api/v1/bookings").json()["results"][0]["reference"] == booking.number
    finally:
        rendering.fingerprint.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_version_is_never_served():
    """What a rolled-back transaction stored stays under versions nothing can have again."""
    booking = BookingFactory(title="Leak")
    client = bearer_client(booking.customer)
    url = f"/api/v1/bookings/{booking.pk}"
    assert client.get(url).json()["title"] == "Leak"

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        Booking.objects.filter(pk=booking.pk).update(title="Burst pipe")
        assert (
            client.get(url).json()["title"] == "Burst pipe"
        )  # stored under the uncommitted version
        with transaction.atomic():  # a savepoint, rolled back with the rest
            Booking.objects.filter(pk=booking.pk).update(title="Flood")
            assert client.get(url).json()["title"] == "Flood"
        raise Rollback
    assert client.get(url).json()["title"] == "Leak"
    assert client.get("/api/v1/bookings").json()["results"][0]["title"] == "Leak"
    Booking.objects.filter(pk=booking.pk).update(title="Dripping tap")  # a new commit
    assert client.get(url).json()["title"] == "Dripping tap"
    assert len(_cached_keys()) >= 4
