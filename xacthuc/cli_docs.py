"""``xacthuc doc issue|import|show|revoke`` and ``xacthuc verify``: thin Typer layers over ledger.documents and
the verifier.

``doc issue`` and ``doc import`` work on the local data dir (keystore and database) without a chain when the
registry is known (``registry.json`` written by ``serve``, or ``XACTHUC_REGISTRY_ADDRESS``); the worker of a running
``serve`` (or ``xacthuc anchor``) anchors them. ``verify`` exits 0 for ``valid``, 1 for any other verdict but
``error``, and 2 for ``error`` or when the input cannot be verified at all.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import Session

from keys import json_depth
from keys.errors import CityNotFound, InvalidInput, JsonTooDeep, XacthucError
from ledger.document import DOCUMENT_FIELDS
from ledger.document_status import document_json, get_document
from ledger.documents import DocumentRow, issue_batch, issue_document
from ledger.receipt import Registry
from ledger.revocation import revoke_document
from verifier.report import Report
from xacthuc.cli import error_exit as _fail
from xacthuc.settings import Settings, load_settings

doc_app = typer.Typer(help="Documents: issue, import an archive, show, revoke.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: XACTHUC_DATA_DIR, ./var)")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON")]
IMPORT_CHUNK = 500
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM", b"RIFF")


class CliInputError(InvalidInput):
    """A command-line input is unusable."""

    code = "CLI_INPUT_INVALID"


def local_registry(settings: Settings) -> Registry:
    """The registry documents are signed for: configured, or recorded by ``serve``, or deployed now (dev chain)."""
    if settings.registry_address:
        chain_id = settings.chain_id
        if settings.rpc_url:
            from xacthuc.chainsetup import web3_for

            chain_id = int(web3_for(settings.rpc_url, settings).eth.chain_id)
        return Registry.of(chain_id, settings.registry_address)
    record = settings.data_dir / "registry.json"
    if record.exists():
        data = json.loads(record.read_text(encoding="utf-8"))
        return Registry.of(int(data["chain_id"]), str(data["address"]))
    from xacthuc.services import build_services

    services = build_services(settings)  # a fresh dev data dir: start the embedded chain and deploy the registry
    try:
        client = services.registry()
        return Registry.of(client.chain_id, client.address)
    finally:
        services.close()


def _document_agency(city: Any, agency: str | None) -> str:
    if agency is not None:
        return agency
    candidates = []
    for a in city.agency_ids():
        profile = city.keyring(a).profile
        if profile is not None and "documents" in profile.roles and not profile.disabled:
            candidates.append(a)
    if len(candidates) != 1:
        raise CliInputError(f"choose the issuing agency with --agency (one of: {', '.join(candidates) or 'none'})")
    return str(candidates[0])


def _print_doc(body: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return
    for key in ("id", "number", "title", "status", "sha256", "verify_url"):
        if body.get(key) is not None:
            out.print(escape(f"{key:>10}: {body[key]}"))
    revocation = body.get("revocation")
    if revocation is not None:
        out.print(escape(f"{'revocation':>10}: {revocation['reason']}, {revocation['state']}"))


@doc_app.command("issue")
def doc_issue(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The document file")],
    number: Annotated[str, typer.Option(help="Number and symbol, e.g. 2392/QĐ-UBND")],
    title: Annotated[str, typer.Option(help="Trích yếu")],
    issuing_body: Annotated[str, typer.Option()],
    place: Annotated[str, typer.Option()],
    issued_on: Annotated[str, typer.Option(help="YYYY-MM-DD")],
    signer_name: Annotated[str, typer.Option()],
    signer_title: Annotated[str, typer.Option()],
    signing_form: Annotated[str | None, typer.Option(help="TM., KT., TL., TUQ. or Q.")] = None,
    agency: Annotated[str | None, typer.Option(help="Issuing agency id (default: the only documents agency)")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue one document: sign its receipt, store it and queue it for anchoring; prints its verification link."""
    from xacthuc.cli_keys import open_city

    settings = load_settings(data_dir)
    fields = {
        "number": number,
        "title": title,
        "issuing_body": issuing_body,
        "place": place,
        "issued_on": issued_on,
        "signer_name": signer_name,
        "signer_title": signer_title,
        "signing_form": signing_form,
    }
    try:
        registry = local_registry(settings)
        with open_city(data_dir) as (city, session):
            agency_id = _document_agency(city, agency)
            now = datetime.now(UTC)
            issued = issue_document(
                session,
                agency_id=agency_id,
                signer=city.keyring(agency_id).signer(now),
                account_address=city.eth_address(agency_id),
                registry=registry,
                fields=fields,
                file_bytes=file.read_bytes(),
                now=now,
                public_url=settings.public_url,
                filename=file.name,
            )
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    body = {
        "id": issued.id,
        **issued.metadata,
        "sha256": issued.sha256,
        "status": issued.status,
        "receipt": issued.receipt,
        "verify_url": issued.verify_url,
        "qr_url": f"{settings.public_url}/v1/documents/{issued.id}/qr.png",
    }
    _print_doc(body, as_json)


