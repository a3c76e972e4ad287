"""``xacthuc id register|issue|revoke`` (an identity agency, on the local data dir) and ``xacthuc wallet
init|import|show|present`` (a citizen's wallet file): thin Typer layers over identity/."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from sqlmodel import Session

from identity import holder, service
from identity.api import status_base_url
from identity.cccd import parse_citizen
from identity.errors import WalletError
from identity.oid4vci.offers import create_offer, offer_links
from identity.wallet import Wallet, create_wallet, open_wallet, verification_link
from keys.bootstrap import City
from keys.error_messages import field_labels, lang_from_locale
from keys.errors import InvalidInput, XacthucError
from verifier.qr import qr_png, qr_version
from xacthuc.cli._common import (
    CliInputError,
    DataDir,
    JsonFlag,
    agency_principal,
    err,
    error_exit,
    load_settings,
    open_city,
    out,
    public_url,
    read_file,
    require_agency_role,
)

__all__ = ["id_app", "wallet_app"]

id_app = typer.Typer(help="Digital IDs: register citizens, issue and revoke credentials.", no_args_is_help=True)
wallet_app = typer.Typer(help="A citizen's wallet: hold credentials, present chosen claims.", no_args_is_help=True)

ISSUE_ROLE = "identity:issue"

AgencyOpt = Annotated[
    str | None, typer.Option("--agency", help="Issuing agency id (default: the only agency with the identity role)")
]
WalletOpt = Annotated[Path | None, typer.Option("--wallet", help="Wallet file (default: <data dir>/wallet.json)")]


def _print(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for line in lines:
            out.print(line, markup=False, highlight=False)


def _identity_agency(city: City, session: Session, agency: str | None, role: str = ISSUE_ROLE) -> str:
    """The agency a command acts for: ``--agency`` if it holds ``role`` (checked as over HTTP: ``FORBIDDEN``
    otherwise, ``AGENCY_NOT_FOUND`` for an unknown one), else the only agency that does."""
    if agency is not None:
        require_agency_role(city, session, agency, role)
        return agency
    candidates = [a for a in city.agency_ids() if role in agency_principal(city, session, a).roles]
    if len(candidates) != 1:
        raise InvalidInput(f"choose the issuing agency with --agency (one of: {', '.join(candidates) or 'none'})")
    return candidates[0]


def _now() -> datetime:
    return datetime.now(UTC)


# --- id -------------------------------------------------------------------------------------------------------------


@id_app.command("register")
def id_register(
    cccd: Annotated[str, typer.Option("--cccd", help="The 12-digit CCCD number")],
    full_name: Annotated[str, typer.Option("--full-name", help="Full name, family name first")],
    birth_date: Annotated[str, typer.Option("--birth-date", help="YYYY-MM-DD")],
    sex: Annotated[str, typer.Option("--sex", help="male or female")],
    place_of_origin: Annotated[str, typer.Option("--place-of-origin", help="Quê quán")],
    place_of_residence: Annotated[str, typer.Option("--place-of-residence", help="Nơi thường trú")],
    nationality: Annotated[str, typer.Option("--nationality", help="ISO 3166-1 alpha-2")] = "VN",
    agency: AgencyOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a citizen in the agency's own registry; the CCCD number is checked against province, century/sex
    digit and birth year. Only that agency can then issue for the citizen."""
    fields = {
        "cccd": cccd,
        "full_name": full_name,
        "birth_date": birth_date,
        "sex": sex,
        "nationality": nationality,
        "place_of_origin": place_of_origin,
        "place_of_residence": place_of_residence,
    }
    try:
        citizen_in = parse_citizen(fields, now=_now())  # refuse bad input before unlocking anything
        with open_city(data_dir) as (city, session):
            registrar = _identity_agency(city, session, agency)
            citizen = service.register_citizen(session, citizen_in, _now(), agency_id=registrar)
            result = {
                "id": citizen.id,
                "agency": registrar,
                "full_name": citizen.full_name,
                "birth_date": citizen.birth_date.isoformat(),
                "sex": citizen.sex,
                "nationality": citizen.nationality,
            }
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print(result, as_json, [f"citizen {result['id']} registered by {registrar} ({result['full_name']})"])


