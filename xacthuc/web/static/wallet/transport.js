// The XI2 QR transport (identity/transport.py, docs/identity.md "QR transport"): "XI2:" + base43(raw deflate with
// a preset dictionary (container)). The container carries the decoded JSON of each JWS part and disclosure and the
// raw signatures, base64url strings shortened where the decoder can rebuild them; encode() decodes its own output and
// falls back to the deflated compact text (flag bit 1) unless it gets the exact same SD-JWT back, as Python does.
import { deflateRaw, inflateRaw } from "./lib/pako.js";
import { b64url, fromB64url, sha256b64url } from "./bytes.js";

export const PREFIX = "XI2:";
const B43 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ$*+-./:";
const HAS_KB = 1;
const RAW = 2;
const [ESC, REF, SD_HASH] = [0, 1, 2];

// Part of the format: the same bytes as identity/transport.py's ZDICT (tests/web/test_wallet_transport.py compares).
export const ZDICT = new TextEncoder().encode(
  "Thành phố Hồ Chí Minh, Việt Nam, Quận Phường Xã Huyện Tỉnh Hà Nội Nguyễn Trần Lê Phạm Thị Văn " +
    '"age_over_16",true,"age_over_21",false,"nationality","VN","place_of_origin","' +
    '"place_of_residence","personal_id","079"female"male"sex","birth_date","19' +
    '"full_name","given_name","family_name","age_over_18",true]' +
    '{"alg":"EdDSA","typ":"dc+sd-jwt","kid":"' +
    '"status":{"status_list":{"idx":,"uri":"https:///v1/status-lists/"}},' +
    '"vct":"urn:vn:hcm:xacthuc:citizen_id:1","cnf":{"jwk":{"kty":"EC","crv":"P-256","x":"","y":""}},' +
    '"_sd_alg":"sha-256"}{"iss":"https://","iat":17,"exp":17' +
    '{"alg":"ES256","typ":"dc+sd-jwt","kid":"",' +
    '"_sd":["","' +
    '{"alg":"ES256","typ":"kb+jwt"}{"iat":17,"aud":"","nonce":"","sd_hash":"',
);

/** RFC 9285's layout over the base43 alphabet: 3 characters per 2 bytes (least significant first), 2 for an odd one. */
export function b43encode(bytes) {
  let out = "";
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) {
    const n = (bytes[i] << 8) | bytes[i + 1];
    out += B43[n % 43] + B43[Math.floor(n / 43) % 43] + B43[Math.floor(n / 1849)];
  }
  if (even < bytes.length) out += B43[bytes[even] % 43] + B43[Math.floor(bytes[even] / 43)];
  return out;
}

export function b43decode(text) {
  const digits = Array.from(text, (c) => {
    const i = B43.indexOf(c);
    if (i < 0) throw new Error("not base43");
    return i;
  });
  if (digits.length % 3 === 1) throw new Error("not base43");
  const out = [];
  for (let i = 0; i + 2 < digits.length; i += 3) {
    const n = digits[i] + digits[i + 1] * 43 + digits[i + 2] * 1849;
    if (n > 0xffff) throw new Error("not base43");
    out.push(n >> 8, n & 0xff);
  }
  if (digits.length % 3 === 2) out.push(digits[digits.length - 2] + digits[digits.length - 1] * 43);
  return Uint8Array.from(out);
}

// Segments are handled as "binary strings" (one character per byte), so the byte-level pattern of the Python side
// applies as it is: the pattern is ASCII, and UTF-8 bytes of other text never look like ASCII.
const toBinary = (bytes) => Array.from(bytes, (b) => String.fromCharCode(b)).join("");
const fromBinary = (text) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const B64_STRING = /"([A-Za-z0-9_-]{22,86})"/g;

function packJson(seg, computed = new Map()) {
  const text = toBinary(seg);
  if (/[\x00-\x02]/.test(text)) return seg; // cannot be escaped unambiguously; the round trip then picks raw mode
  return fromBinary(
    text.replace(B64_STRING, (whole, value) => {
      if (computed.has(value)) return computed.get(value);
      let raw;
      try {
        raw = fromB64url(value);
      } catch {
        return whole;
      }
      return String.fromCharCode(ESC, raw.length) + toBinary(raw);
    }),
  );
}

