"""verifier/: QR decoding, the verification pipeline and its report."""
