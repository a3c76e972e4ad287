"""``xacthuc verify INPUT``: verify a document or a citizen ID as anyone would, never with the issuer's secrets.

Three sources (``verifier.Verifier`` over each):

- a third party's, with ``--trust-root ROOT.jwk`` (the pinned city root key): the chain through ``--rpc-url`` (or
  ``XACTHUC_RPC_URL``), the trust list and the documents' proofs from the city service (``--trust-list-url``, else a
  proof bundle's ``trust_root_url``, else the verification link's own address), status lists where credentials
  name them;
- the offline bundle's, with ``--offline BUNDLE`` (a signed ``GET /v1/offline-bundle``): no network at all;
- a data dir's, without ``--trust-root`` (``--data-dir``, ``XACTHUC_DATA_DIR``, else ``./var``): its public keys and
  its database read only, the chain through an RPC URL or the running server's embedded node.

None of them unlocks a keystore or starts a node. Exit 0 for ``valid``, 1 for any other verdict but ``error``, and
2 for ``error`` or when the input cannot be verified at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.markup import escape

from keys import json_depth
from keys.bootstrap import city_exists
from keys.errors import CityNotFound, JsonTooDeep, XacthucError
from verifier.bundle import bundle_trust_list_url
from verifier.dispatch import VerifyRequest, parsed_input
from verifier.errors import PayloadUnrecognized
from verifier.offline import is_offline_bundle, offline_verifier, verify_offline_bundle
from verifier.payload import parse_payload
from verifier.pdf import find_stamp
from verifier.qr import decode_qr_image
from verifier.report import Report
from verifier.service import Verifier
from verifier.third_party import third_party_verifier
from xacthuc.cli._common import (
    CliInputError,
    DataDir,
    FileNotFound,
    JsonFlag,
    error_exit,
    load_settings,
    out,
    read_file,
)
from xacthuc.server_verifier import data_dir_root_jwk, data_dir_verifier
from xacthuc.settings import Settings

__all__ = ["verify_cmd"]

_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")
_TRUST_LIST_PATH = "/v1/trust-list"


def _read_input(value: str) -> tuple[str, Any]:
    """``("bundle", dict)``, ``("image", bytes)``, ``("pdf", bytes)`` (a stamped PDF) or ``("text", str)``."""
    path = Path(value)
    try:
        is_file = len(value) < 4096 and path.is_file()
    except OSError:
        is_file = False
    if not is_file:
        if _looks_like_a_path(value):
            raise FileNotFound(value, field="INPUT", hint="nor is it a QR text or a verification link")
        return "text", value
    data = read_file(path, field="INPUT")
    if data.lstrip()[:1] == b"{":
        try:
            return "bundle", json_depth.loads(data)
        except JsonTooDeep:
            raise  # its own code and message, not "not valid JSON"
        except ValueError:
            raise CliInputError(f"{value}: not valid JSON") from None
    if data.startswith(_IMAGE_MAGIC):
        return "image", data
    if b"%PDF-" in data[:1024]:  # a stamped PDF verifies alone (verifier.pdf); another PDF needs its QR code
        if find_stamp(data) is None:
            raise CliInputError(f"{value}: a PDF without a xacthuc stamp: verify its QR code, with --file {value}")
        return "pdf", data
    try:
        return "text", data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise CliInputError(f"{value}: neither an image, a bundle nor text") from None


def _looks_like_a_path(value: str) -> bool:
    """INPUT that is no file and no payload: a file name mistyped (``FILE_NOT_FOUND``), not a payload to reject."""
    try:
        parse_payload(value)
    except PayloadUnrecognized:
        return "\n" not in value
    except XacthucError:
        return False
    return False


def _read_jwk(path: Path) -> dict[str, Any]:
    jwk = json.loads(read_file(path, field="--trust-root"))
    if not isinstance(jwk, dict):
        raise CliInputError("--trust-root must hold a JWK object")
    return jwk


def _no_root(settings: Settings) -> CityNotFound:
    return CityNotFound(
        f"no city in {settings.data_dir} to verify with: pass --trust-root ROOT.jwk (the city root key, served at "
        "GET /v1/trust-root) with --rpc-url, or --offline BUNDLE, or --data-dir with a city's data directory",
        data_dir=str(settings.data_dir),
    )


def _root_jwk(trust_root: Path | None, settings: Settings) -> dict[str, Any]:
    """The pinned root: ``--trust-root``, else the data dir's root public key (read without unlocking anything)."""
    if trust_root is not None:
        return _read_jwk(trust_root)
    if not city_exists(settings.data_dir):
        raise _no_root(settings)
    return data_dir_root_jwk(settings.data_dir)


def _service_url(trust_list_url: str | None, bundle: Any, text: str | None) -> str | None:
    """Where the city service is: beside ``--trust-list-url``, a proof bundle's trust list, or the link itself."""
    for url in (trust_list_url, bundle_trust_list_url(bundle) if isinstance(bundle, dict) else None):
        if url and url.rstrip("/").endswith(_TRUST_LIST_PATH):
            return url.rstrip("/").removesuffix(_TRUST_LIST_PATH)
    if text is not None and text.strip()[:8].lower().startswith(("https://", "http://")):
        parts = urlsplit(text.strip())
        path = parts.path.rstrip("/")
        if path.lower().endswith("/v"):
            return f"{parts.scheme}://{parts.netloc}{path[:-2]}"
    return None


