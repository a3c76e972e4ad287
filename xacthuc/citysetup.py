"""The city's keys at the edge: refusing a data dir without a city, the one keystore passphrase resolver, and
unlocking (or creating) the city for the builder (``xacthuc.services.build_services``)."""

from __future__ import annotations

import getpass
import logging
import sys
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session

from keys.bootstrap import City, city_exists, create_city, load_city
from keys.errors import CityNotFound, KeystoreExists, KeystorePassphraseMissing
from keys.keystore import Passphrase, dev_passphrase, passphrase_from_file
from xacthuc.settings import Settings

__all__ = [
    "DEV_PASSPHRASE_FILE",
    "prepare_data_dir",
    "refuse_existing_city",
    "require_city",
    "resolve_passphrase",
    "unlock_city",
    "warn_dev_passphrase",
]

log = logging.getLogger("xacthuc")

DEV_PASSPHRASE_FILE = "dev-passphrase"  # noqa: S105 (a file name, not a secret)


def prepare_data_dir(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)


def require_city(settings: Settings) -> None:
    """Refuse a data dir that holds no city, before anything is written into it: only ``xacthuc init`` and
    ``xacthuc serve --dev`` create a city, so a mistyped ``--data-dir`` never becomes a new one."""
    if not city_exists(settings.data_dir):
        raise CityNotFound(
            f"no city in {settings.data_dir} (it has no keystore): check --data-dir or XACTHUC_DATA_DIR; "
            "a new city is created only by `xacthuc init` or `xacthuc serve --dev`",
            data_dir=str(settings.data_dir),
        )


def refuse_existing_city(settings: Settings) -> None:
    """``xacthuc init`` on a data dir that already holds a city: refused before a passphrase is asked for."""
    if city_exists(settings.data_dir):
        raise KeystoreExists(f"{settings.data_dir} already holds a city")


def resolve_passphrase(settings: Settings, *, confirm: bool = False) -> Passphrase:
    """``XACTHUC_KEYSTORE_PASSPHRASE``, else ``..._FILE``, else in development mode the generated dev passphrase,
    else a prompt on a terminal (twice with ``confirm``); otherwise ``KEYSTORE_PASSPHRASE_MISSING``.

    An empty value or file is refused, never taken as "not set". Development mode generates a passphrase only for
    a new city, or reads the one it generated: a city created with a real passphrase keeps needing it.
    """
    if settings.keystore_passphrase is not None:
        return Passphrase(settings.keystore_passphrase, source="XACTHUC_KEYSTORE_PASSPHRASE")
    if settings.keystore_passphrase_file is not None:
        return passphrase_from_file(settings.keystore_passphrase_file)
    if settings.dev_mode and ((settings.data_dir / DEV_PASSPHRASE_FILE).exists() or not city_exists(settings.data_dir)):
        return dev_passphrase(settings.data_dir)
    if not sys.stdin.isatty():
        raise KeystorePassphraseMissing(
            "no keystore passphrase: set XACTHUC_KEYSTORE_PASSPHRASE or XACTHUC_KEYSTORE_PASSPHRASE_FILE "
            "(development: `xacthuc serve --dev` or XACTHUC_DEV_MODE=true)"
        )
    value = getpass.getpass("Keystore passphrase: ")
    if confirm and getpass.getpass("The same passphrase again: ") != value:
        raise KeystorePassphraseMissing("the two passphrases differ")
    return Passphrase(value, source="prompt")


def warn_dev_passphrase(settings: Settings, passphrase: Passphrase) -> None:
    if passphrase.dev_mode:
        log.warning(
            "DEV MODE: the keystore passphrase is stored in %s; never run production like this",
            settings.data_dir,
        )


def unlock_city(settings: Settings, engine: Engine, passphrase: Passphrase, now: datetime, *, create: bool) -> City:
    """The city in the data dir, unlocked; with ``create`` (``init``, ``serve --dev``), created first on a fresh
    data dir (outside development mode no agency is created and no secret leaves the keystore)."""
    warn_dev_passphrase(settings, passphrase)
    with Session(engine, expire_on_commit=False) as session:
        demo = settings.dev_mode
        if create and not city_exists(settings.data_dir):
            city = create_city(settings.data_dir, session, passphrase, now, demo=demo)
        else:
            city = load_city(settings.data_dir, session, passphrase, now, demo=demo)
        session.commit()
    return city
