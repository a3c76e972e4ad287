"""The backup branch of the error tree: a backup that cannot be made, opened or restored."""

from __future__ import annotations

from keys.errors import InvalidInput, XacthucError

__all__ = [
    "BackupDamaged",
    "BackupError",
    "BackupExists",
    "BackupPassphraseWrong",
    "BackupUnsupported",
    "RestoreTargetNotEmpty",
]


class BackupError(XacthucError):
    """A backup could not be made or restored."""

    code = "BACKUP_ERROR"
    http_status = 500


class BackupPassphraseWrong(BackupError):
    """The passphrase does not open this backup (it is the keystore passphrase of the city it was made from)."""

    code = "BACKUP_PASSPHRASE_WRONG"
    http_status = 401


class BackupDamaged(BackupError, InvalidInput):
    """The backup file is truncated, altered or not a xacthuc backup; nothing was restored."""

    code = "BACKUP_DAMAGED"
    http_status = 422


class BackupUnsupported(BackupError, InvalidInput):
    """The backup is of a format or database schema this version of xacthuc does not know."""

    code = "BACKUP_UNSUPPORTED"
    http_status = 422


class BackupExists(BackupError, InvalidInput):
    """The backup file already exists: a backup never overwrites a file."""

    code = "BACKUP_FILE_EXISTS"
    http_status = 409


class RestoreTargetNotEmpty(BackupError, InvalidInput):
    """The restore target (the data directory or the database) is not empty; nothing was restored."""

    code = "RESTORE_TARGET_NOT_EMPTY"
    http_status = 409
