// The payload of a verification link: its fragment (location.hash), else its `p` query parameter read raw. Only
// %XX escapes are decoded, never form encoding: `+` is a base43 character (URLSearchParams would make it a space).
export function payloadFrom(hash, search) {
  const decode = (s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s; // left for the server to refuse with a typed error
    }
  };
  if (hash.length > 1) return decode(hash.slice(1));
  const values = search.replace(/^[?]/, "").split("&").filter((kv) => kv.startsWith("p=")).map((kv) => kv.slice(2));
  return values.length === 1 ? decode(values[0]) : "";
}
