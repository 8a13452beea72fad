"""Failed sign-ins racing each other still lock the account at exactly the fifth failure."""

import threading

import pytest
from django.db import connection

from accounts.errors import AccountLocked, InvalidCredentials
from accounts.models import User
from accounts.services import auth_login
from conftest import make_user


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_all_counted_and_lock_the_account():
    user = make_user(email="racer@example.co.ke", phone_number="+254700999888")
    barrier = threading.Barrier(5)
    outcomes: list[str] = []

    def attempt():
        try:
            barrier.wait(timeout=10)
            auth_login(email="racer@example.co.ke", password="wrong-password")
        except InvalidCredentials:
            outcomes.append("invalid")
        except AccountLocked:
            outcomes.append("locked")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    user.refresh_from_db()
    assert len(outcomes) == 5
    assert user.is_locked
    assert user.failed_login_attempts == 0  # reset when the lock was set
    assert "locked" in outcomes
    with pytest.raises(AccountLocked):
        auth_login(email="racer@example.co.ke", password="S3cure-Passw0rd!")
    assert User.objects.get(pk=user.pk).is_locked
