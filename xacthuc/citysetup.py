"""The city's keys: creating a city (``xacthuc init``, ``serve --dev``), refusing a data dir without one, the one
keystore passphrase resolver, and handing the parts what they need from the unlocked keys."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from keys.bootstrap import City, city_exists, create_city, load_city
from keys.errors import CityNotFound, KeystoreExists, KeystorePassphraseMissing
from keys.keystore import Passphrase, dev_passphrase, passphrase_from_file
from xacthuc.database import migrate
from xacthuc.db import make_engine
from xacthuc.services import Services, prepare_data_dir
from xacthuc.settings import Settings

if TYPE_CHECKING:
    from xacthuc.anchor_accounts import AgencyAccounts

log = logging.getLogger("xacthuc")

DEV_PASSPHRASE_FILE = "dev-passphrase"  # noqa: S105 (a file name, not a secret)


def require_city(settings: Settings) -> None:
    """Refuse a data dir that holds no city, before anything is written into it: only ``xacthuc init`` and
    ``xacthuc serve --dev`` create a city, so a mistyped ``--data-dir`` never becomes a new one."""
    if not city_exists(settings.data_dir):
        raise CityNotFound(
            f"no city in {settings.data_dir} (it has no keystore): check --data-dir or XACTHUC_DATA_DIR; "
            "a new city is created only by `xacthuc init` or `xacthuc serve --dev`",
            data_dir=str(settings.data_dir),
        )


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
    import getpass

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


def attach_city(services: Services, passphrase: Passphrase, *, create: bool = False) -> City:
    """Unlock the city in the data dir; with ``create`` (``serve --dev``), create it first on a fresh data dir."""
    settings = services.settings
    warn_dev_passphrase(settings, passphrase)
    with Session(services.engine, expire_on_commit=False) as session:
        now, demo = services.clock(), settings.dev_mode
        if create and not city_exists(settings.data_dir):
            city = create_city(settings.data_dir, session, passphrase, now, demo=demo)
        else:
            city = load_city(settings.data_dir, session, passphrase, now, demo=demo)
        session.commit()
    services.city = city
    return city


def init_city(settings: Settings, now: datetime) -> City:
    """``xacthuc init``: a new city in the data dir (keystore, root key, the city's own row, the database).

    Outside development mode no agency is created and no secret is written anywhere but the keystore.
    """
    if city_exists(settings.data_dir):
        raise KeystoreExists(f"{settings.data_dir} already holds a city")
    passphrase = resolve_passphrase(settings, confirm=True)  # refused before anything is written
    warn_dev_passphrase(settings, passphrase)
    prepare_data_dir(settings)
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        with Session(engine, expire_on_commit=False) as session:
            city = create_city(settings.data_dir, session, passphrase, now, demo=settings.dev_mode)
            session.commit()
    finally:
        engine.dispose()
    return city


def anchoring_accounts(services: Services, *, fund_dev: bool) -> AgencyAccounts:
    """Every agency's Ethereum account, by address, re-read while the process runs: the worker anchors each
    agency's documents from its own. ``fund_dev``: our own development node funds new accounts."""
    from functools import partial

    from ledger.chain.client import ANCHOR_GAS_LIMIT
    from xacthuc.anchor_accounts import AgencyAccounts
    from xacthuc.chainsetup import fund_dev_accounts

    assert services.chain is not None
    w3, registry = services.chain.w3, services.registry()
    return AgencyAccounts(
        services.require_city(),
        balance=lambda address: int(w3.eth.get_balance(w3.to_checksum_address(address))),
        min_balance=lambda: ANCHOR_GAS_LIMIT * registry.suggest_fees().max_fee_per_gas,
        clock=services.clock,
        fund=partial(fund_dev_accounts, w3) if fund_dev else None,
    )


def admin_account(services: Services) -> Any:
    return services.require_city().admin_account
