from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from bookings.models import BookingStatus
from conftest import bearer_client
from social import rules
from social.models import (
    Comment,
    EngagementEvent,
    Hashtag,
    Like,
    Post,
    PostModeration,
    PostReport,
    PostStatus,
    Share,
)
from social.services import posts as post_services
from social.tests.factories import MediaAssetFactory, PostFactory, make_booking

pytestmark = pytest.mark.django_db

URL = "/api/v1/posts"


@pytest.fixture(autouse=True)
def _no_feed_lag(monkeypatch):
    monkeypatch.setattr(rules, "FEED_SNAPSHOT_LAG", timedelta(0))


def backdate(post, hours: float):
    Post.objects.filter(pk=post.pk).update(created_at=timezone.now() - timedelta(hours=hours))


# --- create / read / edit / delete ----------------------------------------------------------------------------


def test_create_text_post_extracts_hashtags_and_mentions(
    customer_client, customer, technician, django_capture_on_commit_callbacks, domain_events
):
    body = f"Great job on my #Plumbing by @[{technician.id}] #plumbing #Nairobi2026 and @[{customer.id}] #1"

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(URL, {"type": "text", "body": body})

    assert response.status_code == 201, response.json()
    post = response.json()
    assert sorted(post["hashtags"]) == ["nairobi2026", "plumbing"]
    assert [m["id"] for m in post["mentions"]] == [technician.id]  # self-mention ignored
    assert domain_events == [
        ("social.mentioned", {"post_id": post["id"], "user_id": technician.id})
    ]
    assert set(Hashtag.objects.values_list("name", flat=True)) == {"plumbing", "nairobi2026"}


def test_editing_announces_only_new_mentions(
    customer_client,
    customer,
    technician,
    other_technician,
    django_capture_on_commit_callbacks,
    domain_events,
):
    post = post_services.post_create(author=customer, body=f"hi @[{technician.id}]")

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.patch(
            f"{URL}/{post.id}", {"body": f"hi @[{technician.id}] and @[{other_technician.id}] #new"}
        )

    assert response.status_code == 200
    assert domain_events == [
        ("social.mentioned", {"post_id": post.id, "user_id": other_technician.id})
    ]
    assert response.json()["hashtags"] == ["new"]
    assert response.json()["editedAt"] is not None


def test_mention_of_unknown_user_is_ignored(customer_client):
    response = customer_client.post(URL, {"body": "hello @[999999] and @someone"})

    assert response.status_code == 201
    assert response.json()["mentions"] == []


def test_hashtag_filter(customer_client, customer, other_customer):
    tagged = post_services.post_create(author=customer, body="Fixed a #Leak today")
    post_services.post_create(author=other_customer, body="Nothing tagged")

    for tag in ("leak", "%23LEAK"):
        response = customer_client.get(f"{URL}?hashtag={tag}")
        assert response.status_code == 200
        assert [p["id"] for p in response.json()["results"]] == [tagged.id]


def test_image_post_with_own_media(customer_client, customer):
    images = [MediaAssetFactory(owner=customer) for _ in range(2)]

    response = customer_client.post(
        URL, {"type": "image", "body": "", "mediaIds": [images[1].id, images[0].id]}
    )

    assert response.status_code == 201
    assert [m["id"] for m in response.json()["media"]] == [images[1].id, images[0].id]


def test_cannot_attach_someone_elses_media(customer_client, other_customer):
    theirs = MediaAssetFactory(owner=other_customer)

    response = customer_client.post(URL, {"type": "image", "mediaIds": [theirs.id]})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_media"
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("type_", "resource_types"),
    [("image", ["video"]), ("video", ["image"]), ("text", ["image"]), ("image", [])],
)
def test_type_must_match_media(customer_client, customer, type_, resource_types):
    ids = [MediaAssetFactory(owner=customer, resource_type=rt).id for rt in resource_types]

    response = customer_client.post(URL, {"type": type_, "body": "x", "mediaIds": ids})

    assert response.status_code == 400
    assert not Post.objects.exists()


