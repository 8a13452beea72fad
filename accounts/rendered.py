"""GET /auth/me from the rendered-representation cache (`dumuwaks.core.rendered_cache`): the app asks for
it on every start, and building it took two thirds of the request."""

from django.core.cache import cache

from accounts import selectors
from accounts.serializers import AccountUserSerializer
from dumuwaks.core import rendered_cache
from dumuwaks.core.renderers import PreRendered

# Part of every key: bump it when the account representation changes, so a deploy never serves old shapes.
REPRESENTATION_SCHEMA = 2


def own_account(*, user) -> PreRendered | None:
    """The signed-in user's account as `AccountUserSerializer` renders it; None if the user is gone."""
    version = selectors.account_version(user_id=user.pk)
    if version is None:
        return None
    key = f"account-json:{REPRESENTATION_SCHEMA}:{user.pk}:{version}"
    body = cache.get(key)
    if body is None:
        # Read after the version: if the rows changed in between, this is newer than the key says, and
        # only requests that read the older version can ask for this key.
        account = selectors.user_get_with_profile(user_id=user.pk)
        body = rendered_cache.render(AccountUserSerializer(account).data)
        cache.set(key, body, timeout=rendered_cache.timeout())
    return PreRendered(body)
