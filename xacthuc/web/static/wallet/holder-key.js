// The holder key: P-256 made by WebCrypto with extractable=false and kept as CryptoKey objects in IndexedDB. It
// signs the OpenID4VCI proof and every KB-JWT; only its public half ever leaves the device (in the proof's jwk).
import { b64url, sha256b64url, utf8 } from "./bytes.js";
import { getKey, putKey } from "./store.js";

const ALG = { name: "ECDSA", namedCurve: "P-256" };
let pair = null;

/** The key pair, made on first use. */
export async function holderKey() {
  if (pair) return pair;
  let stored = await getKey("holder");
  if (!stored) {
    const made = await crypto.subtle.generateKey(ALG, false, ["sign", "verify"]);
    const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", made.publicKey);
    stored = { privateKey: made.privateKey, publicKey: made.publicKey, jwk: { kty, crv, x, y } };
    await putKey("holder", stored);
    stored = (await getKey("holder")) ?? stored; // a second tab may have won the race: use what was kept
  }
  pair = stored;
  return pair;
}

export const publicJwk = async () => ({ ...(await holderKey()).jwk });

/** RFC 7638 thumbprint of a public EC JWK. */
export const thumbprint = (jwk) => sha256b64url(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }));

/** ES256 signature (JWS form: r || s, base64url) of the ASCII text `input`. */
export async function sign(input) {
  const { privateKey } = await holderKey();
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, utf8(input));
  return b64url(new Uint8Array(signature));
}

/** A compact JWS signed with the holder key. */
export async function signJws(header, payload) {
  const input = `${b64url(utf8(JSON.stringify(header)))}.${b64url(utf8(JSON.stringify(payload)))}`;
  return `${input}.${await sign(input)}`;
}
