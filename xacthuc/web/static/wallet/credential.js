// What the wallet keeps about a credential besides its text: the claims (for the card and the claim choices), the
// issuing agency with its names (read from the trust list once, so the card shows it offline) and its status entry.
import { jwsPart } from "./bytes.js";
import { call } from "./http.js";
import { claimsOf, disclosableClaims } from "./sdjwt.js";

const VISIBLE = new Set(["iss", "iat", "exp", "nbf", "vct", "cnf", "status", "_sd_alg", "sub"]);

/** The agency id of an `iss`: PU + "/agencies/" + id for new credentials, the bare id for older ones. */
export function agencyId(iss) {
  const marker = "/agencies/";
  const at = typeof iss === "string" ? iss.lastIndexOf(marker) : -1;
  return at >= 0 ? decodeURIComponent(iss.slice(at + marker.length)) : iss;
}

async function agencyNames(id) {
  try {
    const response = await call("/v1/trust-list");
    if (!response.ok) return null;
    const agencies = jwsPart(await response.text(), 1).agencies ?? [];
    const found = agencies.find((a) => a.id === id);
    return found ? { name_vi: found.name_vi, name_en: found.name_en } : null;
  } catch {
    return null;
  }
}

export async function describeCredential(compact) {
  const claims = await claimsOf(compact);
  const names = await disclosableClaims(compact);
  const id = agencyId(claims.iss);
  const values = Object.fromEntries(names.filter((n) => !VISIBLE.has(n)).map((n) => [n, claims[n]]));
  return {
    id: compact.split("~")[0].split(".")[2].slice(0, 12),
    compact,
    addedAt: new Date().toISOString(),
    iss: claims.iss,
    exp: claims.exp ?? null,
    claims: values,
    agency: { id, ...((await agencyNames(id)) ?? {}) },
    status: claims.status?.status_list ?? null,
  };
}