def _read_json_file(path: Path, what: str) -> dict[str, Any]:
    if str(path) == "-":
        text = sys.stdin.read()
    else:
        try:
            text = read_file(path, field=what).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{what} is not a readable JSON file") from None
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput(f"{what} is not a readable JSON file") from None
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return value


@id_app.command("issue")
def id_issue(
    citizen_id: Annotated[str, typer.Argument(metavar="CITIZEN", help="The citizen id from `xacthuc id register`")],
    holder_jwk: Annotated[
        Path | None, typer.Option("--holder-jwk", help="The wallet's public key (JWK file, - for stdin)")
    ] = None,
    agency: AgencyOpt = None,
    output: Annotated[Path | None, typer.Option("--out", help="Write the credential to this file")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue a citizen's digital ID (SD-JWT VC), signed by the agency's key and bound to the holder key. Prints the
    credential's id (`xacthuc id revoke ID` takes it) and the credential itself, or writes it to --out."""
    settings = load_settings(data_dir)
    try:
        jwk = None if holder_jwk is None else _read_json_file(holder_jwk, "--holder-jwk")
        with open_city(data_dir) as (city, session):
            issuer = _identity_agency(city, session, agency)
            now = _now()
            credential_id, compact = service.issue_credential(
                session,
                citizen_id,
                city.keyring(issuer).signer(now),
                issuer,
                jwk,
                now,
                status_base_url=status_base_url(settings.public_url),
                iss=service.credential_issuer(settings.public_url, issuer),
            )
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if output is not None:
        try:
            output.write_text(compact + "\n", encoding="utf-8")
        except OSError as exc:  # issued all the same: say which credential, so it can be revoked or issued again
            why = CliInputError(f"{output}: {exc.strerror}; credential {credential_id} was issued by {issuer}")
            raise error_exit(why, as_json) from None
    result = {"id": credential_id, "issuer": issuer, "credential": compact}
    if output is not None:
        result["out"] = str(output)
    if as_json:
        print(json.dumps(result))
        return
    bound = "" if jwk else " (not bound to a holder key)"
    print(f"credential {credential_id} issued by {issuer}{bound}" + (f", written to {output}" if output else ""))
    if output is None:
        print(compact)


@id_app.command("offer")
def id_offer(
    citizen_id: Annotated[str, typer.Argument(metavar="CITIZEN_ID", help="The citizen id from `xacthuc id register`")],
    agency: AgencyOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Offer the citizen's digital ID to a wallet (OpenID4VCI, pre-authorized code): prints the wallet link, the
    offer link and the 6-digit transaction code to tell the citizen (shown only now), valid 10 minutes, once."""
    settings = load_settings(data_dir)
    try:
        with open_city(data_dir) as (city, session):
            issuer = _identity_agency(city, session, agency)
            offer = create_offer(session, citizen_id, agency_id=issuer, now=_now())
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    # The links are on the server's own public URL (XACTHUC_PUBLIC_URL, else the address `serve` listens on): the
    # credential issuer the offer names must be the server the wallet then talks to.
    links = offer_links(settings.public_url, offer.id)
    result = {
        "id": offer.id,
        "agency": issuer,
        "wallet_url": links.wallet_url,
        "offer_uri": links.offer_uri,
        "credential_offer_uri": links.credential_offer_uri,
        "tx_code": offer.tx_code,
        "expires_at": offer.expires_at.isoformat(),
    }
    _print(
        result,
        as_json,
        [
            f"offer for citizen {citizen_id} from {issuer}, valid until {result['expires_at']}, single use",
            f"wallet link: {links.wallet_url}",
            f"offer link:  {links.offer_uri}",
            f"transaction code (tell the citizen; not shown again): {offer.tx_code}",
        ],
    )


@id_app.command("revoke")
def id_revoke(
    credential_id: Annotated[str, typer.Argument(metavar="ID", help="The credential id (`id issue` prints it)")],
    agency: Annotated[
        str | None,
        typer.Option(
            "--agency", help="Act as this agency (it needs identity:revoke and must have issued the credential)"
        ),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke a credential: its bit in the status list is set, verifiers then see `revoked`. Without --agency, as
    the city (like the admin over HTTP)."""
    try:
        with open_city(data_dir) as (city, session):
            if agency is not None:
                require_agency_role(city, session, agency, "identity:revoke")
            row = service.revoke_credential(session, credential_id, _now(), issuer_id=agency)
            assert row.revoked_at is not None
            result = {"id": row.id, "issuer": row.issuer_id, "revoked_at": row.revoked_at.isoformat()}
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print(result, as_json, [f"credential {result['id']} revoked at {result['revoked_at']}"])


# --- wallet ---------------------------------------------------------------------------------------------------------


def _wallet_path(wallet: Path | None, data_dir: Path | None) -> Path:
    return wallet if wallet is not None else load_settings(data_dir).data_dir / "wallet.json"


def _passphrase(*, confirm: bool = False) -> str:
    """``XACTHUC_WALLET_PASSPHRASE``, else a prompt."""
    value = load_settings().wallet_passphrase
    if value:
        return value
    return str(typer.prompt("Wallet passphrase", hide_input=True, confirmation_prompt=confirm))


def _open(path: Path) -> tuple[Wallet, str]:
    if not path.exists():
        raise WalletError(f"no wallet at {path}: create one with `xacthuc wallet init`")
    passphrase = _passphrase()
    return open_wallet(path, passphrase), passphrase


@wallet_app.command("init")
def wallet_init(
    wallet: WalletOpt = None,
    jwk_out: Annotated[Path | None, typer.Option("--jwk-out", help="Write the public holder key here")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a wallet with a new P-256 holder key; give the printed public key to the issuing agency."""
    path = _wallet_path(wallet, data_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        w = create_wallet(path, _passphrase(confirm=True))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    jwk = w.holder_jwk()
    if jwk_out is not None:
        jwk_out.write_text(json.dumps(jwk) + "\n", encoding="utf-8")
    if as_json:
        print(json.dumps({"wallet": str(path), "holder_jwk": jwk}))
        return
    err.print(f"wallet created at {path}; the holder key to send with `xacthuc id issue --holder-jwk`:", markup=False)
    print(json.dumps(jwk))


@wallet_app.command("import")
def wallet_import(
    source: Annotated[
        str,
        typer.Argument(metavar="SOURCE", help="A file with the credential (`id issue` output, or --json), - for stdin"),
    ],
    wallet: WalletOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an issued credential to the wallet; it must be bound to the wallet's key."""
    path = _wallet_path(wallet, data_dir)
    try:
        raw = sys.stdin.buffer.read() if source == "-" else read_file(Path(source), field="SOURCE")
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise InvalidInput(f"{source} is not a text file") from None
        if text.startswith("{"):
            try:
                text = str(json.loads(text)["credential"])
            except (ValueError, KeyError, TypeError):
                raise InvalidInput("the JSON has no credential") from None
        elif text:  # `id issue` printed its id line first, the credential last
            text = text.splitlines()[-1].strip()
        w, passphrase = _open(path)
        entry = w.import_credential(text, _now())
        w.save(passphrase)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    _print({"id": entry.id, "wallet": str(path)}, as_json, [f"credential {entry.id} added to {path}"])


def _exp(ts: Any) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat() if isinstance(ts, int) else "?"


@wallet_app.command("show")
def wallet_show(
    wallet: WalletOpt = None,
    holder_jwk: Annotated[bool, typer.Option("--holder-jwk", help="Print only the public holder key")] = False,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """List the credentials held, with the claims each can disclose."""
    try:
        w, _ = _open(_wallet_path(wallet, data_dir))
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    if holder_jwk:
        print(json.dumps(w.holder_jwk()))
        return
    entries = w.show()
    if as_json:
        print(json.dumps({"holder_jwk": w.holder_jwk(), "credentials": entries}, ensure_ascii=False, default=str))
        return
    if not entries:
        out.print("the wallet holds no credential")
    for e in entries:
        out.print(f"{e['id']} issued by {e['iss']}, valid until {_exp(e['exp'])}", markup=False, highlight=False)
        for name, value in e["claims"].items():
            out.print(f"  {name}: {value}", markup=False, highlight=False)


@wallet_app.command("present")
def wallet_present(
    claims: Annotated[str, typer.Option("--claims", help="Claims to disclose, e.g. given_name,age_over_18")],
    audience: Annotated[str, typer.Option("--audience", help="Who the presentation is for (the verifier)")],
    nonce: Annotated[str | None, typer.Option("--nonce", help="The verifier's challenge, if it gave one")] = None,
    qr: Annotated[Path | None, typer.Option("--qr", help="Write the QR code (PNG) to this file")] = None,
    credential: Annotated[str | None, typer.Option("--credential", help="Credential id (default: newest)")] = None,
    wallet: WalletOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Present only the chosen claims, bound to the holder key: prints the verification link (the bare payload
    without XACTHUC_PUBLIC_URL), or writes it as a QR code."""
    names = [c.strip() for c in claims.split(",") if c.strip()]
    try:
        if not names:
            raise InvalidInput("--claims names no claim")
        w, _ = _open(_wallet_path(wallet, data_dir))
        payload = w.present(names, audience=audience, now=_now(), nonce=nonce, credential_id=credential)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    base = public_url(load_settings(data_dir))
    link = None if base is None else verification_link(base, payload)
    content = link or payload  # without a public URL the QR holds the bare payload, which verifiers take as it is
    result: dict[str, Any] = {"payload": payload, "link": link, "claims": names}
    if qr is not None:
        try:
            qr.write_bytes(qr_png(content))
        except OSError as exc:
            raise error_exit(CliInputError(f"{qr}: {exc.strerror}"), as_json) from None
        result.update(qr=str(qr), qr_version=qr_version(content))
    if as_json:
        print(json.dumps(result))
    elif qr is not None:
        err.print(f"QR code (version {result['qr_version']}) written to {qr}; valid for a few minutes", markup=False)
    else:
        print(content)


# --- wallet receive / respond: OpenID4VCI and OpenID4VP (identity/holder) -------------------------------------------

HTTP_TIMEOUT = 30.0  # seconds per call to the issuer or the verifier


def _vi() -> bool:
    return lang_from_locale(os.environ) == "vi"


def _say(vi: str, en: str) -> str:
    return vi if _vi() else en


def _http() -> httpx.Client:
    """The wallet's HTTP client: no redirects followed (every URL it calls was named by a signed or fetched object)."""
    return httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False, headers={"User-Agent": "xacthuc-wallet"})


def _claim_label(name: str) -> str:
    label = field_labels("vi").get(name) if _vi() else None
    return f"{name} ({label})" if label else name


@wallet_app.command("receive")
def wallet_receive(
    offer_link: Annotated[
        str,
        typer.Argument(
            metavar="OFFER_LINK",
            help="openid-credential-offer://..., the https /wallet#credential_offer_uri=... link, or the offer URI",
        ),
    ],
    tx_code: Annotated[
        str | None, typer.Option("--tx-code", help="The transaction code the clerk gave you (asked if not given)")
    ] = None,
    wallet: WalletOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Receive a digital ID offered over OpenID4VCI (pre-authorized code): the wallet proves its key to the issuer
    and stores the credential bound to it."""
    path = _wallet_path(wallet, data_dir)
    try:
        w, passphrase = _open(path)
        with _http() as client:
            offer = holder.fetch_offer(client, offer_link)
            if offer.tx_code is not None and not tx_code:
                hint = offer.tx_code_description or _say("Mã giao dịch", "Transaction code")
                tx_code = str(typer.prompt(hint, hide_input=False)).strip()
            got = holder.receive(client, w, offer, tx_code=tx_code, now=_now())
        w.save(passphrase)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    name = str(got.claims.get("full_name", ""))
    result = {
        "id": got.entry.id,
        "wallet": str(path),
        "credential_issuer": got.credential_issuer,
        "issuer_name": got.issuer_name,
        "credential_configuration_id": got.configuration_id,
        "claims": sorted(got.claims),
    }
    issuer = got.issuer_name or got.credential_issuer
    _print(
        result,
        as_json,
        [
            _say(
                f"đã nhận căn cước số {got.entry.id} của {name} do {issuer} cấp, lưu vào {path}",
                f"credential {got.entry.id} for {name} from {issuer} added to {path}",
            )
        ],
    )


@wallet_app.command("respond")
def wallet_respond(
    request_link: Annotated[
        str,
        typer.Argument(
            metavar="REQUEST_LINK", help="openid4vp://?client_id=..&request_uri=.., or the https /wallet#... link"
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Answer without asking")] = False,
    refuse: Annotated[bool, typer.Option("--refuse", help="Decline: tell the verifier the citizen refused")] = False,
    wallet: WalletOpt = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Answer a relying party's OpenID4VP request: shows who asks, for what and where the answer goes, then presents
    exactly the asked claims (bound to the wallet key, the request's nonce and the verifier's client id)."""
    try:
        if yes and refuse:
            raise CliInputError("--yes and --refuse exclude each other")
        w, _ = _open(_wallet_path(wallet, data_dir))
        with _http() as client:
            request = holder.fetch_request(client, request_link, now=_now())
            if not as_json:
                _show_request(request)
            approve = not refuse and (yes or typer.confirm(_say("Gửi các thông tin này?", "Send these claims?")))
            answer = holder.respond(client, w, request, now=_now()) if approve else holder.refuse(client, request)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    result = {
        "client_id": request.client_id,
        "client_name": request.client_name,
        "purpose": request.purpose,
        "response_host": request.response_host,
        "claims": list(request.claims),
        "answer": "presented" if approve else "refused",
        "verifier": answer.body,
    }
    lines = [
        _say("đã gửi cho bên xác minh", "presented to the verifier")
        if approve
        else _say("đã từ chối; bên xác minh đã được báo", "refused; the verifier was told"),
        _say("bên xác minh trả lời: ", "the verifier answered: ") + json.dumps(answer.body, ensure_ascii=False),
    ]
    if answer.redirect_uri:
        lines.append(_say("tiếp tục tại: ", "continue at: ") + answer.redirect_uri)
    _print(result, as_json, lines)


def _show_request(request: holder.PresentationRequest) -> None:
    who = request.client_name or request.client_id
    lines = [
        _say(f"Bên yêu cầu: {who}", f"Requested by: {who}"),
        _say(f"Mã định danh bên xác minh: {request.client_id}", f"Verifier id: {request.client_id}"),
    ]
    if request.purpose:
        lines.append(_say(f"Mục đích: {request.purpose}", f"Purpose: {request.purpose}"))
    lines.append(_say("Thông tin được hỏi:", "Claims asked for:"))
    lines += [f"  - {_claim_label(c)}" for c in request.claims]
    lines.append(_say(f"Câu trả lời gửi tới: {request.response_host}", f"The answer goes to: {request.response_host}"))
    for line in lines:
        err.print(line, markup=False, highlight=False)
