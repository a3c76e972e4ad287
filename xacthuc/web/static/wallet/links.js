// What a scanned or pasted text asks of the wallet: a credential offer (OpenID4VCI) or a presentation request
// (OpenID4VP), in any of the forms the server hands out: openid-credential-offer://?credential_offer_uri=...,
// openid4vp://?client_id=...&request_uri=..., https://<host>/wallet#..., or the bare fragment.

/** {kind: "offer", offerUri | offer} or {kind: "request", clientId, requestUri}, or null for anything else. */
export function parseLink(text) {
  const value = (text ?? "").trim();
  if (!value) return null;
  let params;
  const scheme = /^(openid-credential-offer|openid4vp|haip|eudi-openid4vp):\/\/[^?#]*\?(.*)$/i.exec(value);
  if (scheme) {
    params = new URLSearchParams(scheme[2]);
  } else if (/^https?:\/\//i.test(value)) {
    let url;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    params = new URLSearchParams(url.hash.slice(1) || url.search.slice(1));
  } else {
    params = new URLSearchParams(value.replace(/^[#?]/, ""));
  }
  if (params.get("credential_offer_uri")) return { kind: "offer", offerUri: params.get("credential_offer_uri") };
  if (params.get("credential_offer")) {
    try {
      return { kind: "offer", offer: JSON.parse(params.get("credential_offer")) };
    } catch {
      return null;
    }
  }
  if (params.get("request_uri")) {
    return { kind: "request", clientId: params.get("client_id") ?? "", requestUri: params.get("request_uri") };
  }
  return null;
}

/** True when `url` is on this service: the page's CSP lets the wallet reach no other host. */
export function sameOrigin(url) {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}
