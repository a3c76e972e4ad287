"""The OpenID4VCI issuer in the whole app: ``xacthuc id offer`` on the local data dir, the wallet side over HTTP
(the app built as ``serve`` builds it, a bootstrapped city), then ``POST /v1/verify`` and a third party that
verifies from the published trust list. Credentials issued before issuer URLs (``iss`` the bare agency id) keep
verifying beside the new ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
from fastapi.testclient import TestClient
from sqlmodel import Session

from identity import service
from identity.api import status_base_url
from identity.models import Citizen
from identity.presentation import present
from identity.sdjwt import parse_jws, split_compact
from keys.bootstrap import bootstrap_city
from keys.holder_key import P256Key
from keys.jws import verify_signature
from keys.trust_list import verify_trust_list
from tests.e2e.test_identity_cli import PASSPHRASE, PUBLIC, REGISTER, _run, cli  # noqa: F401  (the cli fixture)
from tests.identity.oid4vci_proofs import proof_jwt
from verifier.credential import verify_credential
from xacthuc.app import create_app
from xacthuc.database import make_engine
from xacthuc.services import Services
from xacthuc.settings import load_settings

GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
AUDIENCE = "https://bank.example/kyc"


@dataclass
class App:
    client: TestClient
    services: Services


@pytest.fixture
def app(cli: typer.Typer) -> Iterator[App]:  # noqa: F811  (pytest's fixture injection)
    settings = load_settings()
    engine = make_engine(settings.resolved_database_url())
    with Session(engine) as session:
        city = bootstrap_city(settings.data_dir, session, PASSPHRASE, datetime.now(UTC))
        session.commit()
    services = Services(settings=settings, engine=engine, city=city)
    with TestClient(create_app(services)) as client:
        yield App(client, services)
    engine.dispose()


def _receive(client: TestClient, offer: dict[str, Any], holder: P256Key) -> str:
    """What a wallet does with an offer and its transaction code."""
    document = client.get(urlsplit(offer["credential_offer_uri"]).path).json()
    assert document["credential_issuer"] == PUBLIC
    meta = client.get("/.well-known/openid-credential-issuer").json()
    assert meta["credential_issuer"] == PUBLIC
    token_endpoint = client.get("/.well-known/oauth-authorization-server").json()["token_endpoint"]
    form = {"grant_type": GRANT, "pre-authorized_code": document["grants"][GRANT]["pre-authorized_code"]}
    r = client.post(urlsplit(token_endpoint).path, data={**form, "tx_code": offer["tx_code"]})
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    nonce = client.post(urlsplit(meta["nonce_endpoint"]).path).json()["c_nonce"]
    proof = proof_jwt(holder, aud=PUBLIC, nonce=nonce, iat=int(datetime.now(UTC).timestamp()))
    r = client.post(
        urlsplit(meta["credential_endpoint"]).path,
        json={"credential_configuration_id": "citizen_id", "proofs": {"jwt": [proof]}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    credential: str = r.json()["credentials"][0]["credential"]
    return credential


def _verify(client: TestClient, credential: str, holder: P256Key) -> dict[str, Any]:
    shown = present(credential, ["age_over_18"], holder, audience=AUDIENCE, now=datetime.now(UTC), nonce="n-7")
    r = client.post("/v1/verify", json={"payload": shown, "audience": AUDIENCE, "nonce": "n-7"})
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()
    return report


def _third_party(client: TestClient, credential: str, holder: P256Key) -> str:
    now = datetime.now(UTC)
    trust = verify_trust_list(client.get("/v1/trust-list").text, client.get("/v1/trust-root").json(), now)
    shown = present(credential, ["age_over_18"], holder, audience=AUDIENCE, now=now, nonce="n-8")

    def fetch(uri: str) -> str:
        return str(client.get(uri.removeprefix(PUBLIC)).text)

    return verify_credential(shown, trust, fetch, now, AUDIENCE, "n-8").verdict.value


def test_cli_offer_is_redeemed_over_http_and_verifies(cli: typer.Typer, app: App) -> None:  # noqa: F811
    citizen = _run(cli, *REGISTER)
    offer = _run(cli, "id", "offer", citizen["id"], "--json")
    agency = offer["agency"]
    assert offer["wallet_url"] == PUBLIC + "/wallet#credential_offer_uri=" + offer["offer_uri"].split("=", 1)[1]
    assert offer["credential_offer_uri"] == f"{PUBLIC}/oid4vci/offers/{offer['id']}"
    assert len(offer["tx_code"]) == 6 and offer["tx_code"].isdigit()

    holder = P256Key.generate()
    credential = _receive(app.client, offer, holder)
    jws = parse_jws(split_compact(credential).issuer_jwt)
    assert jws.payload["iss"] == f"{PUBLIC}/agencies/{agency}"

    # SD-JWT VC issuer metadata: the issuer and the key that signed, found by kid.
    meta = app.client.get(f"/.well-known/jwt-vc-issuer/agencies/{agency}").json()
    assert meta["issuer"] == jws.payload["iss"]
    [key] = [k for k in meta["jwks"]["keys"] if k["kid"] == jws.header["kid"]]
    assert verify_signature("ES256", key, jws.signing_input, jws.signature)
    assert app.client.get("/.well-known/jwt-vc-issuer/agencies/nope").status_code == 404

    report = _verify(app.client, credential, holder)
    assert report["verdict"] == "valid" and report["issuer"]["id"] == agency, report
    assert report["claims"] == {"age_over_18": True}
    assert _third_party(app.client, credential, holder) == "valid"

    # The offer was single use.
    r = app.client.get(urlsplit(offer["credential_offer_uri"]).path)
    assert r.status_code == 404 and r.json()["error"] == "invalid_request"


def test_cli_offer_prints_the_links_and_the_code(cli: typer.Typer) -> None:  # noqa: F811
    citizen = _run(cli, *REGISTER)
    text = _run(cli, "id", "offer", citizen["id"])
    assert f"wallet link: {PUBLIC}/wallet#credential_offer_uri=" in text
    assert "offer link:  openid-credential-offer://?credential_offer_uri=" in text
    assert "transaction code (tell the citizen; not shown again): " in text
    failed = _run(cli, "id", "offer", "nope", "--json", code=2)
    assert failed["error"]["code"] == "CITIZEN_NOT_FOUND"


def test_old_and_new_credentials_both_verify(cli: typer.Typer, app: App) -> None:  # noqa: F811
    citizen = _run(cli, *REGISTER)
    holder = P256Key.generate()
    city = app.services.require_city()
    now = datetime.now(UTC)
    issued = {}
    with Session(app.services.engine) as session:
        agency = session.get(Citizen, citizen["id"]).agency_id  # type: ignore[union-attr]
        for form, iss in (("old", None), ("new", service.credential_issuer(PUBLIC, agency))):
            _, issued[form] = service.issue_credential(
                session,
                citizen["id"],
                city.keyring(agency).signer(now),
                agency,
                holder.public_jwk(),
                now,
                status_base_url=status_base_url(PUBLIC),
                iss=iss,
            )
        session.commit()
    assert parse_jws(issued["old"].split("~")[0]).payload["iss"] == agency
    assert parse_jws(issued["new"].split("~")[0]).payload["iss"] == f"{PUBLIC}/agencies/{agency}"
    for form in ("old", "new"):
        report = _verify(app.client, issued[form], holder)
        assert report["verdict"] == "valid", (form, report)
        assert _third_party(app.client, issued[form], holder) == "valid", form
