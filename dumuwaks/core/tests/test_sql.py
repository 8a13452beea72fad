"""The hot reads' cursor: prepared after the threshold, counted like any query, errors are Django's."""

import pytest
from django.db import DatabaseError, connection, transaction

from accounts.selectors import user_for_access_token
from dumuwaks.core.sql import prepared_cursor

pytestmark = pytest.mark.django_db


def test_a_hot_read_becomes_a_prepared_statement(customer):
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert threshold == 5
    for _ in range(threshold + 1):
        assert user_for_access_token(user_id=customer.pk).pk == customer.pk
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [statement for (statement,) in cursor.fetchall()]
    assert any('FROM "accounts_user" WHERE "id" = $1' in s for s in statements), statements


def test_its_queries_are_counted_and_its_errors_are_djangos(customer, django_assert_num_queries):
    with django_assert_num_queries(1):
        user_for_access_token(user_id=customer.pk)
    with pytest.raises(DatabaseError), transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM accounts_user")