def test_portfolio_needs_own_completed_booking(
    technician_client, technician, customer, other_technician
):
    done = make_booking(customer=customer, technician=technician, status=BookingStatus.COMPLETED)
    pending = make_booking(customer=customer, technician=technician, status=BookingStatus.PENDING)
    someone_elses = make_booking(customer=customer, technician=other_technician)

    ok = technician_client.post(
        URL, {"type": "portfolio", "body": "Sink fixed", "bookingId": done.id}
    )
    assert ok.status_code == 201
    assert ok.json()["bookingId"] == done.id
    for booking_id in (pending.id, someone_elses.id, None):
        bad = technician_client.post(
            URL, {"type": "portfolio", "body": "Sink fixed", "bookingId": booking_id}
        )
        assert bad.status_code == 400
        assert bad.json()["code"] == "invalid_portfolio_booking"
    assert Post.objects.count() == 1


def test_only_author_edits(customer_client, other_customer_client, customer):
    post = PostFactory(author=customer, body="original")

    response = other_customer_client.patch(f"{URL}/{post.id}", {"body": "hacked"})

    assert response.status_code == 403
    post.refresh_from_db()
    assert post.body == "original"


def test_author_deletes_own_post(customer_client, other_customer_client, customer):
    post = PostFactory(author=customer)

    assert other_customer_client.delete(f"{URL}/{post.id}").status_code == 403
    assert Post.objects.filter(pk=post.pk).exists()
    assert customer_client.delete(f"{URL}/{post.id}").status_code == 204
    assert not Post.objects.filter(pk=post.pk).exists()


def test_staff_delete_is_a_moderated_removal(support_client, support_agent, customer):
    post = PostFactory(author=customer)

    assert support_client.delete(f"{URL}/{post.id}").status_code == 204

    post.refresh_from_db()
    assert post.status == PostStatus.REMOVED
    history = PostModeration.objects.get(post=post)
    assert (history.actor, history.from_status, history.to_status) == (
        support_agent,
        "published",
        "removed",
    )


# --- likes, shares, comments -----------------------------------------------------------------------------------


def test_like_and_unlike_are_idempotent(customer_client, customer, other_customer):
    post = PostFactory(author=other_customer)

    first = customer_client.post(f"{URL}/{post.id}/like")
    second = customer_client.post(f"{URL}/{post.id}/like")

    assert first.json() == {"liked": True, "likeCount": 1}
    assert second.json() == {"liked": True, "likeCount": 1}
    assert Like.objects.filter(post=post).count() == 1
    assert customer_client.get(f"{URL}/{post.id}").json()["likedByMe"] is True

    assert customer_client.delete(f"{URL}/{post.id}/like").json() == {
        "liked": False,
        "likeCount": 0,
    }
    assert customer_client.delete(f"{URL}/{post.id}/like").json() == {
        "liked": False,
        "likeCount": 0,
    }
    assert list(EngagementEvent.objects.filter(post=post).values_list("points", flat=True)) == [
        3,
        -3,
    ]


def test_share_counts_once_per_user(customer_client, other_customer_client, customer):
    post = PostFactory(author=customer)

    customer_client.post(f"{URL}/{post.id}/share")
    other_customer_client.post(f"{URL}/{post.id}/share")
    response = other_customer_client.post(f"{URL}/{post.id}/share")

    assert response.json() == {"shared": True, "shareCount": 2}
    assert Share.objects.filter(post=post).count() == 2


def test_comments_with_one_level_of_replies(customer_client, other_customer_client, customer):
    post = PostFactory(author=customer)

    top = other_customer_client.post(f"{URL}/{post.id}/comments", {"body": "Nice work"}).json()
    reply = customer_client.post(
        f"{URL}/{post.id}/comments", {"body": "Thanks!", "parentId": top["id"]}
    )
    assert reply.status_code == 201
    too_deep = other_customer_client.post(
        f"{URL}/{post.id}/comments", {"body": "deeper", "parentId": reply.json()["id"]}
    )
    assert too_deep.status_code == 400
    assert too_deep.json()["code"] == "reply_depth_exceeded"

    listing = customer_client.get(f"{URL}/{post.id}/comments").json()
    assert listing["count"] == 1
    assert [r["body"] for r in listing["results"][0]["replies"]] == ["Thanks!"]
    post.refresh_from_db()
    assert post.comment_count == 2