def _import_items(source: Path) -> list[tuple[dict[str, Any], Path]]:
    """CSV: a ``file`` column (relative to the CSV) and the metadata columns. DIR: ``X`` with its ``X.json``."""
    items: list[tuple[dict[str, Any], Path]] = []
    if source.is_dir():
        for meta_path in sorted(source.glob("*.json")):
            target = meta_path.with_suffix("")
            if not target.is_file():
                raise CliInputError(f"{meta_path.name}: no file {target.name} next to it")
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):
                raise CliInputError(f"{meta_path.name}: must be a JSON object of metadata fields")
            items.append((meta, target))
        return items
    with source.open(newline="", encoding="utf-8-sig") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            name = (row.pop("file", None) or "").strip()
            if not name:
                raise CliInputError(f"row {i + 2}: the file column is empty")
            meta = {k: v for k, v in row.items() if k in DOCUMENT_FIELDS and v not in (None, "")}
            items.append((meta, source.parent / name))
    return items


def _chunks(items: list[tuple[dict[str, Any], Path]], size: int) -> Iterator[list[tuple[dict[str, Any], Path]]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


@doc_app.command("import")
def doc_import(
    source: Annotated[Path, typer.Argument(exists=True, help="A CSV (file + metadata columns) or a directory")],
    agency: Annotated[str | None, typer.Option(help="Issuing agency id")] = None,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Import an archive in chunks of 500 (each chunk all or nothing), with a progress bar."""
    from xacthuc.cli_keys import open_city

    settings = load_settings(data_dir)
    issued_ids: list[str] = []
    try:
        items = _import_items(source)
        registry = local_registry(settings)
        with (
            open_city(data_dir) as (city, session),
            Progress(
                TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err
            ) as bar,
        ):
            agency_id = _document_agency(city, agency)
            task = bar.add_task("import", total=len(items))
            address = city.eth_address(agency_id)
            for chunk in _chunks(items, IMPORT_CHUNK):
                now = datetime.now(UTC)
                docs = issue_batch(
                    session,
                    agency_id=agency_id,
                    signer=city.keyring(agency_id).signer(now),
                    account_address=address,
                    registry=registry,
                    items=[(meta, path.read_bytes()) for meta, path in chunk],
                    now=now,
                    public_url=settings.public_url,
                )
                session.commit()
                issued_ids += [d.id for d in docs]
                bar.advance(task, len(chunk))
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    except (OSError, ValueError, KeyError) as exc:
        raise _fail(CliInputError(f"{type(exc).__name__}: {exc}"), as_json) from None
    if as_json:
        print(json.dumps({"imported": len(issued_ids), "ids": issued_ids}))
    else:
        out.print(f"imported {len(issued_ids)} documents; they are anchored by the worker (`xacthuc anchor --wait`)")


@doc_app.command("show")
def doc_show(document_id: str, data_dir: DataDir = None, as_json: JsonFlag = False) -> None:
    """Show a document: metadata, status, receipt, verification link and, once anchored, its proof."""
    from xacthuc.citysetup import require_city
    from xacthuc.database import migrate
    from xacthuc.db import make_engine

    settings = load_settings(data_dir)
    try:
        require_city(settings)
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    engine = make_engine(settings.resolved_database_url())
    try:
        migrate(engine)
        with Session(engine) as session:
            body = document_json(get_document(session, document_id), settings.public_url)
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    finally:
        engine.dispose()
    _print_doc(body, as_json)


@doc_app.command("revoke")
def doc_revoke(
    document_id: str,
    reason: Annotated[str | None, typer.Option(help="annulled, replaced, error or other")] = None,
    replaced_by: Annotated[str | None, typer.Option("--replaced-by", help="The replacing document's id")] = None,
    note: Annotated[str | None, typer.Option(help="A note kept with the revocation")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the revocation is confirmed")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the confirmation")] = 120.0,
    data_dir: DataDir = None,
    as_json: JsonFlag = False,
) -> None:
    """Revoke (or supersede) an anchored document: recorded at once, then sent on chain from its issuing agency's
    account (by this command, or by the running server's worker) and, with --wait, confirmed."""
    from xacthuc.anchor_cmd import drive_outbox
    from xacthuc.services import build_services

    try:
        services = build_services(load_settings(data_dir))
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    try:
        with Session(services.engine, expire_on_commit=False) as session:
            row = session.get(DocumentRow, document_id.upper())
            get_document(session, document_id)  # DOC_NOT_FOUND for a missing one
            if row is not None:
                revoke_document(
                    session,
                    row,
                    agency_id=row.agency_id,
                    reason=reason,
                    note=note,
                    replaced_by=replaced_by,
                    now=services.clock(),
                )
                session.commit()  # durable: from here on the revocation reaches the chain whatever happens

        def left(session: Session) -> int:
            return 0 if get_document(session, document_id).status in ("revoked", "superseded") else 1

        drive_outbox(services, left, wait=wait, timeout=timeout)
        with Session(services.engine) as session:
            view = get_document(session, document_id)
            body = document_json(view, services.settings.public_url)
    except XacthucError as exc:
        raise _fail(exc, as_json) from None
    finally:
        services.close()
    _print_doc(body, as_json)


# ------------------------------------------------------------------------------------------------------- verify
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
    from xacthuc.cli_keys import open_city

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
    from ledger.chain import RegistryClient
    from ledger.revocation import RegistryStatusReader
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
        raise _fail(exc, as_json) from None
    except (OSError, ValueError) as exc:
        raise _fail(CliInputError(f"{type(exc).__name__}: {exc}"), as_json) from None
    _print_report(report, as_json)
    verdict = report.verdict.value
    raise typer.Exit(0 if verdict == "valid" else 2 if verdict == "error" else 1)
