"""``xacthuc verify``: a document or a citizen ID, from a QR image, its text or link, or a bundle.

Exit 0 for ``valid``, 1 for any other verdict but ``error``, and 2 for ``error`` or when the input cannot be verified
at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from keys import json_depth
from keys.errors import CityNotFound, JsonTooDeep, XacthucError
from verifier.report import Report
from xacthuc.cli._common import CliInputError, DataDir, JsonFlag, error_exit, load_settings, open_city, out
from xacthuc.settings import Settings

__all__ = ["verify_cmd"]

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")


def _read_input(value: str) -> tuple[str, Any]:
    """``("bundle", dict)``, ``("image", bytes)`` or ``("text", str)``."""
    path = Path(value)
    try:
        is_file = len(value) < 4096 and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        return "text", value
    data = path.read_bytes()
    if data.lstrip()[:1] == b"{":
        try:
            return "bundle", json_depth.loads(data)
        except JsonTooDeep:
            raise  # its own code and message, not "not valid JSON"
        except ValueError:
            raise CliInputError(f"{value}: not valid JSON") from None
    if data.startswith(_IMAGE_MAGIC):
        return "image", data
    try:
        return "text", data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CliInputError(f"{value}: neither an image, a bundle nor text") from None


def _require_city_to_verify(settings: Settings, use: str) -> None:
    """``verify`` reads a city's data dir only when one is there: it never creates one (``CITY_NOT_FOUND``)."""
    from keys.bootstrap import city_exists

    if not city_exists(settings.data_dir):
        raise CityNotFound(
            f"no city in {settings.data_dir} to {use}: pass --trust-root ROOT.jwk (the city root key, served at "
            "GET /v1/trust-root) with a proof bundle or --offline BUNDLE, or --data-dir with a city's data directory",
            data_dir=str(settings.data_dir),
        )


def _root_jwk(trust_root: Path | None, data_dir: Path | None) -> dict[str, Any]:
    if trust_root is not None:
        jwk = json.loads(trust_root.read_text(encoding="utf-8"))
        if not isinstance(jwk, dict):
            raise CliInputError("--trust-root must hold a JWK object")
        return jwk
    _require_city_to_verify(load_settings(data_dir), "read the trust root from")
    with open_city(data_dir) as (city, _session):
        return city.root_jwk()


def _verify_bundle(
    bundle: Any,
    payload: str | None,
    rpc_url: str | None,
    root: dict[str, Any],
    settings: Settings,
    file: bytes | None,
    trust_list_url: str | None = None,
) -> Report:
    from ledger.chain.client import RegistryClient
    from ledger.documents.revocation import RegistryStatusReader
    from verifier.bundle import bundle_registry, bundle_trust_list_url, verify_bundle
    from verifier.payload import parse_payload
    from xacthuc.trust_fetch import http_trust_list

    if not isinstance(bundle, dict):
        raise CliInputError("the bundle must be a JSON object")
    if payload is not None:  # verify this QR against the bundle's trust list and proof
        bundle = {**bundle, "payload": parse_payload(payload).payload}
    url = rpc_url or settings.rpc_url
    from xacthuc.chainsetup import connect, web3_for

    if url is None:
        url = connect(settings, start_node=False).url
    registry = bundle_registry(bundle)
    client = RegistryClient(web3_for(url, settings), registry.hex_address)
    list_url = trust_list_url or bundle_trust_list_url(bundle)  # asked only for a key the bundle's list lacks
    return verify_bundle(
        bundle,
        root_jwk=root,
        chain=RegistryStatusReader(client),
        now=datetime.now(UTC),
        file_bytes=file,
        fetch_trust_list=http_trust_list(list_url) if list_url else None,
    )


def _verify_local(kind: str, value: Any, settings: Settings, file: bytes | None) -> Report:
    from verifier.dispatch import VerifyRequest
    from xacthuc.docs_service import ServerVerifier
    from xacthuc.services import build_services

    _require_city_to_verify(settings, "look the document or ID up in")
    services = build_services(settings)
    try:
        request = VerifyRequest(
            payload=value if kind == "text" else None, image=value if kind == "image" else None, file=file
        )
        return ServerVerifier(services)(request)
    finally:
        services.close()


