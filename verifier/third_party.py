"""A third party's sources: an Ethereum JSON-RPC URL and the pinned city root key, nothing else.

A bank, a landlord or an official verifies without the issuer's secrets, database or node:

- the **trust list** is fetched from the city service (``GET /v1/trust-list``) and verified against the *pinned* root
  (``RefreshingTrustList``: fetched again when it expires, after ``trust_max_age``, and once, rate-limited, when a
  receipt names a key the held list lacks), so the service needs no trust of its own;
- **status lists** (citizen IDs) are fetched from the URI the credential names, and verified by the pipeline;
- the **registry** is read through the RPC URL, one ``eth_call`` per verification (with a deadline per call);
- a document's **proof** comes from a proof bundle, or from the service's public bundle route
  (``GET /v1/documents/{id}/bundle``, the id is signed in the payload). It is only a hint: the pipeline recomputes the
  Merkle path, asks the registry whether the issuer's own account anchored the root, and reads the revocation state
  from the chain, so a service that lies can make a document look pending, invalid or unavailable, never valid.

Nothing here reads a data directory, unlocks a keystore or starts a node.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from web3 import Web3

from keys import json_depth
from keys.errors import InvalidInput, XacthucError
from keys.limits import THIRD_PARTY_RESPONSE_BYTES, THIRD_PARTY_TIMEOUT_SECONDS
from keys.trust_list import RefreshingTrustList, TrustList, verify_trust_list
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof
from ledger.chain.reader import RegistryReader
from ledger.chain.rpc_failover import rpc_provider
from ledger.documents.receipt import Registry
from ledger.errors import ChainUnavailable

from .bundle import BUNDLE_TYPE, bundle_metadata, bundle_registry, bundle_replaced_by
from .payload import ParsedPayload
from .report import Report
from .service import Verifier
from .sources import Link, NoProofs, Published

__all__ = [
    "DocumentServiceUnavailable",
    "PublishedDocuments",
    "RpcRegistries",
    "StatusListUnavailable",
    "TrustListUnavailable",
    "http_status_lists",
    "http_trust_list",
    "third_party_verifier",
]

MAX_BYTES = THIRD_PARTY_RESPONSE_BYTES
DEFAULT_TIMEOUT = THIRD_PARTY_TIMEOUT_SECONDS
TRUST_MAX_AGE = timedelta(minutes=5)  # how long a long-lived verifier keeps a trust list before fetching it again


class TrustListUnavailable(XacthucError):
    """The published trust list could not be fetched."""

    code = "TRUST_LIST_UNAVAILABLE"
    http_status = 503


class StatusListUnavailable(XacthucError):
    """A citizen ID's status list could not be fetched."""

    code = "STATUS_LIST_UNAVAILABLE"
    http_status = 503


class DocumentServiceUnavailable(XacthucError):
    """The city service did not answer for the document (its proof and registry come from there)."""

    code = "DOCUMENT_SERVICE_UNAVAILABLE"
    http_status = 503