def test_parent_from_another_post_is_rejected(customer_client, customer):
    post, other = PostFactory(author=customer), PostFactory(author=customer)
    foreign = post_services.comment_create(post=other, author=customer, body="elsewhere")

    response = customer_client.post(
        f"{URL}/{post.id}/comments", {"body": "x", "parentId": foreign.id}
    )

    assert response.status_code == 400


def test_comment_deletion_rules(
    customer_client, other_customer_client, technician_client, customer, other_customer
):
    post = PostFactory(author=customer)
    theirs = post_services.comment_create(post=post, author=other_customer, body="mine")
    post_services.comment_create(post=post, author=customer, body="reply", parent_id=theirs.id)

    assert technician_client.delete(f"{URL}/comments/{theirs.id}").status_code == 403
    assert Comment.objects.count() == 2
    assert other_customer_client.delete(f"{URL}/comments/{theirs.id}").status_code == 204
    assert not Comment.objects.exists()
    post.refresh_from_db()
    assert post.comment_count == 0
    assert customer_client.delete(f"{URL}/comments/{theirs.id}").status_code == 404


# --- moderation & reports ------------------------------------------------------------------------------------


def test_reporting_once_per_user(other_customer_client, customer_client, customer):
    post = PostFactory(author=customer)

    first = other_customer_client.post(f"{URL}/{post.id}/report", {"reason": "spam"})
    assert first.status_code == 201
    assert first.json()["status"] == "open" and first.json()["postId"] == post.id
    again = other_customer_client.post(f"{URL}/{post.id}/report", {"reason": "spam again"})
    own = customer_client.post(f"{URL}/{post.id}/report", {"reason": "oops"})

    assert again.status_code == 409 and again.json()["code"] == "already_reported"
    assert own.status_code == 400
    assert PostReport.objects.count() == 1


def test_moderation_requires_staff(customer_client, technician_client, customer):
    post = PostFactory(author=customer)

    for client in (customer_client, technician_client):
        assert client.post(f"{URL}/{post.id}/moderate", {"action": "hide"}).status_code == 403
        assert client.get(f"{URL}/reports").status_code == 403
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert not PostModeration.objects.exists()


def test_hide_and_restore_flow(
    support_client, customer_client, other_customer_client, customer, support_agent
):
    post = PostFactory(author=customer)
    other_customer_client.post(f"{URL}/{post.id}/report", {"reason": "offensive"})
    queue = support_client.get(f"{URL}/reports").json()
    assert [r["post"]["id"] for r in queue["results"]] == [post.id]

    hidden = support_client.post(f"{URL}/{post.id}/moderate", {"action": "hide", "reason": "abuse"})

    assert hidden.status_code == 200 and hidden.json()["status"] == "hidden"
    assert other_customer_client.get(f"{URL}/{post.id}").status_code == 404
    assert other_customer_client.post(f"{URL}/{post.id}/like").status_code == 404
    mine = customer_client.get(f"{URL}/{post.id}")
    assert mine.status_code == 200
    assert mine.json()["status"] == "hidden" and mine.json()["moderationReason"] == "abuse"
    assert post.id not in [p["id"] for p in other_customer_client.get(URL).json()["results"]]
    assert support_client.get(f"{URL}/reports").json()["count"] == 0
    report = PostReport.objects.get()
    assert (report.status, report.resolved_by) == ("actioned", support_agent)
    resolved_at = report.resolved_at
    assert resolved_at is not None

    restored = support_client.post(f"{URL}/{post.id}/moderate", {"action": "restore"})
    assert restored.json()["status"] == "published"
    # A resolved report stays as the moderation that resolved it left it (REPORT_MACHINE: final).
    report.refresh_from_db()
    assert (report.status, report.resolved_at) == ("actioned", resolved_at)
    assert other_customer_client.get(f"{URL}/{post.id}").status_code == 200
    assert list(PostModeration.objects.values_list("from_status", "to_status")) == [
        ("published", "hidden"),
        ("hidden", "published"),
    ]


def test_invalid_moderation_transition_is_409(support_client, customer):
    post = PostFactory(author=customer)

    response = support_client.post(f"{URL}/{post.id}/moderate", {"action": "restore"})

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


# --- feed ------------------------------------------------------------------------------------------------------


def _score(likes, comments, shares, age_hours):
    return (likes * 3 + comments * 5 + shares * 10 + 1) / (age_hours + 2) ** 1.5


