"""Backups: ``xacthuc backup create|restore``. One encrypted file holds the database (neutral between SQLite and
PostgreSQL, so a restore is also how a city moves from one to the other), the keystore and the data directory's
other files, and the registry record; docs/operations.md says how to use it."""

from xacthuc.backup.archive import BackupSummary, Progress, create_backup, restore_backup
from xacthuc.backup.errors import (
    BackupDamaged,
    BackupError,
    BackupExists,
    BackupPassphraseWrong,
    BackupUnsupported,
    RestoreTargetNotEmpty,
)
from xacthuc.backup.sealed_file import read_header
from xacthuc.backup.tables import redact

__all__ = [
    "BackupDamaged",
    "BackupError",
    "BackupExists",
    "BackupPassphraseWrong",
    "BackupSummary",
    "BackupUnsupported",
    "Progress",
    "RestoreTargetNotEmpty",
    "create_backup",
    "read_header",
    "redact",
    "restore_backup",
]
