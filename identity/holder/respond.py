"""Answer a relying party over OpenID4VP 1.0: the request by reference (``request_uri``), a signed request object
whose client identifier is ``x509_hash:<sha256 of the x5c leaf>``, a DCQL query for one SD-JWT VC, and the
``direct_post`` response mode. The wallet shows who asks, for what and where the answer goes before it answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from identity import presentation
from identity.errors import RequestObjectInvalid, VerifierError, WalletError, WalletLinkInvalid
from identity.holder._http import json_object, oauth_error, send
from identity.holder.offer import check_url
from identity.sdjwt import parse_jws, split_compact
from identity.wallet import Wallet, WalletEntry
from keys.errors import SignatureError
from keys.limits import WALLET_LINK_CHARS
from keys.x509 import verify_x509_hash_jws

__all__ = [
    "REQUEST_SCHEME",
    "REQUEST_TYP",
    "X509_HASH",
    "PresentationRequest",
    "RequestLink",
    "Response",
    "fetch_request",
    "parse_request_link",
    "refuse",
    "respond",
]

REQUEST_SCHEME = "openid4vp"
REQUEST_TYP = "oauth-authz-req+jwt"
X509_HASH = "x509_hash:"
SELF_ISSUED = "https://self-issued.me/v2"
FORMAT = "dc+sd-jwt"
_MAX_LINK = WALLET_LINK_CHARS


@dataclass(frozen=True)
class RequestLink:
    client_id: str
    request_uri: str


def parse_request_link(link: str) -> RequestLink:
    """Read ``openid4vp://?client_id=..&request_uri=..`` or ``https://.../wallet#client_id=..&request_uri=..``."""
    link = link.strip()
    parts = urlsplit(link)
    if not link or len(link) > _MAX_LINK or parts.scheme not in (REQUEST_SCHEME, "http", "https"):
        raise WalletLinkInvalid("not a presentation request link")
    text = parts.fragment if parts.scheme != REQUEST_SCHEME and parts.fragment else parts.query
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        parsed = {}
    params = {k: v[0] for k, v in parsed.items() if len(v) == 1}
    if "request" in params and "request_uri" not in params:
        raise WalletLinkInvalid("a request passed by value is not supported: the verifier must sign it (request_uri)")
    client_id, request_uri = params.get("client_id"), params.get("request_uri")
    if not client_id or not request_uri:
        raise WalletLinkInvalid("not a presentation request link (client_id and request_uri are needed)")
    return RequestLink(client_id, check_url(request_uri, "the request URI"))


@dataclass(frozen=True)
class PresentationRequest:
    """A verified request: who asks (``client_name``, ``client_id``), why, for which claims, and where to answer."""

    client_id: str
    client_name: str | None
    purpose: str | None
    response_uri: str
    nonce: str
    state: str | None
    credential_query_id: str
    vct_values: tuple[str, ...]
    claims: tuple[str, ...]
    expires_at: datetime | None

    @property
    def response_host(self) -> str:
        """The host the answer goes to, shown to the citizen before approving."""
        return urlsplit(self.response_uri).netloc


