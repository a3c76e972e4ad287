"""``xacthuc init``: a new production city in the data dir."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from keys.errors import XacthucError
from xacthuc.cli._common import DataDir, JsonFlag, error_exit, load_settings
from xacthuc.services import init_city

__all__ = ["init"]


def init(data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Create a new city in the data dir: its keystore (passphrase from XACTHUC_KEYSTORE_PASSPHRASE or _FILE) and
    root key. No agency is created and no secret is printed: add agencies with `xacthuc agency create`."""
    settings = load_settings(data_dir)
    try:
        city = init_city(settings, datetime.now(UTC))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    result = {
        "data_dir": str(settings.data_dir),
        "root_kid": city.root_signer.kid,
        "admin_address": city.admin_address,
        "dev_mode": settings.dev_mode,
    }
    if as_json:
        print(json.dumps(result))
        return
    print(f"city created in {settings.data_dir}")
    print(f"root key: {result['root_kid']} (third parties pin it: GET /v1/trust-root)")
    print(f"admin account (deploys the registry; fund it on your chain): {result['admin_address']}")
    if settings.dev_mode:
        print(f"development mode: the demo agencies' API keys are in {settings.data_dir / 'dev-credentials.json'}")
    print("next: xacthuc agency create --name NAME --roles ROLES")
