// /v#<payload>: where a phone's camera app lands. Verifies at once; a file dropped afterwards is hashed here and the
// same payload verified again with its SHA-256 (the file never leaves the device).
import { verifyPayload } from "./api.js";
import { show } from "./card.js";
import { fileCheck } from "./filehash.js";
import { t } from "./i18n.js";
import { payloadFrom } from "./payload.js";

const result = document.getElementById("result");
const payload = payloadFrom(location.hash, location.search);

async function run(sha256, stamp) {
  if (!payload) {
    result.replaceChildren(Object.assign(document.createElement("p"), { className: "error-box",
      textContent: t("js.no_payload") }));
    return;
  }
  result.setAttribute("aria-busy", "true");
  show(result, await verifyPayload(payload, sha256, stamp));
  result.removeAttribute("aria-busy");
}

fileCheck({
  input: document.getElementById("doc-file"),
  zone: document.getElementById("dropzone"),
  status: document.getElementById("file-status"),
  t,
  onHash: (sha256, _file, stamp) => run(sha256, stamp),
});
run(null);
