"""Following a chain of supersessions (A replaced by B, B by C) to the newest document, for the ``not_revoked`` check.

The registry says only that a document was replaced by a leaf (the replacement's commitment). Each further link is
read the same way the document itself was: the replacement's proof is recomputed, its receipt (when the source has
one) must hash to the leaf before its id, number and issuer are believed, and its own revocation is read from the
chain under its issuer's account in the trust list. A link the chain cannot confirm ends the walk there
(``unconfirmed``); so do a link in force (the newest valid one), a revoked one, a loop and the bound
(:data:`MAX_LINKS`). The verdict of the document itself does not depend on any of this: the chain already said it is
superseded; the walk only tells whom by.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keys.errors import XacthucError
from keys.limits import SUPERSESSION_LINKS
from keys.protocols import KeyResolver
from ledger.chain.proof import ChainStatusReader, DocumentChainStatus, Proof, RevocationReason, proof_root
from ledger.documents.receipt import Registry, commitment, decode_payload

from .sources import Link

__all__ = ["MAX_LINKS", "Supersession", "describe", "follow_supersessions"]

MAX_LINKS = SUPERSESSION_LINKS
DOCUMENTS_ROLE = "documents"
_REASON_NAMES = {r.value: r.name.lower() for r in RevocationReason}

LinkLookup = Callable[[bytes, str | None], Link | None]
NameLookup = Callable[[bytes], Mapping[str, Any] | None]


@dataclass
class Supersession:
    """The chain as followed: one entry per replacement, in order (``{"document_id", "number", "leaf", "status"}``,
    status ``in_force``, ``superseded``, ``revoked`` or ``unconfirmed``); ``loop`` / ``truncated`` when the walk
    stopped on a leaf already seen or at :data:`MAX_LINKS`."""

    links: list[dict[str, Any]] = field(default_factory=list)
    loop: bool = False
    truncated: bool = False

    @property
    def newest(self) -> dict[str, Any] | None:
        """The last replacement followed: the one in force when the chain ends well (None: the registry named the
        document itself)."""
        return self.links[-1] if self.links else None


def _issuer_account(resolver: KeyResolver, issuer_id: str) -> str | None:
    keys_for = getattr(resolver, "keys_for", None)
    if keys_for is None:
        return None
    for key in keys_for(issuer_id):
        if key.issuer_id == issuer_id and DOCUMENTS_ROLE in key.roles and key.eth_address:
            return str(key.eth_address)
    return None


def _proof_ok(proof: Proof | None, leaf: bytes, registry: Registry) -> bool:
    if proof is None or proof.leaf != leaf:
        return False
    if proof.chain_id != registry.chain_id or proof.contract.lower() != registry.hex_address:
        return False
    try:
        return proof_root(proof) == proof.root
    except XacthucError:
        return False


def _bind(link: Link, entry: dict[str, Any], registry: Registry, resolver: KeyResolver) -> str | None:
    """The account whose anchor of the link counts, with the entry's names filled in; None if it cannot be told."""
    if link.payload is not None:
        try:
            receipt = decode_payload(link.payload, registry=registry)
        except XacthucError:
            return None
        if receipt.registry != registry or commitment(receipt) != link.leaf:
            return None  # a receipt for another document: none of its names are this link's
        entry["document_id"], entry["number"] = receipt.document_id_str, receipt.number
        return _issuer_account(resolver, receipt.issuer_id)
    if link.anchorer is not None:
        entry["document_id"], entry["number"] = link.document_id, link.number
        return link.anchorer
    return None


def _status(chain: ChainStatusReader, account: str, proof: Proof) -> DocumentChainStatus | None:
    try:
        status = chain.status(account, proof.root, proof.leaf)
    except Exception:  # the chain already decided the verdict; an unreadable link only ends the walk
        return None
    if status.anchorer is None or status.anchored_at is None or status.anchorer.lower() != account.lower():
        return None
    return status


def follow_supersessions(
    first: bytes,
    *,
    origin: bytes,
    registry: Registry,
    chain: ChainStatusReader,
    resolver: KeyResolver,
    links: LinkLookup | None,
    names: NameLookup | None = None,
    hint: str | None = None,
    max_links: int = MAX_LINKS,
) -> Supersession:
    """Follow the replacements from ``first`` (the leaf the registry names for ``origin``, the verified document).

    ``links`` describes a leaf (``verifier.sources.Supersessions``); ``names`` gives a replacement's number and id
    from a trusted store when a link carries none; ``hint`` is the id of ``first`` when a service named it.
    """
    result = Supersession()
    seen = {origin}
    leaf: bytes | None = first
    while leaf is not None:
        if leaf in seen:
            result.loop = True
            break
        if len(result.links) >= max_links:
            result.truncated = True
            break
        seen.add(leaf)
        entry: dict[str, Any] = {"document_id": None, "number": None, "leaf": "0x" + leaf.hex()}
        entry["status"] = "unconfirmed"
        result.links.append(entry)
        leaf, hint = _step(leaf, hint, entry, registry, chain, resolver, links, names)
    return result


def _step(
    leaf: bytes,
    hint: str | None,
    entry: dict[str, Any],
    registry: Registry,
    chain: ChainStatusReader,
    resolver: KeyResolver,
    links: LinkLookup | None,
    names: NameLookup | None,
) -> tuple[bytes | None, str | None]:
    """Fill ``entry`` for ``leaf``; the next leaf to follow (and its id hint), or None when the walk ends here."""
    try:
        link = links(leaf, hint) if links is not None else None
    except Exception:
        link = None
    account = _bind(link, entry, registry, resolver) if link is not None else None
    if entry["document_id"] is None and names is not None:
        try:
            named = names(leaf)
        except Exception:
            named = None
        if named:
            entry["document_id"], entry["number"] = named.get("document_id"), named.get("number")
    if link is None or account is None or not _proof_ok(link.proof, leaf, registry):
        return None, None
    assert link.proof is not None
    status = _status(chain, account, link.proof)
    if status is None:
        return None, None
    if status.reason == RevocationReason.NONE:
        entry["status"] = "in_force"
        return None, None
    if status.reason == RevocationReason.REPLACED and status.replaced_by is not None:
        entry["status"] = "superseded"
        return status.replaced_by, link.replaced_by
    entry["status"] = "revoked"
    entry["reason"] = _REASON_NAMES.get(status.reason, "unknown")
    return None, None


def describe(entry: Mapping[str, Any]) -> str:
    """How a message names a replacement: its number (and id), else its id, else the start of its leaf."""
    number, document_id = entry.get("number"), entry.get("document_id")
    if number and document_id:
        return f"{number} ({document_id})"
    if number or document_id:
        return str(number or document_id)
    return str(entry["leaf"])[:18] + "…"
