"""Every check code and verdict in Vietnamese and English: the one catalogue the pages and the API share.

A report's own ``message`` is English and specific (it may name a number or an audience); these are the plain
sentences a person reads beside it. ``tests/verifier/test_messages.py`` proves every pinned check code (the tables
in docs/qr-payload.md and docs/identity.md) has both languages.
"""

from __future__ import annotations

from ledger.documents.metadata import DOCUMENT_FIELDS

from .metadata import mismatch_code

__all__ = ["CHECK_MESSAGES", "CHECK_NAMES", "LANGS", "VERDICTS", "check_message"]

LANGS = ("vi", "en")

#: The verdict as one word, by language.
VERDICTS: dict[str, dict[str, str]] = {
    "valid": {"vi": "Hợp lệ", "en": "Valid"},
    "invalid": {"vi": "Không hợp lệ", "en": "Invalid"},
    "revoked": {"vi": "Đã thu hồi", "en": "Revoked"},
    "superseded": {"vi": "Đã được thay thế", "en": "Superseded"},
    "expired": {"vi": "Hết hạn", "en": "Expired"},
    "untrusted": {"vi": "Không rõ nguồn gốc", "en": "Untrusted"},
    "pending": {"vi": "Đang chờ ghi sổ", "en": "Pending"},
    "error": {"vi": "Chưa kiểm tra được", "en": "Could not check"},
}

#: What each check looks at, by language.
CHECK_NAMES: dict[str, dict[str, str]] = {
    "format": {"vi": "Định dạng mã", "en": "Code format"},
    "issuer_trusted": {"vi": "Cơ quan ban hành tin cậy", "en": "Trusted issuer"},
    "key_valid_at_signing": {"vi": "Khóa còn hiệu lực khi ký", "en": "Key valid when signed"},
    "key_valid_at_issuance": {"vi": "Khóa còn hiệu lực khi cấp", "en": "Key valid when issued"},
    "signature": {"vi": "Chữ ký số", "en": "Digital signature"},
    "metadata_matches": {"vi": "Thông tin văn bản", "en": "Document details"},
    "anchored": {"vi": "Ghi trên sổ cái", "en": "Anchored on the ledger"},
    "not_revoked": {"vi": "Chưa bị thu hồi", "en": "Not revoked"},
    "file_matches": {"vi": "Tệp văn bản", "en": "Document file"},
    "signer_authority": {"vi": "Thẩm quyền người ký", "en": "Signer's authority"},
    "not_expired": {"vi": "Còn thời hạn", "en": "Not expired"},
    "status": {"vi": "Trạng thái thu hồi", "en": "Revocation status"},
    "disclosures": {"vi": "Thông tin được tiết lộ", "en": "Disclosed claims"},
    "key_binding": {"vi": "Người xuất trình", "en": "Holder binding"},
    "audience": {"vi": "Bên nhận", "en": "Audience"},
    "requested_claims": {"vi": "Đúng thông tin được yêu cầu", "en": "Requested claims"},
}

_FIELD_NAMES = {
    "number": ("số, ký hiệu", "the number"),
    "title": ("trích yếu", "the title"),
    "issuing_body": ("cơ quan ban hành", "the issuing body"),
    "place": ("địa danh", "the place"),
    "issued_on": ("ngày ban hành", "the date"),
    "signer_name": ("tên người ký", "the signer's name"),
    "signer_title": ("chức vụ người ký", "the signer's title"),
    "signing_form": ("thể thức ký", "the signing form"),
}

