import pytest
from django.urls import reverse

from social.models import PostModeration, PostStatus
from social.tests.factories import MediaAssetFactory, PostFactory, make_booking

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client, admin_user):
    client.force_login(admin_user)
    return client


def test_changelists_render(admin_web, customer, technician):
    PostFactory(author=customer, body="#hello")
    MediaAssetFactory(owner=customer)
    make_booking(customer=customer, technician=technician)
    for model in ("mediaasset", "post", "comment", "postreport", "review", "hashtag"):
        response = admin_web.get(reverse(f"admin:social_{model}_changelist"))
        assert response.status_code == 200, model


def test_admin_hide_action_uses_transition(admin_web, admin_user, customer):
    post = PostFactory(author=customer)

    response = admin_web.post(
        reverse("admin:social_post_changelist"),
        {"action": "hide_posts", "_selected_action": [post.pk]},
    )

    assert response.status_code == 302
    post.refresh_from_db()
    assert post.status == PostStatus.HIDDEN
    assert PostModeration.objects.get(post=post).actor == admin_user
