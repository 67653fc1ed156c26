"""PostgreSQL refuses UPDATE and DELETE on the return audit log, whoever sends them."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION returns_audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'returns_returnauditlog is append-only: ' || TG_OP || ' refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER returns_audit_log_append_only
    BEFORE UPDATE OR DELETE ON returns_returnauditlog
    FOR EACH ROW EXECUTE FUNCTION returns_audit_log_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS returns_audit_log_append_only ON returns_returnauditlog;
DROP FUNCTION IF EXISTS returns_audit_log_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("returns", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
