// The offline presentation QR: the credential with the chosen claims and a fresh KB-JWT, as the XI2 payload in a
// PU/v#<payload> link (identity.wallet.verification_link: base43 needs no escaping), drawn as an SVG QR code (ECC M).
// The KB-JWT is renewed every minute, so a photo of the code stops verifying within the verifier's freshness window.
import { randomToken } from "./bytes.js";
import { toSvg } from "./lib/qrcode.js";
import { present } from "./sdjwt.js";
import { encode } from "./transport.js";

export const RENEW_MS = 60_000;

/** The XI2 payload of a fresh presentation of `claims` (audience: this service's /v page, a random nonce). */
export async function offlinePayload(entry, claims) {
  const compact = await present(entry.compact, claims, { aud: `${location.origin}/v`, nonce: randomToken() });
  return encode(compact);
}

/** Draw the QR into `img` now and every minute until the returned stop() is called; `onRenew(date)` after each. */
export function showOfflineQr(img, entry, claims, onRenew) {
  let timer = null;
  let stopped = false;
  async function draw() {
    const payload = await offlinePayload(entry, claims);
    if (stopped) return;
    const svg = toSvg(`${location.origin}/v#${payload}`, { errorCorrectionLevel: "M", margin: 2 });
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    img.dataset.payload = payload;
    const now = new Date();
    img.dataset.renewedAt = now.toISOString();
    onRenew(now);
  }
  const tick = () => {
    draw()
      .catch((error) => console.warn("offline QR not drawn", error))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, RENEW_MS);
      });
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
    img.removeAttribute("src");
    img.dataset.payload = "";
  };
}