def _text(payload: dict[str, Any], name: str, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise RequestObjectInvalid(f"the request object's {name} is missing or not a string")
    return value


def _dcql(query: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The one SD-JWT VC credential query: its id, accepted ``vct`` values and the top-level claims it asks for."""
    credentials = query.get("credentials") if isinstance(query, dict) else None
    if not isinstance(credentials, list) or len(credentials) != 1 or not isinstance(credentials[0], dict):
        raise RequestObjectInvalid("the DCQL query must ask for exactly one credential")
    cq = credentials[0]
    if cq.get("format") != FORMAT or not isinstance(cq.get("id"), str):
        raise RequestObjectInvalid(f"the DCQL query asks for a credential format other than {FORMAT}")
    vcts = (cq.get("meta") or {}).get("vct_values") if isinstance(cq.get("meta"), dict) else None
    if not isinstance(vcts, list) or not vcts or not all(isinstance(v, str) for v in vcts):
        raise RequestObjectInvalid("the DCQL query names no vct_values")
    names = []
    for claim in cq.get("claims") or []:
        path = claim.get("path") if isinstance(claim, dict) else None
        if not isinstance(path, list) or len(path) != 1 or not isinstance(path[0], str):
            raise RequestObjectInvalid("the DCQL query asks for a claim other than a top-level one by name")
        names.append(path[0])
    if not names:
        raise RequestObjectInvalid("the DCQL query asks for no claim")
    if "claim_sets" in cq or "credential_sets" in query:
        raise RequestObjectInvalid("claim_sets and credential_sets are not supported")
    return cq["id"], tuple(vcts), tuple(dict.fromkeys(names))


def fetch_request(client: httpx.Client, link: str, *, now: datetime) -> PresentationRequest:
    """Fetch the request object a link names and check it: the x5c leaf signed it, its SHA-256 is the
    ``x509_hash:`` client identifier the link gave, and it asks for something this wallet can answer."""
    ref = parse_request_link(link)
    headers = {"Accept": f"application/{REQUEST_TYP}"}
    r = send(client, VerifierError, "verifier", "GET", ref.request_uri, headers=headers)
    if r.status_code != 200:
        body = json_object(r, VerifierError, "verifier") if r.content else {}
        raise VerifierError(f"the request is not available: {oauth_error(body)[1] or f'HTTP {r.status_code}'}")
    if not ref.client_id.startswith(X509_HASH):
        raise RequestObjectInvalid("only verifiers named by x509_hash: are supported")
    try:  # the x5c leaf signed it and hashes to the client_id of the link, which the request object repeats
        verified = verify_x509_hash_jws(r.text.strip(), ref.client_id)
    except SignatureError as exc:
        raise RequestObjectInvalid(f"the request object does not check: {exc.message}") from None
    if verified.header.get("typ") != REQUEST_TYP:
        raise RequestObjectInvalid(f"the request object's typ is not {REQUEST_TYP}")
    payload = verified.payload
    client_id = ref.client_id
    if payload.get("response_type") != "vp_token" or payload.get("response_mode") != "direct_post":
        raise RequestObjectInvalid("only response_type vp_token with response_mode direct_post is supported")
    if payload.get("aud", SELF_ISSUED) != SELF_ISSUED:
        raise RequestObjectInvalid("the request object is meant for another audience")
    exp = payload.get("exp")
    if exp is not None and (not isinstance(exp, int) or exp <= now.timestamp()):
        raise RequestObjectInvalid("the request has expired: ask the relying party for a new one")
    response_uri = check_url(str(_text(payload, "response_uri")), "response_uri", RequestObjectInvalid)
    query_id, vcts, claims = _dcql(payload.get("dcql_query"))
    metadata = payload.get("client_metadata")
    name = metadata.get("client_name") if isinstance(metadata, dict) else None
    return PresentationRequest(
        client_id=client_id,
        client_name=name if isinstance(name, str) else None,
        purpose=_text(payload, "purpose", required=False),
        response_uri=response_uri,
        nonce=str(_text(payload, "nonce")),
        state=_text(payload, "state", required=False),
        credential_query_id=query_id,
        vct_values=vcts,
        claims=claims,
        expires_at=datetime.fromtimestamp(exp, UTC) if isinstance(exp, int) else None,
    )


@dataclass(frozen=True)
class Response:
    """The verifier's answer to the wallet's post: HTTP status, its JSON body, and ``redirect_uri`` if it gave one."""

    status_code: int
    body: dict[str, Any]
    redirect_uri: str | None


def _post(client: httpx.Client, request: PresentationRequest, form: dict[str, str]) -> Response:
    if request.state is not None:
        form["state"] = request.state
    r = send(client, VerifierError, "verifier", "POST", request.response_uri, data=form)
    body = json_object(r, VerifierError, "verifier") if r.content else {}
    if r.status_code != 200:
        error, description = oauth_error(body)
        raise VerifierError(f"the verifier refused the answer: {error or r.status_code} {description}".strip())
    redirect = body.get("redirect_uri")
    return Response(r.status_code, body, redirect if isinstance(redirect, str) else None)


def _matching(wallet: Wallet, vcts: tuple[str, ...]) -> WalletEntry:
    for entry in reversed(wallet.entries):  # the newest of the asked type
        if parse_jws(split_compact(entry.credential).issuer_jwt).payload.get("vct") in vcts:
            return entry
    raise WalletError("the wallet holds no credential of the kind the relying party asks for")


def respond(client: httpx.Client, wallet: Wallet, request: PresentationRequest, *, now: datetime) -> Response:
    """Present exactly the asked claims with a KB-JWT (``aud`` = client_id, the request's ``nonce``) and post it."""
    entry = _matching(wallet, request.vct_values)
    compact = presentation.present(
        entry.credential, request.claims, wallet.key, audience=request.client_id, now=now, nonce=request.nonce
    )
    return _post(client, request, {"vp_token": json.dumps({request.credential_query_id: [compact]})})


def refuse(client: httpx.Client, request: PresentationRequest) -> Response:
    """Tell the verifier the citizen declined (``error=access_denied``)."""
    return _post(client, request, {"error": "access_denied", "error_description": "the holder declined"})
