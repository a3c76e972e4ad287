// SD-JWT through the OpenWallet Foundation's @sd-jwt/core (bundled in lib/sd-jwt.js): reading the claims a
// credential can disclose, and presenting chosen ones with a KB-JWT signed by the holder key.
import { SDJwtInstance } from "./lib/sd-jwt.js";
import { sha256 } from "./bytes.js";
import { sign } from "./holder-key.js";

const sdjwt = new SDJwtInstance({
  hasher: (data, alg) => {
    if (alg !== "sha-256") throw new Error(`unsupported hash ${alg}`);
    return sha256(typeof data === "string" ? data : new Uint8Array(data));
  },
  kbSigner: sign,
  kbSignAlg: "ES256",
});

/** The issuer JWT's payload with every disclosure applied (the claims the card shows); no signature check. */
export const claimsOf = (compact) => sdjwt.getClaims(compact);

/** The names of the claims this credential can disclose. */
export const disclosableClaims = (compact) => sdjwt.presentableKeys(compact);

/** The credential with only `claims` disclosed and a KB-JWT for `aud` and `nonce` (iat now). */
export function present(compact, claims, { aud, nonce }) {
  const frame = Object.fromEntries(claims.map((name) => [name, true]));
  return sdjwt.present(compact, frame, { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud, nonce } } });
}
