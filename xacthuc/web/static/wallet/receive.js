// Receive (OpenID4VCI 1.0, pre-authorized code flow): read the offer, then with the transaction code the clerk gave:
// token, nonce, a proof JWT signed by the holder key, the credential; check it is bound to this key and keep it.
import { jwsPart } from "./bytes.js";
import { publicJwk, signJws } from "./holder-key.js";
import { callJson, form, FlowError } from "./http.js";
import { describeCredential } from "./credential.js";
import { putCredential } from "./store.js";

const PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
const CONFIGURATION = "citizen_id";

/** The offer a link names: {credentialIssuer, code, txCode: {length, input_mode, description} | null}. */
export async function loadOffer(link) {
  const offer = link.offer ?? (await callJson(link.offerUri, { headers: { Accept: "application/json" } }));
  const grant = offer?.grants?.[PRE_AUTHORIZED];
  if (!grant?.["pre-authorized_code"] || !offer.credential_issuer) throw new FlowError("unsupported_offer");
  if (!(offer.credential_configuration_ids ?? []).includes(CONFIGURATION)) throw new FlowError("unsupported_offer");
  return { credentialIssuer: offer.credential_issuer, code: grant["pre-authorized_code"], txCode: grant.tx_code ?? null };
}

async function metadata(issuer) {
  const base = issuer.replace(/\/$/, "");
  const credentialIssuer = await callJson(`${base}/.well-known/openid-credential-issuer`);
  const authServer = (credentialIssuer.authorization_servers?.[0] ?? base).replace(/\/$/, "");
  const oauth = await callJson(`${authServer}/.well-known/oauth-authorization-server`);
  return { credentialIssuer, tokenEndpoint: oauth.token_endpoint };
}

/** Redeem the offer with the transaction code; returns the stored wallet entry. */
export async function receive(offer, txCode) {
  const { credentialIssuer, tokenEndpoint } = await metadata(offer.credentialIssuer);
  const tokenFields = { grant_type: PRE_AUTHORIZED, "pre-authorized_code": offer.code };
  if (offer.txCode) tokenFields.tx_code = txCode;
  const token = await callJson(tokenEndpoint, form(tokenFields));
  const { c_nonce: nonce } = await callJson(credentialIssuer.nonce_endpoint, { method: "POST" });
  const jwk = await publicJwk();
  const proof = await signJws(
    { alg: "ES256", typ: "openid4vci-proof+jwt", jwk },
    { aud: offer.credentialIssuer, iat: Math.floor(Date.now() / 1000), nonce },
  );
  const answer = await callJson(credentialIssuer.credential_endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token.access_token}` },
    body: JSON.stringify({ credential_configuration_id: CONFIGURATION, proofs: { jwt: [proof] } }),
  });
  const compact = answer.credentials?.[0]?.credential;
  if (typeof compact !== "string") throw new FlowError("invalid_response");
  return keep(compact);
}

/** Check that `compact` is bound to this wallet's key, then store it (with what its card shows). */
export async function keep(compact) {
  const cnf = jwsPart(compact.split("~")[0], 1).cnf?.jwk;
  const mine = await publicJwk();
  if (!cnf || cnf.kty !== mine.kty || cnf.crv !== mine.crv || cnf.x !== mine.x || cnf.y !== mine.y) {
    throw new FlowError("not_bound");
  }
  const entry = await describeCredential(compact);
  await putCredential(entry);
  return entry;
}