_CODES: dict[str, tuple[str, str]] = {
    # shared by documents and digital IDs
    "FORMAT_OK": ("Mã đúng định dạng.", "The code is well formed."),
    "NOT_APPLICABLE": ("Không áp dụng cho mã này.", "Does not apply to this code."),
    "CHECK_FAILED": ("Bước kiểm tra này gặp lỗi, không thể kết luận.", "This check failed to complete."),
    "ISSUER_TRUSTED": ("Cơ quan ban hành có trong danh sách tin cậy.", "The issuer is in the trust list."),
    "KEY_VALID": ("Khóa ký còn hiệu lực lúc ký.", "The signing key was valid when it signed."),
    "KEY_COMPROMISED": ("Khóa ký đã bị lộ trước thời điểm ký.", "The signing key was compromised before signing."),
    "ISSUED_IN_FUTURE": ("Thời điểm ký ở tương lai.", "It claims to be signed in the future."),
    "SIGNATURE_VALID": ("Chữ ký số đúng.", "The digital signature verifies."),
    "SIGNATURE_INVALID": ("Chữ ký số sai: nội dung đã bị sửa hoặc giả mạo.", "The signature does not verify."),
    "ALG_NOT_ALLOWED": ("Thuật toán ký không được chấp nhận.", "The signature algorithm is not allowed."),
    "NOT_REVOKED": ("Chưa bị thu hồi.", "Not revoked."),
    # documents: format
    "PAYLOAD_INVALID": ("Mã QR bị hỏng hoặc không đầy đủ.", "The QR code is damaged or incomplete."),
    "PAYLOAD_TOO_LARGE": ("Mã quá dài.", "The code is too long."),
    "PAYLOAD_VERSION_UNSUPPORTED": ("Phiên bản mã chưa được hỗ trợ.", "This code version is not supported."),
    "PAYLOAD_REGISTRY_UNKNOWN": ("Mã thuộc một sổ cái không rõ.", "The code names an unknown registry."),
    "PAYLOAD_UNRECOGNIZED": ("Đây không phải mã của xacthuc.", "This is not a xacthuc code."),
    "INPUT_TOO_LARGE": ("Dữ liệu quá lớn.", "The input is too large."),
    "PAYLOAD_KIND_MISMATCH": ("Loại mã không khớp.", "The code is of another kind."),
    # documents: issuer and key
    "KEY_UNKNOWN": ("Khóa ký không có trong danh sách tin cậy.", "The signing key is not in the trust list."),
    "KEY_ROLE_MISSING": ("Cơ quan này không được phép ban hành văn bản.", "This issuer may not issue documents."),
    "KEY_LOOKUP_UNSUPPORTED": ("Không tra cứu được khóa ký.", "The signing key could not be looked up."),
    "KEY_NOT_VALID_AT_SIGNING": ("Khóa ký không còn hiệu lực lúc ký.", "The key was not valid when it signed."),
    "KEY_STATUS_UNKNOWN": ("Không rõ trạng thái khóa ký.", "The signing key's status is unknown."),
    # documents: metadata
    "METADATA_MATCHES": ("Thông tin văn bản đúng như đã ký.", "The document's details are as signed."),
    "METADATA_UNAVAILABLE": (
        "Không có bản thông tin văn bản để đối chiếu: chỉ số và ngày được kiểm tra.",
        "No copy of the details to compare: only the number and date were checked.",
    ),
    "METADATA_DIGEST_MISMATCH": ("Thông tin văn bản đã bị sửa.", "The document's details were altered."),
    "METADATA_FIELD_UNKNOWN": ("Thông tin văn bản có trường lạ.", "The details carry an unknown field."),
    # documents: anchoring
    "ANCHORED": ("Đã ghi trên sổ cái (blockchain).", "Anchored on the ledger (blockchain)."),
    "DOC_NOT_ANCHORED": ("Chưa được ghi lên sổ cái; thử lại sau ít phút.", "Not anchored yet; try again shortly."),
    "ROOT_NOT_ON_CHAIN": ("Chưa thấy trên sổ cái; thử lại sau ít phút.", "Not on the ledger yet; try again shortly."),
    "PROOF_LEAF_MISMATCH": ("Bằng chứng thuộc về văn bản khác.", "The proof is for another document."),
    "PROOF_REGISTRY_MISMATCH": ("Bằng chứng thuộc về sổ cái khác.", "The proof is from another registry."),
    "MERKLE_PATH_INVALID": ("Bằng chứng ghi sổ bị sai.", "The anchoring proof is wrong."),
    "ANCHORER_MISMATCH": ("Văn bản được ghi sổ bởi tài khoản khác.", "Anchored by another account than the issuer's."),
    "ISSUER_ACCOUNT_UNKNOWN": ("Không rõ tài khoản ghi sổ của cơ quan.", "The issuer's ledger account is unknown."),
    "CHAIN_UNAVAILABLE": ("Không kết nối được sổ cái; thử lại sau.", "The ledger could not be reached; try later."),
    "PROOF_UNAVAILABLE": ("Không lấy được bằng chứng ghi sổ.", "The anchoring proof could not be fetched."),
    # documents: revocation
    "DOC_REVOKED": ("Văn bản đã bị thu hồi.", "The document has been revoked."),
    "DOC_SUPERSEDED": ("Văn bản đã được thay thế bởi văn bản khác.", "The document was replaced by another."),
    # documents: the signer's authority (Decree 30; verifier/signer_authority.py)
    "SIGNER_IN_OFFICE": (
        "Người ký giữ chức danh này vào ngày ký, theo sổ chức danh của cơ quan.",
        "The signer held this office on the signing date, by the agency's register.",
    ),
    "SIGNER_DELEGATED": (
        "Người ký được giao ký thừa lệnh hoặc thừa ủy quyền văn bản này vào ngày ký.",
        "The signer was delegated (TL. or TUQ.) to sign this document on its date.",
    ),
    "SIGNER_NOT_IN_OFFICE": (
        "Theo sổ chức danh, người ký không giữ chức danh này vào ngày ký.",
        "By the agency's register, the signer did not hold this office on the signing date.",
    ),
    "SIGNING_FORM_NOT_ALLOWED": (
        "Người ký không được ký theo thể thức này (TM., KT., Q.).",
        "The signer may not sign in this form (TM., KT., Q.).",
    ),
    "DELEGATION_MISSING": ("Người ký không được giao ký văn bản.", "The signer holds no delegation to sign."),
    "DELEGATION_EXPIRED": ("Việc giao ký đã hết hạn trước ngày ký.", "The delegation had ended before the date."),
    "DELEGATION_REVOKED": ("Việc giao ký đã bị thu hồi trước ngày ký.", "The delegation was revoked before the date."),
    "DELEGATION_NOT_COVERING": (
        "Việc giao ký không bao gồm văn bản này.",
        "The delegation does not cover this document.",
    ),
    "REGISTER_NOT_KEPT": (
        "Cơ quan chưa lập sổ chức danh khi ban hành văn bản này.",
        "The agency kept no register of offices when this was issued.",
    ),
    "REGISTER_UNAVAILABLE": (
        "Không có sổ chức danh để kiểm tra thẩm quyền người ký.",
        "No register of offices to check the signer's authority against.",
    ),
    "REGISTER_INCOMPLETE": ("Sổ chức danh xuất trình bị thiếu mục.", "The register presented has entries missing."),
    # documents: the file
    "FILE_MATCHES": ("Tệp đúng là văn bản đã ký.", "The file is the signed document."),
    "FILE_MISMATCH": ("Tệp không phải văn bản đã ký: đã bị sửa hoặc là tệp khác.", "The file is not the signed one."),
    "FILE_MODIFIED": (
        "Phần gốc của tệp PDF đã đóng dấu bị sửa: không còn là văn bản đã ký.",
        "The stamped PDF's original part was changed: it is not the signed document.",
    ),
    "FILE_UPDATED_AFTER_STAMP": (
        "Tệp PDF bị sửa thêm sau khi đóng dấu mã QR: nội dung hiển thị có thể khác văn bản đã ký.",
        "The PDF was changed after it was stamped: what it shows may differ from the signed document.",
    ),
    # digital IDs
    "SDJWT_MALFORMED": ("Mã căn cước số bị hỏng.", "The digital ID is malformed."),
    "TRANSPORT_INVALID": ("Mã QR căn cước bị hỏng.", "The ID's QR code is damaged."),
    "TRANSPORT_TOO_LARGE": ("Mã căn cước quá lớn.", "The ID's code is too large."),
    "TYP_INVALID": ("Sai loại căn cước số.", "Not a digital ID of the expected type."),
    "CLAIMS_MISSING": ("Căn cước số thiếu thông tin bắt buộc.", "Required fields are missing."),
    "SD_ALG_UNSUPPORTED": ("Thuật toán băm chưa được hỗ trợ.", "The digest algorithm is not supported."),
    "CRIT_UNSUPPORTED": ("Có yêu cầu bắt buộc chưa được hỗ trợ.", "A critical extension is not supported."),
    "ISSUER_UNKNOWN": ("Cơ quan cấp không có trong danh sách tin cậy.", "The issuer is not in the trust list."),
    "ISSUER_NOT_AUTHORISED": ("Cơ quan này không được cấp căn cước số.", "This issuer may not issue digital IDs."),
    "KEY_NOT_VALID_AT_ISSUANCE": ("Khóa không còn hiệu lực lúc cấp.", "The key was not valid when it issued this."),
    "NOT_EXPIRED": ("Còn thời hạn.", "Not expired."),
    "EXPIRED": ("Đã hết hạn.", "Expired."),
    "NOT_YET_VALID": ("Chưa đến ngày có hiệu lực.", "Not valid yet."),
    "REVOKED": ("Căn cước số đã bị thu hồi.", "The digital ID has been revoked."),
    "STATUS_REFERENCE_INVALID": ("Tham chiếu trạng thái bị sai.", "The status reference is wrong."),
    "STATUS_UNAVAILABLE": ("Không lấy được trạng thái thu hồi.", "The revocation status could not be fetched."),
    "STATUS_LIST_INVALID": ("Danh sách trạng thái bị hỏng.", "The status list is malformed."),
    "STATUS_LIST_SIGNATURE_INVALID": ("Danh sách trạng thái không có chữ ký đúng.", "The status list is not signed."),
    "STATUS_LIST_MISMATCH": ("Danh sách trạng thái không đúng.", "The status list is for another reference."),
    "STATUS_LIST_EXPIRED": ("Danh sách trạng thái đã quá hạn.", "The status list has expired."),
    "DISCLOSURES_VALID": ("Thông tin được tiết lộ đều đúng.", "Every disclosed claim matches."),
    "DISCLOSURE_INVALID": ("Có thông tin tiết lộ bị hỏng.", "A disclosure is malformed."),
    "DISCLOSURE_DUPLICATE": ("Có thông tin bị lặp.", "A disclosure appears twice."),
    "DIGEST_INVALID": ("Dấu băm thông tin bị sai.", "A digest is malformed."),
    "DISCLOSURE_UNREFERENCED": ("Có thông tin không thuộc căn cước này.", "A disclosure belongs to no claim."),
    "KEY_BINDING_VALID": ("Do chính chủ xuất trình.", "Presented by its holder."),
    "KEY_BINDING_NOT_REQUIRED": ("Không yêu cầu xác nhận chính chủ.", "No holder binding was required."),
    "KEY_BINDING_MISSING": ("Thiếu xác nhận của chính chủ.", "The holder's confirmation is missing."),
    "HOLDER_KEY_MISSING": ("Căn cước không gắn với khóa của chủ.", "The ID binds no holder key."),
    "KB_TYP_INVALID": ("Xác nhận chính chủ sai loại.", "The holder's confirmation has the wrong type."),
    "KB_SIGNATURE_INVALID": ("Chữ ký của chính chủ sai.", "The holder's signature does not verify."),
    "KB_SD_HASH_MISMATCH": ("Xác nhận chính chủ thuộc lần xuất trình khác.", "The confirmation is for another one."),
    "KB_NOT_FRESH": ("Bản xuất trình đã cũ; đề nghị tạo mã mới.", "The presentation is stale; ask for a new one."),
    "KB_AUDIENCE_MISMATCH": ("Bản xuất trình được tạo cho nơi khác.", "The presentation was made for someone else."),
    "KB_NONCE_MISMATCH": ("Bản xuất trình không khớp yêu cầu.", "The presentation answers another request."),
    "AUDIENCE_MATCHED": ("Được tạo cho chính nơi kiểm tra này.", "Made for this verifier."),
    "AUDIENCE_NOT_CHECKED": (
        "Chưa kiểm tra bên nhận: bản xuất trình này được tạo cho nơi khác và ai đã nhận nó đều có thể dùng lại ở"
        " đây trong thời hạn hiệu lực.",
        "The audience was not checked: this presentation was made for someone else, and whoever received it can"
        " replay it here while it is fresh.",
    ),
    "AUDIENCE_NOT_BOUND": (
        "Bản xuất trình không gắn với bên nhận nào: ai giữ nó cũng có thể dùng lại.",
        "The presentation names no audience: whoever holds it can replay it.",
    ),
    # OpenID4VP: what the relying party asked for, and nothing more
    "REQUESTED_CLAIMS_OK": ("Có đúng và đủ các thông tin đã yêu cầu.", "Exactly the requested claims were shown."),
    "REQUESTED_CLAIM_MISSING": ("Thiếu thông tin đã yêu cầu.", "A requested claim is missing."),
    "UNREQUESTED_CLAIM": (
        "Có thông tin không được yêu cầu: ví đã tiết lộ nhiều hơn mức cần.",
        "A claim that was not asked for was shown: the wallet disclosed more than needed.",
    ),
}
for _field, (_vi, _en) in _FIELD_NAMES.items():
    _CODES[mismatch_code(_field)] = (f"Thông tin văn bản đã bị sửa: {_vi}.", f"The details were altered: {_en}.")
assert set(_FIELD_NAMES) == set(DOCUMENT_FIELDS), "every metadata field has a name in both languages"

#: Every check code, by language: ``CHECK_MESSAGES["vi"]["DOC_REVOKED"]``.
CHECK_MESSAGES: dict[str, dict[str, str]] = {
    "vi": {code: vi for code, (vi, _) in _CODES.items()},
    "en": {code: en for code, (_, en) in _CODES.items()},
}


def check_message(code: str, lang: str) -> str | None:
    """The plain sentence for ``code`` in ``lang`` (``vi`` or ``en``), or None for a code not in the catalogue."""
    return CHECK_MESSAGES.get(lang, CHECK_MESSAGES["en"]).get(code)
