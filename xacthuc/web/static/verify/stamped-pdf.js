// A stamped PDF (docs/qr-payload.md): its payload and original byte range, found by a byte search like
// verifier/pdf.py does (no PDF library, no rendering). The page then hashes only the original range and sends the
// payload, that hash and the layout: the file itself never leaves the device.
const MARK = new TextEncoder().encode("/XacthucStamp");
const EOF = new TextEncoder().encode("%%EOF");
const WHITESPACE = new Set([0x20, 0x09, 0x0d, 0x0a, 0x0c, 0x00]);
const MAX_CANDIDATES = 16;

function indexOf(bytes, pattern, from) {
  for (let i = bytes.indexOf(pattern[0], from); i >= 0 && i <= bytes.length - pattern.length;
    i = bytes.indexOf(pattern[0], i + 1)) {
    let j = 1;
    while (j < pattern.length && bytes[i + j] === pattern[j]) j++;
    if (j === pattern.length) return i;
  }
  return -1;
}

function stampEnd(bytes, start) {
  const eof = indexOf(bytes, EOF, start);
  if (eof < 0) return null;
  let end = eof + EOF.length;
  while (end < bytes.length && WHITESPACE.has(bytes[end])) end++;
  return end;
}

function candidate(bytes, pos) {
  const text = new TextDecoder("latin1").decode(bytes.subarray(pos, pos + 9000));
  const dict = /^\/XacthucStamp\s*<<([\s\S]*?)>>/.exec(text);
  if (!dict) return null;
  const length = /\/OriginalLength\s+(\d{1,12})(?![\d.])/.exec(dict[1]);
  const payload = /\/Payload\s*<([0-9A-Fa-f\s]{1,8192})>/.exec(dict[1]);
  if (!length || !payload || !/\/Version\s+1(?![\d.])/.test(dict[1])) return null;
  const original = Number(length[1]);
  if (!(original > 0 && original <= pos)) return null;
  const end = stampEnd(bytes, original);
  if (end === null || pos >= end) return null;
  const hex = payload[1].replace(/\s/g, "");
  if (hex.length % 2) return null;
  let value = "";
  for (let i = 0; i < hex.length; i += 2) value += String.fromCharCode(parseInt(hex.slice(i, i + 2), 16));
  return { payload: value, original_length: original, stamp_end: end, length: bytes.length };
}

/** The stamp of a stamped PDF ({payload, original_length, stamp_end, length}), or null: the outermost one. */
export function findStamp(bytes) {
  if (indexOf(bytes.subarray(0, 1024), new TextEncoder().encode("%PDF-"), 0) < 0) return null;
  let best = null;
  let pos = indexOf(bytes, MARK, 0);
  for (let seen = 0; pos >= 0 && seen < MAX_CANDIDATES; seen++) {
    const found = candidate(bytes, pos);
    if (found && (!best || found.original_length > best.original_length)) best = found;
    pos = indexOf(bytes, MARK, pos + MARK.length);
  }
  return best;
}

/** What the server needs beside the range's hash: the layout, without the payload (sent as the payload). */
export const layout = (stamp) => ({
  original_length: stamp.original_length, stamp_end: stamp.stamp_end, length: stamp.length,
});
