// The /wallet page: cards of the credentials kept on this device, receiving (OpenID4VCI), presenting to a relying
// party (OpenID4VP), the offline QR and removing. Links arrive in the URL fragment (#credential_offer_uri=... or
// #client_id=...&request_uri=...), pasted, or scanned with the /verify page's reader.
import { cameraProblem, startScanner } from "../verify/scanner.js";
import { revocationStatus } from "./status.js";
import { FlowError } from "./http.js";
import { parseLink } from "./links.js";
import { showOfflineQr } from "./offline-qr.js";
import { approve, loadRequest, refuse } from "./present.js";
import { loadOffer, receive } from "./receive.js";
import { holderKey, publicJwk } from "./holder-key.js";
import { allCredentials, deleteCredential } from "./store.js";

const data = JSON.parse(document.getElementById("wallet-data").textContent);
const t = (key, fields = {}) =>
  (data.strings[`wallet.js.${key}`] ?? key).replace(/\{(\w+)\}/g, (_, name) => String(fields[name] ?? ""));
const $ = (id) => document.getElementById(id);
const ORDER = ["full_name", "given_name", "family_name", "birth_date", "age_over_18", "sex", "nationality",
  "personal_id", "place_of_origin", "place_of_residence"];
const OFFLINE_DEFAULT = ["full_name", "birth_date", "age_over_18"];

let stopScan = null;
let stopQr = null;
let pendingOffer = null;
let pendingRequest = null;

function say(text, kind = "info") {
  const box = $("wallet-message");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

function sayError(error) {
  const code = error instanceof FlowError ? error.code : "other";
  const known = {
    network: () => t("error.network"),
    foreign_host: () => t("error.foreign_host", { detail: error.description }),
    not_bound: () => t("error.not_bound"),
    client_id_mismatch: () => t("error.request_invalid"),
    invalid_request_object: () => t("error.request_invalid"),
    request_expired: () => t("error.request_gone"),
    request_gone: () => t("error.request_gone"),
  };
  if (known[code]) return say(known[code](), "error");
  if (error instanceof FlowError && error.status === 404) return say(t("error.offer_gone"), "error");
  if (code === "invalid_request" && /already answered/i.test(error.description)) return say(t("error.already"), "error");
  if (code === "invalid_request" && /expired/i.test(error.description)) return say(t("error.request_gone"), "error");
  console.warn("wallet flow failed", error);
  say(t("error.other", { detail: error.description || error.code || error.message }), "error");
}

const claimLabel = (name) => data.strings[`wallet.js.claim.${name}`] ?? name;
function claimValue(name, value) {
  if (value === true || value === false) return value ? t("yes") : t("no");
  if (name === "sex") return data.strings[`wallet.js.sex.${value}`] ?? String(value);
  if (name === "birth_date") return formatDate(value);
  return String(value ?? "");
}
const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length);
const sortClaims = (names) => [...names].sort((a, b) => rank(a) - rank(b));

function show(step) {
  for (const id of ["receive-step", "request-step", "offline-step"]) $(id).hidden = id !== step;
  if (step) $(step).scrollIntoView({ block: "start" });
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "dataset") Object.assign(node.dataset, v);
    else if (k in node && k !== "for") node[k] = v;
    else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function formatDate(value) {
  if (!value) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(`${value}T00:00:00`);
  if (Number.isNaN(date.getTime())) return String(value);
  return date.toLocaleDateString(data.lang === "vi" ? "vi-VN" : "en-GB", { day: "2-digit", month: "2-digit", year: "numeric" });
}

async function renderCards() {
  const entries = (await allCredentials()).sort((a, b) => a.addedAt.localeCompare(b.addedAt));
  const list = $("credential-list");
  list.replaceChildren();
  $("wallet-empty").hidden = entries.length > 0;
  for (const entry of entries) list.append(card(entry));
  return entries;
}