def _engage(post, *, likes=0, comments=0, shares=0, users):
    for user in users[:likes]:
        post_services.post_like(post=post, user=user)
    for user in users[:comments]:
        post_services.comment_create(post=post, author=user, body="!")
    for user in users[:shares]:
        post_services.post_share(post=post, user=user)


@pytest.fixture
def crowd(db):
    return [UserFactory(email=f"fan{i}@example.co.ke") for i in range(6)]


def test_feed_ranks_by_engagement_and_recency(customer_client, customer, crowd):
    fresh = PostFactory(author=customer)
    old_popular = PostFactory(author=customer)
    old_quiet = PostFactory(author=customer)
    middle = PostFactory(author=customer)
    backdate(fresh, 0.5)
    backdate(old_popular, 20)
    backdate(old_quiet, 20)
    backdate(middle, 5)
    _engage(old_popular, likes=6, comments=3, shares=2, users=crowd)
    _engage(middle, likes=1, users=crowd)

    response = customer_client.get(f"{URL}/feed")

    assert response.status_code == 200
    body = response.json()
    as_of = datetime.fromisoformat(body["feedToken"])
    expected = {}
    for post, counts in (
        (fresh, (0, 0, 0)),
        (old_popular, (6, 3, 2)),
        (old_quiet, (0, 0, 0)),
        (middle, (1, 0, 0)),
    ):
        post.refresh_from_db()
        expected[post.id] = _score(*counts, (as_of - post.created_at).total_seconds() / 3600)
    ranked = sorted(expected, key=lambda pid: (-expected[pid], -pid))
    assert [p["id"] for p in body["results"]] == ranked
    for item in body["results"]:
        assert item["score"] == pytest.approx(expected[item["id"]], rel=1e-9)
    assert body["count"] == 4 and body["next"] is None


def test_feed_covers_the_window_before_its_snapshot_time(customer_client, customer, monkeypatch):
    monkeypatch.setattr(rules, "FEED_WINDOW", timedelta(days=30))
    recent = PostFactory(author=customer)
    at_the_edge = PostFactory(author=customer)
    too_old = PostFactory(author=customer)
    backdate(recent, 24 * 29)
    backdate(at_the_edge, 24 * 30 - 1)
    backdate(too_old, 24 * 30 + 1)

    body = customer_client.get(f"{URL}/feed").json()

    assert [p["id"] for p in body["results"]] == [recent.id, at_the_edge.id]
    assert body["count"] == 2
    # Still reachable by author (and hashtag) outside the feed.
    listed = customer_client.get(f"{URL}?author={customer.pk}").json()
    assert too_old.id in [p["id"] for p in listed["results"]]


def test_feed_paging_is_stable_and_complete_while_engagement_changes(
    customer_client, customer, other_customer, crowd
):
    posts = []
    for i in range(23):
        post = PostFactory(author=customer if i % 2 else other_customer)
        backdate(post, hours=1 + (i * 7) % 30)
        posts.append(post)
    for i, post in enumerate(posts[:12]):
        _engage(post, likes=i % 6, comments=i % 3, shares=i % 2, users=crowd)
    hidden_before = PostFactory(author=customer, status=PostStatus.HIDDEN)

    first = customer_client.get(f"{URL}/feed?pageSize=5").json()
    seen = [p["id"] for p in first["results"]]
    scores = [p["score"] for p in first["results"]]
    assert first["count"] == 23 and hidden_before.id not in seen

    # Between page requests: the weakest posts get very popular, a new post appears, a seen post is liked.
    unseen = [p for p in posts if p.id not in seen]
    for post in unseen[-3:]:
        _engage(post, likes=6, comments=3, shares=6, users=crowd)
    post_services.post_like(post=Post.objects.get(pk=seen[0]), user=crowd[-1])
    newcomer = PostFactory(author=customer)

    next_url = first["next"]
    pages = 1
    while next_url:
        assert parse_qs(urlparse(next_url).query)["pageSize"] == ["5"]
        page = customer_client.get(next_url).json()
        seen += [p["id"] for p in page["results"]]
        scores += [p["score"] for p in page["results"]]
        next_url = page["next"]
        pages += 1

    assert pages == 5
    assert len(seen) == len(set(seen)) == 23
    assert set(seen) == {p.id for p in posts}
    assert newcomer.id not in seen
    assert scores == sorted(scores, reverse=True)
    # A fresh feed reflects the new engagement immediately.
    refreshed = customer_client.get(f"{URL}/feed?pageSize=5").json()
    assert newcomer.id in [p["id"] for p in refreshed["results"]] or refreshed["count"] == 24


