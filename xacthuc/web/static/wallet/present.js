// Present (OpenID4VP 1.0, direct_post): fetch the signed request, check it (ES256 by the x5c leaf certificate's key,
// and client_id = "x509_hash:" + base64url(SHA-256 of that certificate)), show who asks for what; on approval post
// the credential with only the chosen disclosures and a KB-JWT (aud = client_id, the request's nonce).
import { b64url, fromB64url, jwsPart, sha256, utf8 } from "./bytes.js";
import { call, callJson, form, FlowError } from "./http.js";
import { present } from "./sdjwt.js";

const VCT = "urn:vn:hcm:xacthuc:citizen_id:1";

function tlv(der, pos) {
  let len = der[pos + 1];
  let head = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[pos + 2 + i];
    head += n;
  }
  if (pos + head + len > der.length) throw new FlowError("invalid_request_object");
  return { tag: der[pos], start: pos, body: pos + head, end: pos + head + len };
}

/** The SubjectPublicKeyInfo of a DER X.509 certificate: the field after subject in tbsCertificate. */
function spkiOf(der) {
  const tbs = tlv(der, tlv(der, 0).body);
  let field = tlv(der, tbs.body);
  if (field.tag === 0xa0) field = tlv(der, field.end); // the explicit version
  for (let i = 0; i < 5; i++) field = tlv(der, field.end); // serial, signature, issuer, validity, subject
  return der.slice(field.start, field.end);
}

async function checkedRequest(link, jws) {
  const [h, p, s] = jws.split(".");
  const header = jwsPart(jws, 0);
  const payload = jwsPart(jws, 1);
  if (header.alg !== "ES256" || !Array.isArray(header.x5c) || !header.x5c.length) throw new FlowError("invalid_request_object");
  const der = Uint8Array.from(atob(header.x5c[0]), (c) => c.charCodeAt(0));
  const clientId = `x509_hash:${b64url(await sha256(der))}`;
  if (payload.client_id !== clientId || (link.clientId && link.clientId !== clientId)) throw new FlowError("client_id_mismatch");
  const key = await crypto.subtle.importKey("spki", spkiOf(der), { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, fromB64url(s), utf8(`${h}.${p}`));
  if (!ok) throw new FlowError("invalid_request_object");
  if (typeof payload.exp === "number" && payload.exp * 1000 < Date.now()) throw new FlowError("request_expired");
  if (payload.response_type !== "vp_token" || payload.response_mode !== "direct_post") throw new FlowError("unsupported_request");
  return payload;
}

/** The request a link names, checked: {clientId, clientName, purpose, responseHost, claims, ...}. */
export async function loadRequest(link) {
  const response = await call(link.requestUri, { headers: { Accept: "application/oauth-authz-req+jwt" } });
  if (!response.ok) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      body = null;
    }
    throw new FlowError(body?.error?.code ?? body?.error ?? "request_gone", body?.error_description ?? "", response.status);
  }
  const payload = await checkedRequest(link, (await response.text()).trim());
  const query = payload.dcql_query?.credentials?.[0];
  if (!query || query.format !== "dc+sd-jwt" || !(query.meta?.vct_values ?? [VCT]).includes(VCT)) {
    throw new FlowError("unsupported_request");
  }
  const claims = (query.claims ?? []).map((c) => c.path?.[0]).filter((name) => typeof name === "string");
  return {
    clientId: payload.client_id,
    clientName: payload.client_metadata?.client_name ?? "",
    purpose: typeof payload.purpose === "string" ? payload.purpose : "",
    responseUri: payload.response_uri,
    responseHost: new URL(payload.response_uri).host,
    nonce: payload.nonce,
    state: payload.state,
    queryId: query.id,
    claims,
  };
}

/** Send the credential with only `chosen` claims disclosed. */
export async function approve(request, entry, chosen) {
  const presentation = await present(entry.compact, chosen, { aud: request.clientId, nonce: request.nonce });
  const fields = { vp_token: JSON.stringify({ [request.queryId]: [presentation] }) };
  if (request.state !== undefined) fields.state = request.state;
  return callJson(request.responseUri, form(fields));
}

/** Tell the relying party the citizen said no. */
export async function refuse(request) {
  const fields = { error: "access_denied" };
  if (request.state !== undefined) fields.state = request.state;
  return callJson(request.responseUri, form(fields));
}