function unpackJson(seg, digests, presentedHash) {
  let out = "";
  let i = 0;
  while (i < seg.length) {
    const b = seg[i];
    if (b > SD_HASH) {
      out += String.fromCharCode(b);
      i += 1;
      continue;
    }
    let value;
    if (b === ESC) {
      const n = seg[i + 1];
      if (n === undefined || i + 2 + n > seg.length) throw new Error("truncated escape");
      value = b64url(seg.subarray(i + 2, i + 2 + n));
      i += 2 + n;
    } else if (b === REF) {
      value = digests?.[seg[i + 1]];
      if (value === undefined) throw new Error("missing disclosure");
      i += 2;
    } else {
      if (presentedHash === undefined) throw new Error("sd_hash outside the KB-JWT");
      value = presentedHash;
      i += 1;
    }
    out += `"${value}"`;
  }
  return fromBinary(out);
}

function varint(n) {
  const out = [];
  for (;;) {
    const b = n & 0x7f;
    n >>>= 7;
    out.push(b | (n ? 0x80 : 0));
    if (!n) return out;
  }
}

function split(compact) {
  const parts = compact.split("~");
  if (parts.length < 2 || parts[0].split(".").length !== 3) throw new Error("not a compact SD-JWT");
  const kb = parts[parts.length - 1] || null;
  return { jwt: parts[0], disclosures: parts.slice(1, -1), kb, presented: compact.slice(0, compact.lastIndexOf("~") + 1) };
}

async function container(compact) {
  const sd = split(compact);
  const refs = new Map();
  for (const [i, d] of sd.disclosures.entries()) {
    if (i < 256) refs.set(await sha256b64url(d), String.fromCharCode(REF, i));
  }
  const [h, p, sig] = sd.jwt.split(".").map(fromB64url);
  const segments = [packJson(h), packJson(p, refs), sig, ...sd.disclosures.map((d) => packJson(fromB64url(d)))];
  if (sd.kb) {
    const [kh, kp, ksig] = sd.kb.split(".").map(fromB64url);
    const hash = new Map([[await sha256b64url(sd.presented), String.fromCharCode(SD_HASH)]]);
    segments.push(packJson(kh), packJson(kp, hash), ksig);
  }
  const body = [sd.kb ? HAS_KB : 0, ...varint(sd.disclosures.length)];
  for (const seg of segments) body.push(...varint(seg.length), ...seg);
  return Uint8Array.from(body);
}

async function restore(body) {
  if (body.length === 0) throw new Error("empty container");
  const flags = body[0];
  if (flags & RAW) return String.fromCharCode(...body.subarray(1));
  let pos = 1;
  const readVarint = () => {
    let n = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= body.length || shift > 28) throw new Error("truncated");
      const b = body[pos++];
      n |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return n;
    }
  };
  const n = readVarint();
  const count = 3 + n + (flags & HAS_KB ? 3 : 0);
  const segs = [];
  for (let i = 0; i < count; i++) {
    const len = readVarint();
    if (pos + len > body.length) throw new Error("truncated");
    segs.push(body.subarray(pos, pos + len));
    pos += len;
  }
  if (pos !== body.length) throw new Error("trailing data");
  const disclosures = segs.slice(3, 3 + n).map((s) => b64url(unpackJson(s)));
  const digests = await Promise.all(disclosures.map((d) => sha256b64url(d)));
  const [header, payload] = segs.slice(0, 2).map((s) => b64url(unpackJson(s, digests)));
  const presented = [`${header}.${payload}.${b64url(segs[2])}`, ...disclosures].join("~") + "~";
  if (!(flags & HAS_KB)) return presented;
  const [kh, kp, ksig] = segs.slice(3 + n);
  const hash = await sha256b64url(presented);
  return presented + [b64url(unpackJson(kh, digests, hash)), b64url(unpackJson(kp, digests, hash)), b64url(ksig)].join(".");
}

const deflate = (body) => deflateRaw(body, { level: 9, windowBits: 15, memLevel: 9, dictionary: ZDICT });

/** The XI2 payload of a compact SD-JWT (structured container when it round-trips exactly, else raw text). */
export async function encode(compact) {
  let body = null;
  try {
    const structured = await container(compact);
    if ((await restore(structured)) === compact) body = structured;
  } catch {
    body = null;
  }
  body ??= Uint8Array.from([RAW, ...new TextEncoder().encode(compact)]);
  return PREFIX + b43encode(deflate(body));
}

/** The compact SD-JWT an XI2 payload carries (no size limits: the wallet only decodes what it made). */
export async function decode(payload) {
  if (!payload.startsWith(PREFIX)) throw new Error("not an XI2 payload");
  return restore(inflateRaw(b43decode(payload.slice(PREFIX.length)), { dictionary: ZDICT }));
}