function card(entry) {
  const agency = (data.lang === "vi" ? entry.agency.name_vi : entry.agency.name_en) || entry.agency.name_vi || entry.agency.id;
  const status = el("dd", { className: "status-unknown", dataset: { status: "checking" } }, t("status.checking"));
  const headingId = `card-title-${entry.id}`;
  const item = el(
    "li",
    { className: "card wallet-card", id: `credential-${entry.id}`, "aria-labelledby": headingId,
      dataset: { credentialCard: "", credentialId: entry.id } },
    el("h3", { id: headingId }, entry.claims.full_name ?? ""),
    el(
      "dl",
      {},
      el("dt", {}, t("card.agency")), el("dd", { dataset: { agency: entry.agency.id } }, agency),
      entry.claims.birth_date ? el("dt", {}, t("card.birth_date")) : null,
      entry.claims.birth_date ? el("dd", {}, formatDate(entry.claims.birth_date)) : null,
      entry.exp ? el("dt", {}, t("card.expires")) : null,
      entry.exp ? el("dd", {}, formatDate(entry.exp)) : null,
      el("dt", {}, t("card.status")), status,
    ),
  );
  const actions = el(
    "div",
    { className: "actions" },
    el("button", { type: "button", className: "button", dataset: { action: "offline" } }, t("card.show_qr")),
    el("button", { type: "button", className: "button secondary", dataset: { action: "remove" } }, t("card.remove")),
  );
  const confirmBox = el(
    "div",
    { className: "confirm-box", hidden: true },
    el("p", {}, t("card.remove_confirm")),
    el(
      "div",
      { className: "actions" },
      el("button", { type: "button", className: "button", dataset: { action: "remove-yes" } }, t("card.remove_yes")),
      el("button", { type: "button", className: "button secondary", dataset: { action: "remove-no" } }, t("card.remove_no")),
    ),
  );
  item.append(actions, confirmBox);
  item.addEventListener("click", async (event) => {
    const action = event.target.closest("button")?.dataset.action;
    if (action === "offline") openOffline(entry);
    if (action === "remove") {
      confirmBox.hidden = false;
      confirmBox.querySelector("[data-action=remove-no]").focus();
    }
    if (action === "remove-no") confirmBox.hidden = true;
    if (action === "remove-yes") {
      if (stopQr) closeOffline();
      await deleteCredential(entry.id);
      await renderCards();
      say(t("card.removed"), "ok");
    }
  });
  revocationStatus(entry).then((value) => {
    status.textContent = t(`status.${value}`);
    status.className = `status-${value}`;
    status.dataset.status = value;
  });
  return item;
}

function claimBoxes(fieldset, names, values, checked) {
  fieldset.querySelectorAll("label").forEach((l) => l.remove());
  for (const name of sortClaims(names)) {
    const box = el("input", { type: "checkbox", name: "claim", value: name, checked: checked.includes(name),
      dataset: { claim: name } });
    const value = values[name] === undefined ? null : el("span", { className: "claim-value" }, claimValue(name, values[name]));
    const text = el("span", {}, claimLabel(name), value ? el("br") : null, value);
    fieldset.append(el("label", {}, box, text));
  }
}

const chosen = (fieldset) => [...fieldset.querySelectorAll("input[name=claim]:checked")].map((b) => b.value);

function openOffline(entry) {
  closeOffline();
  const fieldset = $("offline-claims");
  const names = Object.keys(entry.claims);
  claimBoxes(fieldset, names, entry.claims, OFFLINE_DEFAULT.filter((n) => names.includes(n)));
  const start = () => {
    if (stopQr) stopQr();
    const claims = chosen(fieldset);
    if (claims.length === 0) {
      stopQr = null;
      $("offline-renewed").textContent = t("offline.none");
      return;
    }
    stopQr = showOfflineQr($("offline-qr"), entry, claims, (at) => {
      $("offline-renewed").textContent = t("offline.renewed", { time: at.toLocaleTimeString(data.lang) });
    });
  };
  fieldset.onchange = start;
  show("offline-step");
  start();
}

function closeOffline() {
  if (stopQr) stopQr();
  stopQr = null;
  $("offline-step").hidden = true;
}

async function latestCredential(wanted) {
  const entries = await allCredentials();
  const fitting = entries.filter((e) => wanted.every((n) => n in e.claims));
  return (fitting.length ? fitting : entries).sort((a, b) => b.addedAt.localeCompare(a.addedAt))[0] ?? null;
}

async function handle(text) {
  const link = parseLink(text);
  if (!link) return say(t("error.not_a_link"), "error");
  closeOffline();
  try {
    if (link.kind === "offer") {
      say(t("busy.offer"));
      pendingOffer = await loadOffer(link);
      say("");
      show("receive-step");
      $("tx-error").hidden = true;
      $("tx-code").value = "";
      $("tx-code").focus();
    } else {
      say(t("busy.request"));
      const request = await loadRequest(link);
      const entry = await latestCredential(request.claims);
      if (!entry) return say(t("error.no_credential"), "error");
      pendingRequest = { request, entry };
      say("");
      $("request-client").textContent = request.clientName;
      $("request-host").textContent = request.responseHost;
      $("request-purpose").textContent = request.purpose;
      $("request-purpose").hidden = $("request-purpose-label").hidden = !request.purpose;
      claimBoxes($("request-claims"), request.claims, entry.claims, request.claims);
      show("request-step");
      $("request-approve").focus();
    }
  } catch (error) {
    sayError(error);
  }
}

