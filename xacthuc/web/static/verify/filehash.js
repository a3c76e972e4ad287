// The document file's SHA-256, computed here with WebCrypto: only the hash is sent, the file stays on the device.
export async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Wire a file input and its drop zone: `onHash(hex, file)` once a file is hashed. Returns a getter of the last hash.
 */
export function fileCheck({ input, zone, status, t, onHash }) {
  let current = null;
  async function take(file) {
    if (!file) return;
    status.textContent = t("js.hashing");
    current = await sha256Hex(file);
    status.replaceChildren(document.createTextNode(t("js.file_hashed", { name: file.name }) + " "));
    const code = document.createElement("span");
    code.className = "hash";
    code.dataset.sha256 = current;
    code.textContent = current;
    status.append(code);
    onHash(current, file);
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
