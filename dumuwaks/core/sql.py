"""A cursor for the few hand-written reads on the hottest paths, run as prepared statements.

Django's cursors bind parameters on the client, so PostgreSQL parses and plans every query anew; for the
reads every API request makes (the token's user, a booking page) planning cost as much as running them.
This cursor binds on the server, and psycopg prepares a statement once it has run `prepare_threshold`
times on a connection (DATABASES OPTIONS; `DB_PREPARE_THRESHOLD`, empty to turn it off, e.g. behind a
PgBouncer older than 1.21 in transaction mode). Django still wraps it: errors become Django's, and query
logging and counting (tests, debug) see these queries.
"""

from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor


def prepared_cursor():
    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))
