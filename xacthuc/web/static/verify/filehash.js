// The document file's SHA-256, computed here with WebCrypto: only the hash is sent, the file stays on the device.
// A stamped PDF (stamped-pdf.js) is hashed over its original range only, and its stamp is handed on.
import { findStamp } from "./stamped-pdf.js";

const hex = (digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");

export async function sha256Hex(file) {
  return hex(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
}

/** {sha256, stamp}: the hash of the file, or of a stamped PDF's original range with its stamp. */
export async function readFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const stamp = findStamp(bytes);
  const range = stamp ? bytes.subarray(0, stamp.original_length) : bytes;
  return { sha256: hex(await crypto.subtle.digest("SHA-256", range)), stamp };
}

/**
 * Wire a file input and its drop zone: `onHash(hex, file, stamp)` once a file is hashed. Returns a getter of the
 * last {sha256, stamp} (or null).
 */
export function fileCheck({ input, zone, status, t, onHash }) {
  let current = null;
  async function take(file) {
    if (!file) return;
    status.textContent = t("js.hashing");
    current = await readFile(file);
    const said = current.stamp
      ? t("js.file_stamped", { name: file.name, bytes: current.stamp.original_length })
      : t("js.file_hashed", { name: file.name });
    status.replaceChildren(document.createTextNode(said + " "));
    const code = document.createElement("span");
    code.className = "hash";
    code.dataset.sha256 = current.sha256;
    if (current.stamp) code.dataset.stamped = "true";
    code.textContent = current.sha256;
    status.append(code);
    onHash(current.sha256, file, current.stamp);
  }
  input.addEventListener("change", () => take(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    take(event.dataTransfer.files[0]);
  });
  return () => current;
}
