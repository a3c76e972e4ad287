// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title DocumentRegistry
/// @notice Agencies anchor Merkle roots of batches of administrative documents; the agency that anchored a root
/// (or the city admin) can revoke or supersede one document of it, proven with a Merkle proof checked here.
/// An agency sends its own transactions (`anchor`, `revoke`), or signs an EIP-712 message that anyone may send for
/// it (`anchorFor`, `revokeFor`): the city's one funded relayer account pays the gas of every agency, and can do
/// nothing with that role but pay, since every record still needs the agency's own signature.
/// @dev Every record is keyed by the anchoring agency as well as the root. A batch's root is public before it is
///      anchored (a one-document batch's root follows from its receipt; any root is in its pending transaction), so
///      a registry keyed by root alone would let anyone anchor it first and block the agency's own anchor. Here a
///      third party's anchor of the same root is its own record, which verifiers (asking for the issuer's account)
///      never read.
///      Merkle rule, shared bit for bit with ledger/merkle.py:
///      leaf = keccak256(0x00 || data), node = keccak256(0x01 || min(a, b) || max(a, b)).
///      The prefixes keep an inner node from ever passing as a leaf; sorted pairs make proofs need no direction bits.
contract DocumentRegistry {
    /// @dev Revocation reasons. A nonzero replacedBy is only allowed with REASON_REPLACED.
    uint8 internal constant REASON_ANNULLED = 1;
    uint8 internal constant REASON_REPLACED = 2;
    uint8 internal constant REASON_ERROR = 3;
    uint8 internal constant REASON_OTHER = 4;

    /// @dev Proofs longer than this cannot come from a tree of at most 2**32 leaves; refused before hashing.
    uint256 internal constant MAX_PROOF_LENGTH = 64;

    /// @dev EIP-712 (domain: name, version, chainId, verifyingContract): what an agency signs so that another
    ///      account may send its anchor or revocation. The agency is the signer, so it is not a field.
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant NAME_HASH = keccak256("xacthuc DocumentRegistry");
    bytes32 internal constant VERSION_HASH = keccak256("1");
    bytes32 internal constant ANCHOR_TYPEHASH = keccak256("Anchor(bytes32 root,uint32 count)");
    bytes32 internal constant REVOKE_TYPEHASH =
        keccak256("Revoke(bytes32 root,bytes32 data,uint8 reason,bytes32 replacedBy)");

    /// @dev secp256k1n / 2: a signature with a larger s is the malleable twin of a valid one (EIP-2); refused.
    uint256 internal constant MAX_S = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @notice The city admin, who may revoke any agency's document.
    address public immutable admin;

    /// @dev The domain separator for the chain the contract was deployed on; recomputed if the chain id changes
    ///      (a fork), so a signature for one chain never counts on another.
    bytes32 internal immutable _cachedDomainSeparator;
    uint256 internal immutable _cachedChainId;

    /// @dev agency => root => anchoredAt (bits 0-63) | count (bits 64-95): one slot per anchor, so an anchor costs
    ///      exactly one fresh SSTORE. Never zero once written (count is at least 1).
    mapping(address agency => mapping(bytes32 root => uint256 packed)) internal _anchors;

    /// @dev agency => root => data => reason (bits 0-7) | revokedAt (bits 8-71). Keyed by the whole anchor and the
    ///      document, never by data alone: otherwise agency B could anchor A's public leaf data in its own tree (or
    ///      A's own root from its own account) and revoke it there.
    mapping(address agency => mapping(bytes32 root => mapping(bytes32 data => uint256 packed))) internal _revocations;

    /// @dev agency => root => data => replacement leaf data; written only for supersessions.
    mapping(address agency => mapping(bytes32 root => mapping(bytes32 data => bytes32 replacedBy))) internal
        _replacements;

    event Anchored(address indexed agency, bytes32 indexed root, uint32 count);
    event Revoked(address indexed agency, bytes32 indexed root, bytes32 indexed data, uint8 reason, bytes32 replacedBy);

    error ZeroRoot();
    error EmptyBatch();
    error RootAlreadyAnchored(address agency, bytes32 root);
    error RootNotAnchored(address agency, bytes32 root);
    error NotAnchorer(address agency, address caller);
    error InvalidProof(bytes32 root, bytes32 data);
    error AlreadyRevoked(address agency, bytes32 root, bytes32 data);
    error InvalidReason(uint8 reason);
    error BadSignature(address agency);

    constructor(address admin_) {
        admin = admin_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    /// @notice Anchors the Merkle root of a batch of `count` documents for the sending agency account.
    function anchor(bytes32 root, uint32 count) external {
        _checkBatch(root, count);
        _anchor(msg.sender, root, count);
    }

    /// @notice Anchors, for `agency`, the root its EIP-712 `Anchor(root, count)` signature authorises; any account
    /// may send it (the city's relayer pays the gas). Recorded and emitted exactly as `agency`'s own `anchor`.
    /// @param signature 65 bytes r || s || v (v 27 or 28, low s); `BadSignature(agency)` unless `agency` signed.
    function anchorFor(address agency, bytes32 root, uint32 count, bytes calldata signature) external {
        _checkBatch(root, count);
        _checkSignature(agency, keccak256(abi.encode(ANCHOR_TYPEHASH, root, count)), signature);
        _anchor(agency, root, count);
    }

    /// @notice Revokes the document `data` of the batch `root` that `agency` anchored; only that agency or the admin
    /// may.
    /// @param reason 1 annulled, 2 replaced, 3 error, 4 other.
    /// @param replacedBy the replacement document's leaf data, or zero; nonzero requires reason 2.
    function revoke(
        address agency,
        bytes32 root,
        bytes32 data,
        bytes32[] calldata proof,
        uint8 reason,
        bytes32 replacedBy
    ) external {
        _checkRevocation(agency, root, reason, replacedBy);
        if (msg.sender != agency && msg.sender != admin) revert NotAnchorer(agency, msg.sender);
        _revoke(agency, root, data, proof, reason, replacedBy);
    }

    /// @notice Revokes, for `agency`, the document its EIP-712 `Revoke(root, data, reason, replacedBy)` signature
    /// authorises; any account may send it. Only `agency`'s own signature counts (the admin uses `revoke`).
    /// Recorded and emitted exactly as `agency`'s own `revoke`.
    function revokeFor(
        address agency,
        bytes32 root,
        bytes32 data,
        bytes32[] calldata proof,
        uint8 reason,
        bytes32 replacedBy,
        bytes calldata signature
    ) external {
        _checkRevocation(agency, root, reason, replacedBy);
        _checkSignature(agency, keccak256(abi.encode(REVOKE_TYPEHASH, root, data, reason, replacedBy)), signature);
        _revoke(agency, root, data, proof, reason, replacedBy);
    }

    /// @notice When `agency` anchored `root` and how many documents its batch holds (zeros if it never did).
    function anchors(address agency, bytes32 root) external view returns (uint64 anchoredAt, uint32 count) {
        uint256 packed = _anchors[agency][root];
        anchoredAt = uint64(packed);
        count = uint32(packed >> 64);
    }

    /// @notice Everything a verifier needs about one document of `agency` in one call: anchoredAt 0 means `agency`
    /// never anchored `root` (whoever else did), reason 0 means not revoked. The proof is not checked here:
    /// verifiers check it off chain (or with verifyProof).
    function status(address agency, bytes32 root, bytes32 data)
        external
        view
        returns (uint64 anchoredAt, uint8 reason, uint64 revokedAt, bytes32 replacedBy)
    {
        anchoredAt = uint64(_anchors[agency][root]);
        uint256 revocation = _revocations[agency][root][data];
        reason = uint8(revocation);
        revokedAt = uint64(revocation >> 8);
        replacedBy = _replacements[agency][root][data];
    }

    /// @notice The EIP-712 domain separator agencies sign under (name "xacthuc DocumentRegistry", version "1").
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @notice Whether `proof` proves the document `data` under `root` (the same check revoke makes).
    function verifyProof(bytes32 root, bytes32 data, bytes32[] calldata proof) external pure returns (bool) {
        return _verify(root, data, proof);
    }

    function _checkBatch(bytes32 root, uint32 count) internal pure {
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
    }

    function _anchor(address agency, bytes32 root, uint32 count) internal {
        mapping(bytes32 => uint256) storage own = _anchors[agency];
        if (own[root] != 0) revert RootAlreadyAnchored(agency, root);
        own[root] = block.timestamp | (uint256(count) << 64);
        emit Anchored(agency, root, count);
    }

    /// @dev The checks before the caller's (or signer's): reason, then the anchor exists.
    function _checkRevocation(address agency, bytes32 root, uint8 reason, bytes32 replacedBy) internal view {
        if (reason < REASON_ANNULLED || reason > REASON_OTHER) revert InvalidReason(reason);
        if (replacedBy != bytes32(0) && reason != REASON_REPLACED) revert InvalidReason(reason);
        if (_anchors[agency][root] == 0) revert RootNotAnchored(agency, root);
    }

    /// @dev The checks after the caller's: the proof, then not yet revoked; then the record and the event.
    function _revoke(
        address agency,
        bytes32 root,
        bytes32 data,
        bytes32[] calldata proof,
        uint8 reason,
        bytes32 replacedBy
    ) internal {
        if (!_verify(root, data, proof)) revert InvalidProof(root, data);
        mapping(bytes32 => uint256) storage revocations = _revocations[agency][root];
        if (revocations[data] != 0) revert AlreadyRevoked(agency, root, data);
        revocations[data] = uint256(reason) | (block.timestamp << 8);
        if (replacedBy != bytes32(0)) _replacements[agency][root][data] = replacedBy;
        emit Revoked(agency, root, data, reason, replacedBy);
    }

    /// @dev Reverts with BadSignature(agency) unless `signature` is `agency`'s EIP-712 signature of `structHash`:
    ///      exactly 65 bytes, v 27 or 28, s in the lower half (no malleable twin), recovering to `agency` (never
    ///      to the zero address, which ecrecover returns for an invalid signature).
    function _checkSignature(address agency, bytes32 structHash, bytes calldata signature) internal view {
        if (signature.length != 65) revert BadSignature(agency);
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        if (uint256(s) > MAX_S || (v != 27 && v != 28)) revert BadSignature(agency);
        bytes32 digest = keccak256(abi.encodePacked(hex"1901", _domainSeparator(), structHash));
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0) || signer != agency) revert BadSignature(agency);
    }

    function _domainSeparator() internal view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() internal view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    function _verify(bytes32 root, bytes32 data, bytes32[] calldata proof) internal pure returns (bool) {
        if (proof.length > MAX_PROOF_LENGTH) return false;
        bytes32 node;
        assembly ("memory-safe") {
            // 65 bytes of scratch beyond the free memory pointer: prefix byte, then one or two 32-byte words.
            let m := mload(0x40)
            mstore8(m, 0x00)
            mstore(add(m, 1), data)
            node := keccak256(m, 33)
            mstore8(m, 0x01)
            let end := add(proof.offset, shl(5, proof.length))
            for { let p := proof.offset } lt(p, end) { p := add(p, 0x20) } {
                let sibling := calldataload(p)
                switch lt(sibling, node)
                case 0 {
                    mstore(add(m, 1), node)
                    mstore(add(m, 33), sibling)
                }
                default {
                    mstore(add(m, 1), sibling)
                    mstore(add(m, 33), node)
                }
                node := keccak256(m, 65)
            }
        }
        return node == root;
    }
}
