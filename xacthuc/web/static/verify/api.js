// The verifier's one HTTP call: POST /v1/verify, the same API machines use. Answers {report} or {error}; an error's
// message comes in the page's language (Accept-Language), with `lang` saying which.
import { lang } from "./i18n.js";
import { layout } from "./stamped-pdf.js";

async function post(init) {
  let response;
  try {
    const headers = { ...init.headers, "Accept-Language": lang };
    response = await fetch("/v1/verify", { method: "POST", ...init, headers });
  } catch {
    return { network: true };
  }
  let body;
  try {
    body = await response.json();
  } catch {
    return { network: true };
  }
  return body.error ? { error: body.error } : { report: body };
}

/**
 * Verify a QR text or link; `sha256` (hex) is the document file's hash, the file itself never sent; `stamp` the
 * layout of a stamped PDF (stamped-pdf.js), whose `sha256` is then its original range's.
 */
export function verifyPayload(payload, sha256, stamp) {
  const body = { payload };
  if (sha256) body.sha256 = sha256;
  if (sha256 && stamp) body.pdf_stamp = layout(stamp);
  return post({ headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

/** Verify a picture of a QR code (the server reads it); `sha256` and `stamp` as above. */
export function verifyImage(image, sha256, stamp) {
  const form = new FormData();
  form.append("image", image);
  if (sha256) form.append("sha256", sha256);
  if (sha256 && stamp) form.append("pdf_stamp", JSON.stringify(layout(stamp)));
  return post({ body: form });
}