def test_feed_post_deleted_between_pages_is_not_skipping_others(customer_client, customer):
    posts = [PostFactory(author=customer) for _ in range(9)]
    for i, post in enumerate(posts):
        backdate(post, hours=i + 1)

    first = customer_client.get(f"{URL}/feed?pageSize=3").json()
    seen = [p["id"] for p in first["results"]]
    Post.objects.filter(pk=seen[0]).delete()  # author deleted a post already shown
    next_url = first["next"]
    while next_url:
        page = customer_client.get(next_url).json()
        seen += [p["id"] for p in page["results"]]
        next_url = page["next"]

    assert sorted(seen) == sorted(p.id for p in posts)


def test_feed_rejects_garbage_cursor(customer_client):
    response = customer_client.get(f"{URL}/feed?cursor=not-a-cursor")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_feed_snapshot_lag_hides_posts_younger_than_lag(customer_client, customer, monkeypatch):
    monkeypatch.setattr(rules, "FEED_SNAPSHOT_LAG", timedelta(seconds=60))
    old, new = PostFactory(author=customer), PostFactory(author=customer)
    backdate(old, 1)

    ids = [p["id"] for p in customer_client.get(f"{URL}/feed").json()["results"]]

    assert ids == [old.id]
    assert new.id not in ids


# --- query counts ----------------------------------------------------------------------------------------------


def _rich_posts(customer, users, n):
    for i in range(n):
        post = post_services.post_create(
            author=users[i % len(users)],
            type="image",
            body=f"#tag{i} @[{customer.id}]",
            media_ids=[MediaAssetFactory(owner=users[i % len(users)]).id],
        )
        post_services.post_like(post=post, user=customer)
        post_services.comment_create(post=post, author=customer, body="c")
        backdate(post, i + 1)


@pytest.mark.parametrize("path", ["", "/feed"])
def test_list_endpoints_run_constant_queries(
    customer_client, customer, crowd, django_assert_max_num_queries, path
):
    _rich_posts(customer, crowd, 12)
    with django_assert_max_num_queries(7) as small:
        customer_client.get(f"{URL}{path}?pageSize=2")
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = customer_client.get(f"{URL}{path}?pageSize=12")
    assert len(response.json()["results"]) == 12


def test_comment_and_report_lists_run_constant_queries(
    support_client, customer, crowd, django_assert_max_num_queries
):
    post = PostFactory(author=customer)
    for user in crowd:
        top = post_services.comment_create(post=post, author=user, body="top")
        post_services.comment_create(post=post, author=customer, body="re", parent_id=top.id)
        other = PostFactory(author=customer)
        post_services.post_report(post=other, reporter=user, reason="spam")

    for path in (f"{URL}/{post.id}/comments", f"{URL}/reports"):
        with django_assert_max_num_queries(6) as small:
            support_client.get(f"{path}?pageSize=2")
        with django_assert_max_num_queries(len(small.captured_queries)):
            response = support_client.get(f"{path}?pageSize=6")
        assert len(response.json()["results"]) == 6


def test_anonymous_cannot_read_posts(anon_client, customer):
    post = PostFactory(author=customer)

    assert anon_client.get(f"{URL}/{post.id}").status_code == 401
    assert anon_client.get(f"{URL}/feed").status_code == 401


def test_bearer_helper_reused(customer):
    assert bearer_client(customer).get(f"{URL}/feed").status_code == 200


def test_posts_of_deactivated_accounts_disappear(customer_client, other_customer):
    post = PostFactory(author=other_customer)
    backdate(post, 1)
    other_customer.is_active = False
    other_customer.save(update_fields=["is_active"])

    assert customer_client.get(f"{URL}/{post.id}").status_code == 404
    assert customer_client.get(URL).json()["count"] == 0
    assert customer_client.get(f"{URL}/feed").json()["count"] == 0
