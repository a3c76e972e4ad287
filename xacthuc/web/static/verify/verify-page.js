// /verify: scan with the camera, upload a picture, or paste a QR text or link; optionally check the document file,
// hashed here (only its SHA-256 is sent); a stamped PDF dropped alone verifies with the payload it carries. Every way ends in the same POST /v1/verify and the same result card.
import { verifyImage, verifyPayload } from "./api.js";
import { show } from "./card.js";
import { fileCheck } from "./filehash.js";
import { t } from "./i18n.js";
import { cameraProblem, preloadReader, startScanner } from "./scanner.js";

const $ = (id) => document.getElementById(id);
const result = $("result");
let last = null; // the last thing verified, to verify again once a file is hashed

async function run(request) {
  last = request;
  result.setAttribute("aria-busy", "true");
  result.replaceChildren(Object.assign(document.createElement("p"), { className: "checking",
    textContent: t("js.checking") }));
  const file = currentFile();
  const answer = request.payload !== undefined
    ? await verifyPayload(request.payload, file?.sha256, file?.stamp)
    : await verifyImage(request.image, file?.sha256, file?.stamp);
  show(result, answer);
  result.removeAttribute("aria-busy");
  result.scrollIntoView({ block: "start", behavior: "smooth" });
}

// --- tabs (WAI-ARIA tabs pattern: arrows move between tabs, one tab stop) -----------------------------------
const tabs = [...document.querySelectorAll('[role="tab"]')];
function select(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute("aria-controls")).hidden = !selected;
  }
  if (tab.id !== "tab-scan") stopCamera();
}
tabs.forEach((tab, i) => {
  tab.addEventListener("click", () => select(tab));
  tab.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    select(next);
    next.focus();
  });
});

// --- scan ---------------------------------------------------------------------------------------------------
const status = $("scan-status");
let stopScanner = null;
function stopCamera() {
  stopScanner?.();
  stopScanner = null;
  $("viewfinder").hidden = true;
  $("scan-stop").hidden = true;
  $("scan-start").hidden = false;
}
function notice(text) {
  status.replaceChildren(Object.assign(document.createElement("span"), { className: "notice", textContent: text }));
}
$("scan-start").addEventListener("click", async () => {
  $("viewfinder").hidden = false;
  $("scan-start").hidden = true;
  $("scan-stop").hidden = false;
  status.textContent = t("js.camera_scanning");
  try {
    stopScanner = await startScanner($("scan-video"), (text) => {
      stopCamera();
      status.textContent = t("js.camera_found");
      run({ payload: text });
    });
  } catch (error) {
    stopCamera();
    const why = error instanceof TypeError && String(error.message).includes("import") ? "reader" : cameraProblem(error);
    notice(t(why === "reader" ? "js.reader_error" : `js.camera_${why}`));
    status.dataset.problem = why;
  }
});
$("scan-stop").addEventListener("click", () => {
  stopCamera();
  status.textContent = "";
});

// --- upload and paste ---------------------------------------------------------------------------------------
$("upload-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const image = $("qr-image").files[0];
  if (image) run({ image });
});
$("paste-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const payload = $("payload").value.trim();
  if (payload) run({ payload });
});

// --- the document file --------------------------------------------------------------------------------------
// A stamped PDF carries its own payload: dropped alone, it verifies at once.
const currentFile = fileCheck({
  input: $("doc-file"),
  zone: $("dropzone"),
  status: $("file-status"),
  t,
  onHash: (_sha256, _file, stamp) => {
    if (stamp && !last) run({ payload: stamp.payload });
    else if (last) run(last);
  },
});

// The camera is the first way offered: have its QR reader ready before it is asked for.
preloadReader();
