"""Mentions by handle (issue 19 item 4): `@wanjiku.kamau` in a post mentions and notifies that user, in any
case; an unknown handle is plain text; `@[<user id>]` keeps working."""

import pytest

from accounts.services import user_delete
from accounts.tests.factories import UserFactory
from notifications.models import Notification
from social.models import PostMention
from social.services import posts as post_services
from social.services.posts import extract_mention_handles
from tests.schema import openapi_schema

pytestmark = pytest.mark.django_db

URL = "/api/v1/posts"


def _post(client, body, capture):
    with capture(execute=True):
        response = client.post(URL, {"type": "text", "body": body})
    assert response.status_code == 201, response.json()
    return response.json()


def test_mention_by_handle_notifies(
    technician_client, technician, customer, django_capture_on_commit_callbacks
):
    assert customer.handle == "wanjiku.kamau"

    post = _post(
        technician_client, "Asante @wanjiku.kamau for the tea!", django_capture_on_commit_callbacks
    )

    assert post["mentions"] == [
        {"id": customer.id, "handle": "wanjiku.kamau", "fullName": "Wanjiku Kamau"}
    ]
    (notification,) = Notification.objects.filter(user=customer)
    assert notification.type == "social.mentioned"
    assert notification.data["post_id"] == post["id"]


def test_handles_match_in_any_case(technician_client, customer, django_capture_on_commit_callbacks):
    post = _post(technician_client, "cc @Wanjiku.KAMAU", django_capture_on_commit_callbacks)

    assert [m["id"] for m in post["mentions"]] == [customer.id]


def test_unknown_handle_is_plain_text(
    technician_client, customer, django_capture_on_commit_callbacks
):
    post = _post(
        technician_client, "hello @wanjiku and @nobody.here", django_capture_on_commit_callbacks
    )

    assert post["mentions"] == []
    assert post["body"] == "hello @wanjiku and @nobody.here"
    assert not Notification.objects.exists()


def test_id_syntax_still_works_and_both_forms_mention_once(
    technician_client, customer, other_customer, domain_events, django_capture_on_commit_callbacks
):
    post = _post(
        technician_client,
        f"@[{other_customer.id}] @wanjiku.kamau @[{customer.id}] @WANJIKU.kamau",
        django_capture_on_commit_callbacks,
    )

    assert sorted(m["id"] for m in post["mentions"]) == sorted([other_customer.id, customer.id])
    assert sorted(e[1]["user_id"] for e in domain_events) == sorted(
        [other_customer.id, customer.id]
    )


def test_own_handle_deleted_and_inactive_users_are_not_mentioned(
    customer_client, customer, other_customer, admin_user, django_capture_on_commit_callbacks
):
    gone = UserFactory(email="gone@example.co.ke", first_name="Akinyi", last_name="Otieno")
    inactive = UserFactory(email="off@example.co.ke", first_name="Baraka", last_name="Mwangi")
    inactive.is_active = False
    inactive.save(update_fields=["is_active"])
    user_delete(user=gone, actor=admin_user)

    post = _post(
        customer_client,
        f"@wanjiku.kamau @akinyi.otieno @baraka.mwangi @{other_customer.handle}",
        django_capture_on_commit_callbacks,
    )

    assert [m["id"] for m in post["mentions"]] == [other_customer.id]


def test_editing_announces_only_handles_newly_mentioned(
    customer, technician, other_technician, domain_events, django_capture_on_commit_callbacks
):
    post = post_services.post_create(author=customer, body=f"hi @{technician.handle}")

    with django_capture_on_commit_callbacks(execute=True):
        post_services.post_update(
            post_id=post.id,
            actor=customer,
            body=f"hi @{technician.handle.upper()} and @{other_technician.handle}",
        )

    assert domain_events == [
        ("social.mentioned", {"post_id": post.id, "user_id": other_technician.id})
    ]
    assert set(PostMention.objects.filter(post=post).values_list("user_id", flat=True)) == {
        technician.id,
        other_technician.id,
    }


@pytest.mark.parametrize(
    ("text", "handles"),
    [
        ("Thanks @wanjiku.kamau.", ["wanjiku.kamau"]),  # a sentence's full stop is not the handle's
        ("@Wanjiku.Kamau, @otieno_2!", ["wanjiku.kamau", "otieno_2"]),
        ("(@kiprop.cheruiyot) and @kiprop.cheruiyot again", ["kiprop.cheruiyot"]),
        ("mail kiprop@wanjiku.kamau or a.b@c", []),  # email addresses are not mentions
        ("@[12] is an id, @ alone and @. are nothing", []),
        ("@" + "a" * 31, []),  # longer than any handle
    ],
)
def test_extract_mention_handles(text, handles):
    assert extract_mention_handles(text) == handles


def test_the_schema_documents_the_mention_syntax():
    schemas = openapi_schema()["components"]["schemas"]
    for name in ("PostCreateInputRequest", "PatchedPostUpdateInputRequest"):
        description = schemas[name]["properties"]["body"]["description"]
        assert "@handle" in description and "@[<user id>]" in description
    assert "handle" in schemas["SocialUser"]["properties"]
