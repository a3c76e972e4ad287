// Whether a credential has been revoked: its Token Status List (on this service) fetched when online, its bit read.
// The wallet only informs its holder; a verifier checks the list's signature itself (verifier/credential.py).
import { fromB64url, jwsPart } from "./bytes.js";
import { call } from "./http.js";
import { sameOrigin } from "./links.js";
import { inflate } from "./lib/pako.js";

/** "valid", "revoked", "suspended" or "unknown" (offline, another host, or an answer that cannot be read). */
export async function revocationStatus(entry) {
  const ref = entry.status;
  if (!ref || typeof ref.uri !== "string" || !Number.isInteger(ref.idx) || !sameOrigin(ref.uri)) return "unknown";
  if (!navigator.onLine) return "unknown";
  try {
    const response = await call(ref.uri, { headers: { Accept: "application/statuslist+jwt" } });
    if (!response.ok) return "unknown";
    const payload = jwsPart((await response.text()).trim(), 1);
    if (payload.sub !== undefined && payload.sub !== ref.uri) return "unknown";
    const { bits, lst } = payload.status_list ?? {};
    if (![1, 2, 4, 8].includes(bits) || typeof lst !== "string") return "unknown";
    const list = inflate(fromB64url(lst));
    const at = ref.idx * bits;
    if (at >> 3 >= list.length) return "unknown";
    const value = (list[at >> 3] >> (at & 7)) & ((1 << bits) - 1);
    return value === 0 ? "valid" : value === 2 ? "suspended" : "revoked";
  } catch {
    return "unknown";
  }
}
