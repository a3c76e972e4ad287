"""The compiled DocumentRegistry artefact, call encoding, and revert decoding into typed ledger errors.

The artefact ships as package data (``ledger/chain/registry_artifact.json``): ``node contracts/build.mjs`` writes it
byte for byte identical to ``contracts/artifacts/DocumentRegistry.json``, and tests/contracts/test_build.py rebuilds
both and compares them. Loading it through importlib.resources works from a checkout and from an installed wheel.
"""

from __future__ import annotations

import ast
import contextlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.address import to_checksum_address

from ledger.chain.merkle import keccak256
from ledger.errors import (
    AlreadyRevoked,
    BadSignature,
    EmptyBatch,
    InvalidProof,
    InvalidReason,
    NotAnchorer,
    RegistryArtifactError,
    RegistryRevert,
    RootAlreadyAnchored,
    RootNotAnchored,
    UnknownRevert,
    ZeroRoot,
)

ARTIFACT_RESOURCE = "registry_artifact.json"

#: Each Solidity custom error of the registry and the ledger error that mirrors it (a test pins the pairing).
REVERT_ERRORS: Mapping[str, type[RegistryRevert]] = {
    cls.solidity_error: cls
    for cls in (
        ZeroRoot,
        EmptyBatch,
        RootAlreadyAnchored,
        RootNotAnchored,
        NotAnchorer,
        InvalidProof,
        AlreadyRevoked,
        InvalidReason,
        BadSignature,
    )
}

_ERROR_STRING = bytes.fromhex("08c379a0")  # Error(string)
_PANIC = bytes.fromhex("4e487b71")  # Panic(uint256)


@dataclass(frozen=True)
class _Signature:
    name: str
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]
    selector: bytes
    topic: bytes


@dataclass(frozen=True)
class RegistryArtifact:
    """The committed compiler output for DocumentRegistry, with its ABI indexed for encoding and decoding."""

    abi: list[dict[str, Any]]
    bytecode: bytes
    deployed_bytecode: bytes
    #: (start, length) of every immutable in the deployed code: zeros in ``deployed_bytecode``, set at deployment.
    immutable_ranges: tuple[tuple[int, int], ...]
    compiler_version: str
    settings: dict[str, Any]
    functions: dict[str, _Signature]
    errors: dict[bytes, _Signature]
    events: dict[str, _Signature]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RegistryArtifact:
        abi = list(doc["abi"])
        errors = _signatures(abi, "error")
        return cls(
            abi=abi,
            bytecode=bytes.fromhex(doc["bytecode"].removeprefix("0x")),
            deployed_bytecode=bytes.fromhex(doc["deployedBytecode"].removeprefix("0x")),
            immutable_ranges=tuple(
                sorted(
                    (int(r["start"]), int(r["length"]))
                    for refs in dict(doc.get("immutableReferences") or {}).values()
                    for r in refs
                )
            ),
            compiler_version=str(doc["compiler"]["version"]),
            settings=dict(doc["settings"]),
            functions=_signatures(abi, "function"),
            errors={sig.selector: sig for sig in errors.values()},
            events=_signatures(abi, "event"),
        )

    def event_topic(self, name: str) -> bytes:
        """topic0 of the event ``name``."""
        return self.events[name].topic

    def encode_call(self, name: str, *args: Any) -> bytes:
        """Calldata for the function ``name``."""
        sig = self.functions[name]
        return sig.selector + encode(list(sig.input_types), list(args))

    def decode_output(self, name: str, data: bytes) -> tuple[Any, ...]:
        """The decoded return values of the function ``name``."""
        return tuple(decode(list(self.functions[name].output_types), data))

    def is_deployed_code(self, code: bytes) -> bool:
        """Whether ``code`` (a contract's runtime code, ``eth_getCode``) is this build's: equal to the deployed
        bytecode everywhere but in the immutables (the admin, the EIP-712 domain), which each deployment sets."""
        if len(code) != len(self.deployed_bytecode):
            return False
        masked = bytearray(code)
        for start, length in self.immutable_ranges:
            masked[start : start + length] = bytes(length)
        return bytes(masked) == self.deployed_bytecode

    def encode_deploy(self, admin: str) -> bytes:
        """Creation code with the constructor argument appended."""
        return self.bytecode + encode(["address"], [admin])