def _third_party(
    settings: Settings,
    root: dict[str, Any],
    rpc_url: str | None,
    trust_list_url: str | None,
    bundle: Any,
    text: str | None,
) -> Verifier:
    url = rpc_url or settings.rpc_url
    if url is None:
        raise CliInputError("give --rpc-url (any Ethereum JSON-RPC node that serves the registry)")
    token = None
    if isinstance(bundle, dict) and isinstance(bundle.get("trust"), dict):
        candidate = bundle["trust"].get("trust_list")
        token = candidate if isinstance(candidate, str) else None
    return third_party_verifier(
        rpc_url=url,
        trust_root=root,
        service_url=_service_url(trust_list_url, bundle, text),
        trust_list_url=trust_list_url,
        trust_list=token,
        timeout=settings.rpc_timeout,
        freshness=timedelta(seconds=settings.kb_freshness_seconds),
    )


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


def _link_in(image: bytes) -> str | None:
    """The verification link a QR image holds, if any (it says where the city service is)."""
    for content in decode_qr_image(image):
        text = content.decode("utf-8", "replace").strip()
        if text[:8].lower().startswith(("https://", "http://")):
            return text
    return None


def _request(kind: str, value: Any, file: bytes | None) -> VerifyRequest:
    if kind == "image":
        return VerifyRequest(image=value, file=file)
    if kind == "pdf":
        if file is not None:
            raise CliInputError("a stamped PDF is its own file: leave out --file")
        return VerifyRequest(file=value)
    return VerifyRequest(payload=value, file=file)


def _run(verifier: Verifier, bundle: Any, payload: str | None, kind: str, value: Any, file: bytes | None) -> Report:
    if bundle is not None:
        return verifier.verify_bundle(bundle, payload=payload, file=file)
    return verifier.verify(_request(kind, value, file))


def _verify(
    source: str,
    file: Path | None,
    rpc_url: str | None,
    offline: Path | None,
    trust_root: Path | None,
    trust_list_url: str | None,
    settings: Settings,
) -> Report:
    kind, value = _read_input(source)
    file_bytes = read_file(file, field="--file") if file is not None else None
    offline_text = read_file(offline, field="--offline").decode("utf-8") if offline is not None else None
    freshness = timedelta(seconds=settings.kb_freshness_seconds)
    if offline_text is not None and is_offline_bundle(offline_text):  # the offline bundle alone: no network
        state = verify_offline_bundle(offline_text.strip(), _root_jwk(trust_root, settings), datetime.now(UTC))
        verifier = offline_verifier(state, freshness=freshness)
        return _run(verifier, value if kind == "bundle" else None, None, kind, value, file_bytes)
    bundle = value if kind == "bundle" else None
    payload = None
    if offline_text is not None:  # --offline with a proof bundle: verify this input with its proof
        bundle = json_depth.loads(offline_text)
        if kind != "bundle":
            payload = parsed_input(_request(kind, value, None)).payload
    if bundle is not None and not isinstance(bundle, dict):
        raise CliInputError("the bundle must be a JSON object")
    if trust_root is None:  # no pinned root: the data dir's own (public) sources
        if not city_exists(settings.data_dir):
            raise _no_root(settings)
        if rpc_url:
            settings = settings.model_copy(update={"rpc_url": rpc_url})
        with data_dir_verifier(settings) as verifier:
            return _run(verifier, bundle, payload, kind, value, file_bytes)
    text = value if kind == "text" else _link_in(value) if kind == "image" else None
    verifier = _third_party(settings, _read_jwk(trust_root), rpc_url, trust_list_url, bundle, text)
    return _run(verifier, bundle, payload, kind, value, file_bytes)


def verify_cmd(
    source: Annotated[
        str,
        typer.Argument(metavar="INPUT", help="A QR image, the QR text or link, a bundle JSON, or a stamped PDF"),
    ],
    file: Annotated[Path | None, typer.Option("--file", help="The document file to compare")] = None,
    rpc_url: Annotated[str | None, typer.Option("--rpc-url", help="Any Ethereum JSON-RPC node")] = None,
    offline: Annotated[
        Path | None,
        typer.Option(
            "--offline",
            help="A signed offline bundle (GET /v1/offline-bundle: verify with it alone) or a proof bundle JSON",
        ),
    ] = None,
    trust_root: Annotated[
        Path | None,
        typer.Option("--trust-root", help="The pinned city root JWK: verify as a third party"),
    ] = None,
    trust_list_url: Annotated[
        str | None,
        typer.Option(
            "--trust-list-url",
            help="The city service's trust list (default: beside a bundle's trust_root_url, else at the "
            "verification link's own address); it must verify against the pinned root",
        ),
    ] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Verify a document or a citizen ID, never with the issuer's secrets. Exit 0 valid, 1 any negative verdict,
    2 error.

    With ``--trust-root`` as a third party (``--rpc-url``); with ``--offline BUNDLE`` (a signed offline bundle) from
    it alone; otherwise from the data dir's public keys and database, read only. ``--offline`` also takes a proof
    bundle JSON (its proof, with the chain)."""
    settings = load_settings(data_dir)
    try:
        report = _verify(source, file, rpc_url, offline, trust_root, trust_list_url, settings)
    except XacthucError as exc:
        raise error_exit(exc, as_json) from None
    except (OSError, ValueError) as exc:
        raise error_exit(CliInputError(f"{type(exc).__name__}: {exc}"), as_json) from None
    _print_report(report, as_json)
    verdict = report.verdict.value
    raise typer.Exit(0 if verdict == "valid" else 2 if verdict == "error" else 1)
