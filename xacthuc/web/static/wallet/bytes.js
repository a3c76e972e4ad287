// Small byte helpers: base64url, UTF-8, SHA-256 (WebCrypto).
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (text) => encoder.encode(text);
export const fromUtf8 = (bytes) => decoder.decode(bytes);

export function b64url(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Strict base64url (no padding, canonical): throws on anything b64url() would not have written. */
export function fromB64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Error("not base64url");
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  if (b64url(bytes) !== text) throw new Error("not canonical base64url");
  return bytes;
}

export async function sha256(data) {
  const bytes = typeof data === "string" ? utf8(data) : data;
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export const sha256b64url = async (data) => b64url(await sha256(data));

/** The decoded JSON of one part of a compact JWS (0: header, 1: payload). */
export const jwsPart = (jws, index) => JSON.parse(fromUtf8(fromB64url(jws.split(".")[index])));

/** 16 random bytes as base64url (a nonce). */
export const randomToken = () => b64url(crypto.getRandomValues(new Uint8Array(16)));