def _get(
    http: httpx.Client | None,
    url: str,
    accept: str,
    error: type[XacthucError],
    what: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    missing_ok: bool = False,
) -> bytes | None:
    """GET ``url`` (http or https only, no redirects, past any HTTP cache), at most :data:`MAX_BYTES`."""
    if not url.startswith(("https://", "http://")):
        raise error(f"{what} is not at an http(s) URL")
    headers = {"Accept": accept, "Cache-Control": "no-cache"}
    client = http if http is not None else httpx.Client(timeout=timeout, follow_redirects=False)
    try:
        with client.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=False) as response:
            if missing_ok and response.status_code == 404:
                return None
            if response.status_code != 200:
                raise error(f"{what} at {url} answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise error(f"the answer of {url} is too large for {what}")
            return body
    except httpx.HTTPError as exc:
        raise error(f"{what} at {url} could not be fetched ({type(exc).__name__})") from None
    finally:
        if http is None:
            client.close()


def _ascii(body: bytes, url: str, error: type[XacthucError], what: str) -> str:
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise error(f"the answer of {url} is not {what}") from None


def http_trust_list(
    url: str, *, http: httpx.Client | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Callable[[], str]:
    """``fetch()`` for ``RefreshingTrustList``: the signed trust list at ``url``, fetched past any HTTP cache since it
    is asked exactly when a held list proved too old. Only bytes: the caller verifies them against the pinned root."""

    def fetch() -> str:
        body = _get(http, url, "application/jwt", TrustListUnavailable, "the trust list", timeout=timeout)
        assert body is not None
        return _ascii(body, url, TrustListUnavailable, "a trust list")

    return fetch


def http_status_lists(*, http: httpx.Client | None = None, timeout: float = DEFAULT_TIMEOUT) -> Callable[[str], str]:
    """``fetch(uri)``: the Token Status List JWT published at ``uri`` (the credential pipeline verifies it)."""

    def fetch(uri: str) -> str:
        accept = "application/statuslist+jwt, application/jwt"
        body = _get(http, uri, accept, StatusListUnavailable, "the status list", timeout=timeout)
        assert body is not None
        return _ascii(body, uri, StatusListUnavailable, "a status list")

    return fetch


class PublishedDocuments:
    """A document's proof, registry and metadata from the city service's public proof bundle, by document id.

    Proofs by leaf alone are not published, so ``proof_for`` finds nothing: the :class:`verifier.Verifier` asks
    ``find(document_id)`` first. Whatever comes back is only presented to the pipeline, which checks it.
    """

    def __init__(self, service_url: str, *, http: httpx.Client | None = None, timeout: float = DEFAULT_TIMEOUT):
        self.service_url = service_url.rstrip("/")
        self._http = http
        self._timeout = timeout

    def proof_for(self, leaf: bytes) -> Proof | None:
        return None

    def find(self, document_id: str) -> Published | None:
        """The published bundle of ``document_id`` (None if the service does not know it)."""
        url = f"{self.service_url}/v1/documents/{quote(document_id, safe='')}/bundle"
        body = _get(
            self._http,
            url,
            "application/json",
            DocumentServiceUnavailable,
            "the proof bundle",
            timeout=self._timeout,
            missing_ok=True,
        )
        if body is None:
            return None
        try:
            bundle = json_depth.loads(body)
            if not isinstance(bundle, Mapping) or bundle.get("type") != BUNDLE_TYPE:
                raise InvalidInput("not a proof bundle")
            raw = bundle.get("proof")
            proof = Proof.from_dict(raw) if isinstance(raw, Mapping) else None
            payload = bundle.get("payload")
            return Published(
                bundle_registry(bundle),
                bundle_metadata(bundle),
                proof,
                payload if isinstance(payload, str) else None,
                bundle_replaced_by(bundle),
            )
        except (ValueError, XacthucError) as exc:
            raise DocumentServiceUnavailable(f"the proof bundle at {url} is unusable ({type(exc).__name__})") from None

    def link_for(self, leaf: bytes, document_id: str | None) -> Link | None:
        """A replacement named by id (the previous bundle's ``replaced_by``): its published bundle, as a hint that
        ``verifier.supersession`` binds to ``leaf`` through the receipt before believing any of it."""
        if document_id is None:
            return None
        found = self.find(document_id)
        if found is None:
            return None
        return Link(leaf, proof=found.proof, payload=found.payload, replaced_by=found.replaced_by)


class _Unreadable:
    def __init__(self, message: str) -> None:
        self.message = message

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise ChainUnavailable(self.message)


class _ChainChecked:
    """The registry's reader, after checking once that the node serves the registry's chain."""

    def __init__(self, reader: RegistryReader, chain_id: int) -> None:
        self.reader = reader
        self.chain_id = chain_id
        self._checked = False

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        if not self._checked:
            served = self.reader.chain_id
            if served != self.chain_id:
                raise ChainUnavailable(
                    f"the RPC node serves chain {served}, the document's registry is on {self.chain_id}"
                )
            self._checked = True
        return self.reader.status(agency, root, data)


class RpcRegistries:
    """The registries a document may name, read through one JSON-RPC URL (each call with a deadline), or several of
    one chain, comma-separated, failing over (``ledger.chain.rpc_failover``)."""

    def __init__(self, rpc_url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.w3 = Web3(rpc_provider(rpc_url, timeout=timeout))
        self._readers: dict[Registry, ChainStatusReader] = {}
        self._lock = threading.Lock()

    def reader_for(self, registry: Registry) -> ChainStatusReader:
        with self._lock:
            reader = self._readers.get(registry)
            if reader is None:
                reader = self._readers[registry] = _ChainChecked(
                    RegistryReader(self.w3, registry.hex_address), registry.chain_id
                )
            return reader

    def status(self, agency: str, root: bytes, data: bytes) -> DocumentChainStatus:
        raise ChainUnavailable("no registry is known for this document")


def third_party_verifier(
    *,
    rpc_url: str,
    trust_root: Mapping[str, Any],
    service_url: str | None = None,
    trust_list_url: str | None = None,
    trust_list: str | None = None,
    http: httpx.Client | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], datetime] | None = None,
    freshness: timedelta | None = None,
    trust_max_age: timedelta = TRUST_MAX_AGE,
) -> Verifier:
    """A :class:`verifier.Verifier` for anyone: ``rpc_url`` reads the chain, ``trust_root`` is the pinned city root
    JWK (``GET /v1/trust-root``, obtained out of band). ``service_url`` is the city service (its trust list and
    documents' proof bundles); ``trust_list_url`` overrides where the trust list is fetched; ``trust_list`` (a
    signed list at hand, e.g. a proof bundle's) is used first, once it verifies against the root.
    """
    now = clock or (lambda: datetime.now(UTC))
    http = http if http is not None else httpx.Client(timeout=timeout, follow_redirects=False)  # connections reused
    base = service_url.rstrip("/") if service_url else None
    list_url = trust_list_url or (f"{base}/v1/trust-list" if base else None)

    def no_list() -> str:
        raise TrustListUnavailable("no trust list URL is known: give the city service's URL")

    initial: TrustList | None = None
    if trust_list is not None:
        initial = verify_trust_list(trust_list, trust_root, now())
    trust = RefreshingTrustList(
        http_trust_list(list_url, http=http, timeout=timeout) if list_url else no_list,
        trust_root,
        now,
        initial=initial,
        max_age=trust_max_age if list_url else None,  # a list at hand and nowhere to fetch: kept until it expires
    )
    kwargs: dict[str, Any] = {} if freshness is None else {"freshness": freshness}

    @contextmanager
    def scope(parsed: ParsedPayload) -> Iterator[Callable[[Report], Report]]:
        trust.current()  # fetched again first when expired or older than trust_max_age
        yield _unchanged

    return Verifier(
        trust=trust,
        chain=RpcRegistries(rpc_url, timeout=timeout),
        status_lists=http_status_lists(http=http, timeout=timeout),
        proofs=PublishedDocuments(base, http=http, timeout=timeout) if base else NoProofs(),
        clock=now,
        scope=scope,
        **kwargs,
    )


def _unchanged(report: Report) -> Report:
    return report