def _print_report(report: Report, as_json: bool) -> None:
    body = report.to_dict()
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    colour = "green" if body["verdict"] == "valid" else "red"
    out.print(f"[bold {colour}]{body['verdict'].upper()}[/bold {colour}] ({body['kind']})")
    if body["issuer"]:
        out.print(escape(f"issuer: {body['issuer']['name']} ({body['issuer']['id']})"))
    for key, value in body["claims"].items():
        out.print(escape(f"  {key}: {value}"))
    for check in body["checks"]:
        out.print(escape(f"  [{check['status']}] {check['name']}: {check['code']} {check['message']}"))


def _verify_with_offline_bundle(
    kind: str, value: Any, token: str, root: dict[str, Any], file: bytes | None, freshness: timedelta
) -> Report:
    """With only the signed offline bundle (``verifier.offline``): no chain, no server."""
    from verifier.offline import verify_bundle_offline, verify_offline, verify_offline_bundle

    now = datetime.now(UTC)
    state = verify_offline_bundle(token.strip(), root, now)
    if kind == "bundle":
        return verify_bundle_offline(state, value, now=now, file_bytes=file)
    if kind == "image":
        from verifier.dispatch import VerifyRequest, parsed_input

        value = parsed_input(VerifyRequest(image=value)).payload
    return verify_offline(state, value, now=now, file_bytes=file, freshness=freshness)


def verify_cmd(
    source: Annotated[str, typer.Argument(metavar="INPUT", help="A QR image, the QR text or link, or a bundle JSON")],
    file: Annotated[Path | None, typer.Option("--file", exists=True, help="The document file to compare")] = None,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Any Ethereum JSON-RPC node")] = None,
    offline: Annotated[
        Path | None,
        typer.Option(
            "--offline",
            exists=True,
            help="A signed offline bundle (GET /v1/offline-bundle: verify with it alone) or a proof bundle JSON",
        ),
    ] = None,
    trust_root: Annotated[Path | None, typer.Option("--trust-root", exists=True, help="The pinned root JWK")] = None,
    trust_list_url: Annotated[
        str | None,
        typer.Option(
            "--trust-list-url",
            help="Where to fetch the current trust list when a bundle's list lacks the signing key "
            "(default: beside the bundle's trust_root_url); it must verify against the pinned root",
        ),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify a document or a citizen ID. Exit 0 valid, 1 any negative verdict, 2 error.

    ``--offline`` takes either a signed offline bundle (a JWS: then nothing else is used, no chain, no server; the
    root comes from ``--trust-root`` or the data dir) or a proof bundle (JSON: its proof, with the chain)."""
    from verifier.offline import is_offline_bundle

    settings = load_settings(data_dir)
    try:
        kind, value = _read_input(source)
        file_bytes = file.read_bytes() if file is not None else None
        offline_text = offline.read_text(encoding="utf-8") if offline is not None else None
        if offline_text is not None and is_offline_bundle(offline_text):
            root = _root_jwk(trust_root, data_dir)
            freshness = timedelta(seconds=settings.kb_freshness_seconds)
            report = _verify_with_offline_bundle(kind, value, offline_text, root, file_bytes, freshness)
        elif kind == "bundle" or offline_text is not None:
            bundle = value if kind == "bundle" else json_depth.loads(offline_text)  # type: ignore[arg-type]
            payload = None if kind == "bundle" else value
            if kind == "image":
                from verifier.dispatch import VerifyRequest, parsed_input

                payload = parsed_input(VerifyRequest(image=value)).payload
            root = _root_jwk(trust_root, data_dir)
            report = _verify_bundle(bundle, payload, rpc_url, root, settings, file_bytes, trust_list_url)
        else:
            if rpc_url:
                settings = settings.model_copy(update={"rpc_url": rpc_url})
            report = _verify_local(kind, value, settings, file_bytes)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    except (OSError, ValueError) as exc:
        raise error_exit(CliInputError(f"{type(exc).__name__}: {exc}"), as_json) from None
    _print_report(report, as_json)
    verdict = report.verdict.value
    raise typer.Exit(0 if verdict == "valid" else 2 if verdict == "error" else 1)
