"""GIN index on Statement.refs (PostgreSQL only; embedded SQLite filters by scanning)."""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS xapi_stmt_refs_gin ON analytics_statement "
    "USING gin (refs jsonb_path_ops)"
)
DROP = "DROP INDEX IF EXISTS xapi_stmt_refs_gin"


def _create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def _drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("analytics", "0001_initial")]

    operations = [migrations.RunPython(_create, _drop)]
