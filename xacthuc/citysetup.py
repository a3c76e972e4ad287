"""Unlocking the city's keys at start-up and handing the parts what they need from them."""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import Session

from keys.bootstrap import City, bootstrap_city
from keys.keystore import Passphrase, dev_passphrase, passphrase_from_file
from xacthuc.services import Services
from xacthuc.settings import Settings

log = logging.getLogger("xacthuc")


def resolve_passphrase(settings: Settings) -> Passphrase:
    """``XACTHUC_KEYSTORE_PASSPHRASE``, else ``..._FILE``, else the generated dev passphrase (dev mode), else ask."""
    if settings.keystore_passphrase:
        return Passphrase(settings.keystore_passphrase, source="XACTHUC_KEYSTORE_PASSPHRASE")
    if settings.keystore_passphrase_file is not None:
        return passphrase_from_file(settings.keystore_passphrase_file)
    if settings.dev_mode:
        return dev_passphrase(settings.data_dir)
    import getpass

    return Passphrase(getpass.getpass("Keystore passphrase: "), source="prompt")


def attach_city(services: Services) -> City:
    """Unlock (or, on a fresh data dir, create) the keystore, the city root key and the demo agencies."""
    settings = services.settings
    passphrase = resolve_passphrase(settings)
    if passphrase.dev_mode:
        log.warning(
            "DEV MODE: the keystore passphrase is stored in %s; never run production like this",
            settings.data_dir,
        )
    with Session(services.engine, expire_on_commit=False) as session:
        city = bootstrap_city(settings.data_dir, session, passphrase, services.clock(), demo=settings.dev_mode)
        session.commit()
    services.city = city
    return city


def anchoring_accounts(services: Services) -> dict[str, Any]:
    """Every agency's Ethereum account, by address: the worker anchors each agency's documents from its own."""
    city = services.require_city()
    accounts: dict[str, Any] = {}
    for agency_id in city.agency_ids():
        try:
            account = city.eth_account(agency_id)
        except Exception as exc:  # an agency without an Ethereum account anchors nothing
            log.debug("agency %s has no Ethereum account: %s", agency_id, type(exc).__name__)
            continue
        accounts[account.address] = account
    return accounts


def admin_account(services: Services) -> Any:
    return services.require_city().admin_account
