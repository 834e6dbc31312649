"""On MySQL/MariaDB, the unique constraints allauth declares with a condition (models.W036:
not supported there) as unique indexes on generated columns, which the database enforces
whatever the application does and however requests interleave:
- one verified row per e-mail address (account_emailaddress, ACCOUNT_UNIQUE_EMAIL);
- one primary address per user;
- one TOTP and one recovery-codes authenticator per user (mfa_authenticator).
A generated column is NULL where the condition is false, and a unique index allows any number
of NULLs, which is exactly the condition. Django never names these columns, so the ORM is
unaffected. SQLite and PostgreSQL create allauth's own partial indexes and need none of this.
"""

from django.db import migrations

COLUMNS = [
    (
        "account_emailaddress",
        "brainscan_verified_email",
        "VARCHAR(254) AS (IF(`verified`, `email`, NULL)) STORED",
    ),
    (
        "account_emailaddress",
        "brainscan_primary_user",
        "BIGINT AS (IF(`primary`, `user_id`, NULL)) STORED",
    ),
    (
        "mfa_authenticator",
        "brainscan_single_authenticator",
        "VARCHAR(40) AS (IF(`type` IN ('totp', 'recovery_codes'), "
        "CONCAT(`user_id`, ':', `type`), NULL)) STORED",
    ),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    for table, column, definition in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE `{table}` ADD COLUMN `{column}` {definition}, "
            f"ADD UNIQUE INDEX `{column}_uniq` (`{column}`)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    for table, column, _definition in COLUMNS:
        schema_editor.execute(f"ALTER TABLE `{table}` DROP COLUMN `{column}`")


class Migration(migrations.Migration):
    atomic = False  # DDL on MySQL
    dependencies = [
        ("accounts", "0001_initial"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("mfa", "0003_authenticator_type_uniq"),
    ]

    operations = [migrations.RunPython(create, drop)]
