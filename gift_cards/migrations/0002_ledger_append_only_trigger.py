"""On PostgreSQL the database itself refuses UPDATE and DELETE on the gift card ledger, so
not even raw SQL or a queryset bypassing the model can rewrite history. (TRUNCATE, which
test teardown uses, is a different statement and is not affected.)"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION gift_cards_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'gift card ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER gift_cards_ledger_append_only
    BEFORE UPDATE OR DELETE ON gift_cards_giftcardtransaction
    FOR EACH ROW EXECUTE FUNCTION gift_cards_ledger_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS gift_cards_ledger_append_only ON gift_cards_giftcardtransaction;
DROP FUNCTION IF EXISTS gift_cards_ledger_append_only();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("gift_cards", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
