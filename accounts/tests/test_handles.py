"""Every user has a unique handle derived from their name (accounts/handles.py), shown wherever users are."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

import accounts.models
from accounts.handles import HANDLE_MAX_LENGTH, handle_base
from accounts.models import User
from accounts.services import user_delete, user_handles_assign
from accounts.tests.factories import UserFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("first", "last", "base"),
    [
        ("Wanjiku", "Kamau", "wanjiku.kamau"),
        ("  WANJIKU ", "kamau", "wanjiku.kamau"),
        ("Ng'ang'a", "Mũthoni", "nganga.muthoni"),
        ("Mary-Anne", "O'Brien", "maryanne.obrien"),
        ("Zoë", "", "zoe"),
        ("", "", "user"),
        ("雅子", "!!", "user"),
        ("Abcdefghijklmnopqrstuvwxyz", "Kamau", "abcdefghijklmnopqrstuvwx"),
    ],
)
def test_a_handle_derives_from_the_name(first, last, base):
    assert handle_base(first_name=first, last_name=last) == base


def test_new_users_get_the_first_free_handle(customer):
    assert customer.handle == "wanjiku.kamau"
    second = UserFactory(email="w2@example.co.ke", first_name="WANJIKU", last_name="Kamau")
    third = UserFactory(email="w3@example.co.ke", first_name="Wanjiku", last_name="Kamau")
    assert (second.handle, third.handle) == ("wanjiku.kamau2", "wanjiku.kamau3")
    long = UserFactory(email="l@example.co.ke", first_name="A" * 40, last_name="B" * 40)
    assert long.handle == "a" * 24 and len(long.handle) <= HANDLE_MAX_LENGTH


def test_registration_shows_the_handle_and_a_name_change_keeps_it(anon_client):
    body = {
        "firstName": "Njeri",
        "lastName": "Mutua",
        "email": "njeri@example.co.ke",
        "phoneNumber": "0712000999",
        "password": "Kahawa-Tamu-2026",
    }
    response = anon_client.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 201, response.json()
    user = User.objects.get(email="njeri@example.co.ke")
    assert user.handle == "njeri.mutua"

    client = bearer_client(user)
    assert client.get("/api/v1/auth/me").json()["handle"] == "njeri.mutua"
    assert client.patch("/api/v1/auth/me", {"lastName": "Kariuki"}).status_code == 200
    assert client.get("/api/v1/auth/me").json()["handle"] == "njeri.mutua"


def test_deleting_an_account_replaces_its_name_derived_handle(customer, admin_user):
    user_delete(user=customer, actor=admin_user)

    customer.refresh_from_db()
    assert customer.handle == f"deleted_{customer.pk}"
    newcomer = UserFactory(email="new@example.co.ke", first_name="Wanjiku", last_name="Kamau")
    assert newcomer.handle == "wanjiku.kamau"


@pytest.mark.parametrize("handle", ["Wanjiku", "wanjiku kamau", ".wanjiku", "wanjiku.", "", "zoë"])
def test_the_database_refuses_a_handle_outside_the_rule(customer, handle):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=customer.pk).update(handle=handle)


def test_the_database_refuses_a_taken_handle(customer, other_customer):
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=other_customer.pk).update(handle=customer.handle)


def test_bulk_assignment_gives_distinct_free_handles(customer):
    users = [
        User(email=f"b{i}@example.co.ke", first_name=first, last_name="Kamau")
        for i, first in enumerate(["Wanjiku", "Wanjiku", "Otieno"])
    ]
    user_handles_assign(users=users)
    User.objects.bulk_create(users)
    assert [u.handle for u in users] == ["wanjiku.kamau2", "wanjiku.kamau3", "otieno.kamau"]


@pytest.mark.django_db(transaction=True)
def test_two_people_with_one_name_signing_up_at_once_both_get_a_handle(monkeypatch):
    # Both pick "wanjiku.kamau" before either inserts; the database refuses the second, which takes the next.
    picked = threading.Barrier(2, timeout=10)
    original = accounts.models.handle_first_free
    first_pick = threading.local()

    def pick_then_wait(base, *, taken):
        handle = original(base, taken=taken)
        if not getattr(first_pick, "done", False):
            first_pick.done = True
            picked.wait()
        return handle

    monkeypatch.setattr(accounts.models, "handle_first_free", pick_then_wait)
    created, errors = [], []

    def sign_up(n):
        try:
            created.append(
                UserFactory(email=f"race{n}@example.co.ke", first_name="Wanjiku", last_name="Kamau")
            )
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(User.objects.values_list("handle", flat=True)) == [
        "wanjiku.kamau",
        "wanjiku.kamau2",
    ]


def test_public_and_social_representations_show_the_handle(anon_client, technician):
    (row,) = anon_client.get("/api/v1/users/technicians/search").json()["results"]
    assert row["handle"] == "kiprop.cheruiyot"
    client = bearer_client(technician)
    post = client.post("/api/v1/posts", {"type": "text", "body": "Karibu"}).json()
    assert post["author"]["handle"] == "kiprop.cheruiyot"


def test_staff_edits_in_the_admin_are_validated_like_the_database(customer, other_customer):
    other_customer.handle = customer.handle
    with pytest.raises(ValidationError, match="handle"):
        other_customer.validate_constraints()
    other_customer.handle = "Not Valid"
    with pytest.raises(ValidationError, match="letters, digits, dots or underscores"):
        other_customer.clean_fields(exclude={"password"})
