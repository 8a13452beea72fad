"""A partial GiST index on the location of active technicians, for the matching pre-filter.

It lives in accounts' table but is created here because only matching's query uses it (see
matching/selectors.py): the bounding-box condition `point(longitude, latitude) <@ box(...)` and the KNN
ordering `<-> point(...)` both run on it.
"""

from django.db import migrations

INDEX_SQL = """
CREATE INDEX IF NOT EXISTS matching_technician_location_gist
ON accounts_user USING gist (point(longitude, latitude))
WHERE role = 'technician' AND is_active
  AND latitude IS NOT NULL AND longitude IS NOT NULL AND deleted_at IS NULL
"""


class Migration(migrations.Migration):
    dependencies = [
        ("matching", "0001_initial"),
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            INDEX_SQL,
            reverse_sql="DROP INDEX IF EXISTS matching_technician_location_gist",
        ),
    ]