async function submitCode(event) {
  event.preventDefault();
  const code = $("tx-code").value.trim();
  const error = $("tx-error");
  const length = pendingOffer?.txCode?.length ?? 6;
  if (pendingOffer?.txCode && !new RegExp(`^[0-9]{${length}}$`).test(code)) {
    error.textContent = t("error.code_format");
    error.hidden = false;
    $("tx-code").setAttribute("aria-invalid", "true");
    return;
  }
  error.hidden = true;
  $("tx-code").removeAttribute("aria-invalid");
  $("tx-submit").disabled = true;
  say(t("busy.receive"));
  try {
    const entry = await receive(pendingOffer, code);
    pendingOffer = null;
    show(null);
    await renderCards();
    say(t("received", { name: entry.claims.full_name ?? "" }), "ok");
    document.getElementById(`credential-${entry.id}`)?.scrollIntoView({ block: "start" });
  } catch (failure) {
    const text = failure.description ?? "";
    if (failure.code === "invalid_grant" && /(\d+) tr(y|ies) left/i.test(text)) {
      say("");
      error.textContent = t("error.wrong_code", { tries: /(\d+) tr(y|ies) left/i.exec(text)[1] });
      error.hidden = false;
      $("tx-code").setAttribute("aria-invalid", "true");
      $("tx-code").select();
    } else if (failure.code === "invalid_grant") {
      show(null);
      pendingOffer = null;
      say(/too many|dead/i.test(text) ? t("error.offer_dead") : t("error.offer_gone"), "error");
    } else {
      sayError(failure);
    }
  } finally {
    $("tx-submit").disabled = false;
  }
}

async function answer(approved) {
  if (!pendingRequest) return;
  const { request, entry } = pendingRequest;
  $("request-approve").disabled = $("request-refuse").disabled = true;
  say(t("busy.send"));
  try {
    if (approved) await approve(request, entry, chosen($("request-claims")));
    else await refuse(request);
    pendingRequest = null;
    show(null);
    say(approved ? t("sent") : t("refused"), "ok");
  } catch (error) {
    sayError(error);
  } finally {
    $("request-approve").disabled = $("request-refuse").disabled = false;
  }
}

async function scan() {
  $("scan-start").hidden = true;
  $("scan-stop").hidden = false;
  $("viewfinder").hidden = false;
  try {
    stopScan = await startScanner($("scan-video"), (text) => {
      endScan();
      handle(text);
    });
  } catch (error) {
    endScan();
    say(t(`error.camera_${cameraProblem(error)}`), "error");
  }
}

function endScan() {
  if (stopScan) stopScan();
  stopScan = null;
  $("scan-start").hidden = false;
  $("scan-stop").hidden = true;
  $("viewfinder").hidden = true;
}

function fromFragment() {
  if (!location.hash || location.hash.length < 2) return;
  const text = location.hash;
  history.replaceState(null, "", location.pathname + location.search); // a reload must not reuse a one-time link
  handle(text);
}

$("tx-form").addEventListener("submit", submitCode);
$("receive-cancel").addEventListener("click", () => {
  pendingOffer = null;
  show(null);
});
$("request-approve").addEventListener("click", () => answer(true));
$("request-refuse").addEventListener("click", () => answer(false));
$("offline-close").addEventListener("click", closeOffline);
$("scan-start").addEventListener("click", scan);
$("scan-stop").addEventListener("click", endScan);
$("link-form").addEventListener("submit", (event) => {
  event.preventDefault();
  handle($("link-input").value);
  $("link-input").value = "";
});
window.addEventListener("hashchange", fromFragment);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/wallet-sw.js", { scope: "/wallet" }).catch((error) => {
    console.warn("the wallet will not open offline", error);
  });
}

await holderKey();
await renderCards();
// For tests and for a holder who wants it (`xacthuc id issue --holder-jwk`): the public half of the holder key.
document.body.dataset.holderJwk = JSON.stringify(await publicJwk());
document.body.dataset.walletReady = "true";
fromFragment();
