"""On MySQL/MariaDB, the database itself refuses UPDATE and DELETE on the audit table.

The model refuses them through the ORM, but `QuerySet._raw_delete()` or SQL at a console
went straight through. Two exceptions keep the application and its tests working:
- an UPDATE that only sets actor_id to NULL (deleting an account: on_delete=SET_NULL; the
  hash chain does not cover actor_id, and actor_email keeps who it was);
- a session that has set @brainscan_audit_maintenance (the test suite, whose database flush
  between tests deletes every row; conftest.py sets it on its connections only).
SQLite has no such triggers here; the model's refusals and the hash chain apply everywhere.
"""

from django.db import migrations

COLUMNS = (
    "id", "at", "actor_email", "action", "object_type", "object_id", "ip", "detail",
    "prev_hash", "hash",
)  # fmt: skip
UNCHANGED = " AND ".join(f"NEW.{c} <=> OLD.{c}" for c in COLUMNS)
REFUSE = "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit_auditevent is append-only'"
CREATE = [
    f"""CREATE TRIGGER audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent
    FOR EACH ROW BEGIN
        IF @brainscan_audit_maintenance IS NULL
           AND NOT (NEW.actor_id IS NULL AND {UNCHANGED}) THEN {REFUSE}; END IF;
    END""",
    f"""CREATE TRIGGER audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent
    FOR EACH ROW BEGIN
        IF @brainscan_audit_maintenance IS NULL THEN {REFUSE}; END IF;
    END""",
]
DROP = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete",
]


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        for statement in [*DROP, *CREATE]:
            schema_editor.execute(statement)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "mysql":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    atomic = False  # MySQL cannot roll DDL back, so Django refuses it inside a transaction
    dependencies = [("audit", "0003_hash_chain")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
