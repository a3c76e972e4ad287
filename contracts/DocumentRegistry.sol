// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

/// @title DocumentRegistry
/// @notice Agencies anchor Merkle roots of batches of administrative documents; the agency that anchored a root
/// (or the city admin) can revoke or supersede one document of it, proven with a Merkle proof checked here.
/// @dev Merkle rule, shared bit for bit with ledger/merkle.py:
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

    /// @notice The city admin, who may revoke any document.
    address public immutable admin;

    /// @dev root => agency (bits 0-159) | anchoredAt (bits 160-223) | count (bits 224-255): one slot per anchor,
    ///      so an anchor costs exactly one fresh SSTORE.
    mapping(bytes32 root => uint256 packed) internal _anchors;

    /// @dev root => data => reason (bits 0-7) | revokedAt (bits 8-71). Keyed by the pair, never by data alone:
    ///      otherwise agency B could anchor A's public leaf data in its own tree and revoke it.
    mapping(bytes32 root => mapping(bytes32 data => uint256 packed)) internal _revocations;

    /// @dev root => data => replacement leaf data; written only for supersessions.
    mapping(bytes32 root => mapping(bytes32 data => bytes32 replacedBy)) internal _replacements;

    event Anchored(bytes32 indexed root, address indexed agency, uint32 count);
    event Revoked(bytes32 indexed root, bytes32 indexed data, uint8 reason, bytes32 replacedBy);

    error ZeroRoot();
    error EmptyBatch();
    error RootAlreadyAnchored(bytes32 root, address agency);
    error RootNotAnchored(bytes32 root);
    error NotAnchorer(bytes32 root, address caller);
    error InvalidProof(bytes32 root, bytes32 data);
    error AlreadyRevoked(bytes32 root, bytes32 data);
    error InvalidReason(uint8 reason);

    constructor(address admin_) {
        admin = admin_;
    }

    /// @notice Anchors the Merkle root of a batch of `count` documents for the sending agency account.
    function anchor(bytes32 root, uint32 count) external {
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        uint256 packed = _anchors[root];
        if (packed != 0) revert RootAlreadyAnchored(root, address(uint160(packed)));
        _anchors[root] = uint256(uint160(msg.sender)) | (block.timestamp << 160) | (uint256(count) << 224);
        emit Anchored(root, msg.sender, count);
    }

    /// @notice Revokes the document `data` of the batch `root`; only its anchorer or the admin may.
    /// @param reason 1 annulled, 2 replaced, 3 error, 4 other.
    /// @param replacedBy the replacement document's leaf data, or zero; nonzero requires reason 2.
    function revoke(bytes32 root, bytes32 data, bytes32[] calldata proof, uint8 reason, bytes32 replacedBy)
        external
    {
        if (reason < REASON_ANNULLED || reason > REASON_OTHER) revert InvalidReason(reason);
        if (replacedBy != bytes32(0) && reason != REASON_REPLACED) revert InvalidReason(reason);
        uint256 packed = _anchors[root];
        if (packed == 0) revert RootNotAnchored(root);
        if (msg.sender != address(uint160(packed)) && msg.sender != admin) revert NotAnchorer(root, msg.sender);
        if (!_verify(root, data, proof)) revert InvalidProof(root, data);
        if (_revocations[root][data] != 0) revert AlreadyRevoked(root, data);
        _revocations[root][data] = uint256(reason) | (block.timestamp << 8);
        if (replacedBy != bytes32(0)) _replacements[root][data] = replacedBy;
        emit Revoked(root, data, reason, replacedBy);
    }

    /// @notice Who anchored `root`, when, and how many documents its batch holds (all zero if never anchored).
    function anchors(bytes32 root) external view returns (address agency, uint64 anchoredAt, uint32 count) {
        uint256 packed = _anchors[root];
        agency = address(uint160(packed));
        anchoredAt = uint64(packed >> 160);
        count = uint32(packed >> 224);
    }

    /// @notice Everything a verifier needs about one document in one call. The proof is not checked here:
    /// verifiers check it off chain (or with verifyProof). reason 0 means not revoked.
    function status(bytes32 root, bytes32 data)
        external
        view
        returns (address agency, uint64 anchoredAt, uint8 reason, uint64 revokedAt, bytes32 replacedBy)
    {
        uint256 packed = _anchors[root];
        agency = address(uint160(packed));
        anchoredAt = uint64(packed >> 160);
        uint256 revocation = _revocations[root][data];
        reason = uint8(revocation);
        revokedAt = uint64(revocation >> 8);
        replacedBy = _replacements[root][data];
    }

    /// @notice Whether `proof` proves the document `data` under `root` (the same check revoke makes).
    function verifyProof(bytes32 root, bytes32 data, bytes32[] calldata proof) external pure returns (bool) {
        return _verify(root, data, proof);
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
