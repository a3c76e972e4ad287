"""Every limit xacthuc enforces on what it reads, in one place: sizes, lengths, counts, depths and the server's
timeouts. Each constant says why it has its value; docs/limits.md lists where each is enforced, the error past it
and the tests at and past it (tests/security/test_limits.py fails when a constant here is in neither).

The modules that enforce a limit take its value from here (some keep their old name as an alias). Rate limits live
with the rate limiter (xacthuc/rate_limit.py); gas limits and retry counts are not input limits and stay with their
code. Imports nothing: every package may read it.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

_KIB: Final = 1024
_MIB: Final = 1024 * 1024

# --------------------------------------------------------------------------------------------------- HTTP requests
#: A request body and a document file: a scanned decision of a few hundred pages fits (settings.upload_limit).
UPLOAD_BYTES: Final = 50 * _MIB
#: Nesting of any JSON body or token: every document, credential and request nests under ten levels.
JSON_DEPTH: Final = 64
#: A JSON text field of /v1/verify (payload, audience, nonce): twice the longest QR payload, with room for a link.
VERIFY_TEXT_CHARS: Final = 16_384
#: An OpenID4VCI token or credential request: a few hundred bytes, a credential request with its proof about 1 KiB.
OID4VCI_BODY_BYTES: Final = 16 * _KIB
#: A wallet's OpenID4VP answer (form-encoded vp_token): a presentation of every claim is under 8 KiB.
OID4VP_FORM_BYTES: Final = 64 * _KIB
#: Documents in one POST /v1/documents/batch, issued all or none in one transaction.
DOCUMENT_BATCH: Final = 1000
#: Rows in one chunk of the agency page's bulk import (each with its file, inside the upload limit).
IMPORT_CHUNK_ROWS: Final = 50
#: Audit entries in one page of GET /v1/audit.
AUDIT_PAGE: Final = 1000

# ------------------------------------------------------------------------------------------------- the HTTP server
#: From a connection's first byte (or its opening) to the end of the request's headers: a real client sends its
#: headers in one packet; a client that trickles them (slowloris) is cut off.
HEADER_TIMEOUT_SECONDS: Final = 10.0
#: A request's line and headers together: browsers send under 8 KiB; uvicorn's parser has no bound of its own.
HEADER_BYTES: Final = 64 * _KIB
#: Time a request body may take before the rate floor applies (a phone's upload starting slowly).
BODY_GRACE_SECONDS: Final = 10.0
#: Bytes a second a request body must average after the grace: 64 kbit/s, below any mobile link that still works.
BODY_MIN_BYTES_PER_SECOND: Final = 8 * _KIB
#: An idle keep-alive connection is closed after this long (uvicorn's default, stated here).
KEEP_ALIVE_SECONDS: Final = 5

# -------------------------------------------------------------------------------------------- fields and passwords
#: Decree 30 metadata text fields, in characters after NFC: a long trích yếu, a long issuing body's name.
DOCUMENT_FIELD_CHARS: Final = MappingProxyType(
    {"title": 2000, "issuing_body": 300, "place": 100, "signer_name": 120, "signer_title": 200}
)
#: The number and symbol as typed, before NFKC (which can expand one character up to 18-fold).
DOCUMENT_NUMBER_INPUT_CHARS: Final = 200
#: Signer authority register texts: an office's title, its holder's and a delegate's name.
OFFICE_FIELD_CHARS: Final = MappingProxyType({"title": 200, "holder": 120, "delegate": 120, "delegate_title": 200})
#: A relying party's stated purpose in a presentation request (shown to the citizen in the wallet).
PURPOSE_CHARS: Final = 200
#: A staff password: Argon2 takes any length; a bound keeps a megabyte "password" from costing more than a guess.
PASSWORD_CHARS: Final = 1024

# ---------------------------------------------------------------------------------------------- tokens and payloads
#: Any compact JWS: a trust list of thousands of agencies fits; a megabyte-plus token is an attack.
JWS_CHARS: Final = 1 * _MIB
#: A verifier's certificate chain in an x5c-signed request object.
X509_TOKEN_CHARS: Final = 64 * _KIB
#: An SD-JWT (with its disclosures and key binding): a full citizen ID is about 3 KiB.
SD_JWT_CHARS: Final = 64 * _KIB
#: A holder's proof-of-possession JWT in a credential request: a header with a P-256 key and a few claims.
OID4VCI_PROOF_CHARS: Final = 8192
#: One signer authority register entry token.
OFFICE_ENTRY_CHARS: Final = 16 * _KIB
#: Any text given to the verifier to decode: more than any QR code holds (version 40 at ECC L: 7,089 digits).
VERIFY_INPUT_CHARS: Final = 8192
#: A document's QR payload (XD1:...): a real one is about 280 characters; longer is refused before decoding.
DOCUMENT_PAYLOAD_CHARS: Final = 1024
#: A citizen ID's QR payload (XI2:...): a version 40 QR code holds 4,296 alphanumeric characters.
ID_PAYLOAD_CHARS: Final = 8192
#: A citizen ID payload's container once inflated: a deflate bomb stops here.
ID_CONTAINER_BYTES: Final = 64 * _KIB
#: Segments (the SD-JWT's parts) in a citizen ID container.
ID_SEGMENTS: Final = 256
#: The receipt payload hex in a stamped PDF's /XacthucStamp dictionary.
PDF_STAMP_PAYLOAD_HEX: Final = 8192
#: Stamp dictionaries looked at in one PDF (a stamped PDF issued again and stamped again has two).
PDF_STAMP_CANDIDATES: Final = 16

# --------------------------------------------------------------------------------------------------------- images
#: A QR image's file: a 24-megapixel JPEG from a phone is under 10 MiB.
QR_IMAGE_BYTES: Final = 10 * _MIB
#: A QR image's pixels, checked before decoding: a 48-megapixel photo (or a decompression bomb) is refused.
QR_IMAGE_PIXELS: Final = 40_000_000

# ------------------------------------------------------------------------------------------------- chains and lists
#: Merkle proof nodes: a tree of 2**32 documents needs 32; the contract refuses longer proofs too.
MERKLE_PROOF_NODES: Final = 64
#: Supersessions a walk over the ledger follows before it gives up (a longer chain is old data, or a loop).
REPLACEMENT_CHAIN: Final = 64
#: Replacements the verifier follows for a report (a real chain is a handful; more is a loop or an attack on time).
SUPERSESSION_LINKS: Final = 16
#: Entries in one agency's signer authority register as read by the verifier.
REGISTER_ENTRIES: Final = 10_000
#: Bits in one Token Status List: 16 million credentials per list, 2 MiB uncompressed.
STATUS_LIST_BITS: Final = 2**24
#: An offline bundle's registry JSON once inflated: a compressed registry expanding past this is a bomb.
OFFLINE_REGISTRY_BYTES: Final = 16 * _MIB

# ------------------------------------------------------------------------------------------ what our clients read
#: An answer from an issuer or verifier to the wallet: an offer, metadata, a token or a credential (a few KiB each).
WALLET_RESPONSE_BYTES: Final = 256 * _KIB
#: A link the wallet is given to open (a credential offer or a presentation request).
WALLET_LINK_CHARS: Final = 8 * _KIB
#: An answer to the third-party verifier: a trust list, status list or proof bundle is far smaller.
THIRD_PARTY_RESPONSE_BYTES: Final = 1 * _MIB
#: How long the third-party verifier waits for the service it asks (connect and each read).
THIRD_PARTY_TIMEOUT_SECONDS: Final = 10.0

# -------------------------------------------------------------------------------------------------------- backups
#: A line of a sealed backup file's header.
BACKUP_LINE_BYTES: Final = 64 * _KIB
#: One member of a backup archive (16 GiB): a larger one is damage, or a bomb.
BACKUP_MEMBER_BYTES: Final = 1 << 34