def _canonical_type(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


def _signatures(abi: Sequence[Mapping[str, Any]], kind: str) -> dict[str, _Signature]:
    out: dict[str, _Signature] = {}
    for item in abi:
        if item.get("type") != kind:
            continue
        inputs = tuple(_canonical_type(p) for p in item.get("inputs", []))
        outputs = tuple(_canonical_type(p) for p in item.get("outputs", []))
        topic = keccak256(f"{item['name']}({','.join(inputs)})".encode())
        out[str(item["name"])] = _Signature(str(item["name"]), inputs, outputs, topic[:4], topic)
    return out


@cache
def load_artifact() -> RegistryArtifact:
    """The DocumentRegistry artefact shipped with this package."""
    try:
        raw = resources.files("ledger.chain").joinpath(ARTIFACT_RESOURCE).read_text(encoding="utf-8")
        return RegistryArtifact.from_json(json.loads(raw))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryArtifactError(f"cannot load ledger/{ARTIFACT_RESOURCE}: {exc}") from exc


def decode_revert(data: bytes | None, *, tx_hash: bytes | None = None) -> RegistryRevert:
    """The typed error for revert data returned by the registry (UnknownRevert when it is not one of ours)."""
    if not data or len(data) < 4:
        return UnknownRevert(data, tx_hash=tx_hash)
    artifact = load_artifact()
    sig = artifact.errors.get(data[:4])
    cls = REVERT_ERRORS.get(sig.name) if sig is not None else None
    if sig is None or cls is None:
        error = UnknownRevert(data, tx_hash=tx_hash)
        if data[:4] == _ERROR_STRING:
            with contextlib.suppress(Exception):  # a malformed reason string keeps the generic message
                error.message = f"transaction reverted: {decode(['string'], data[4:])[0]}"
        return error
    try:
        values = decode(list(sig.input_types), data[4:])
    except Exception:  # malformed revert data is reported, not raised
        return UnknownRevert(data, tx_hash=tx_hash)
    args = [to_checksum_address(v) if t == "address" else v for t, v in zip(sig.input_types, values, strict=True)]
    return cls(*args, tx_hash=tx_hash)


def revert_data_from_exception(exc: BaseException) -> bytes | None:
    """The raw revert data carried by a backend's revert exception, or None when it carries none.

    anvil (JSON-RPC): web3 raises ContractCustomError / ContractLogicError with ``data`` as a hex string.
    eth-tester (py-evm): eth_tester.exceptions.TransactionFailed("execution reverted: b'...'") with a bytes repr.
    """
    data = getattr(exc, "data", None)
    if isinstance(data, Mapping):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    if isinstance(data, bytes):
        return data
    if _is_eth_tester_failure(exc) and exc.args:
        return _revert_data_from_message(exc.args[0])
    return None


def _revert_data_from_message(arg: object) -> bytes | None:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, BaseException):
        return _revert_data_from_message(arg.args[0]) if arg.args else None
    text = str(arg).removeprefix("execution reverted: ")
    if text.startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    if text.startswith("0x"):
        try:
            return bytes.fromhex(text[2:])
        except ValueError:
            return None
    return None


def is_revert_exception(exc: BaseException) -> bool:
    """Whether ``exc`` is a backend's way of saying the call reverted (as opposed to a transport failure)."""
    from web3.exceptions import ContractLogicError

    return isinstance(exc, ContractLogicError) or _is_eth_tester_failure(exc)


def _is_eth_tester_failure(exc: BaseException) -> bool:
    # Matched by name: eth-tester is a test dependency and must not be imported in production.
    cls = type(exc)
    return cls.__name__ == "TransactionFailed" and cls.__module__.startswith("eth_tester")
