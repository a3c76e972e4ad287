// /verify/request: a relying party asks a citizen's wallet for chosen claims over OpenID4VP. POST
// /v1/presentation-requests makes the request; its QR code (qr.svg) and wallet link are shown with a countdown; GET
// /v1/presentation-requests/{id} is polled about once a second until the wallet answered, refused or the request
// expired; the verdict is the same result card as /verify (card.js), with the same hooks.
import { renderError, renderReport } from "./card.js";
import { lang, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const form = $("request-form");
const compose = $("request-compose");
const live = $("request-live");
const stateLine = $("request-state");
const result = $("result");
const newButton = $("request-new");
const POLL_MS = 1000;

let current = null; // {id, expiresAt, timer, ticker}

function setState(state, text) {
  stateLine.dataset.state = state;
  stateLine.textContent = text;
}

function chosen() {
  return [...form.querySelectorAll('input[name="claims"]:checked')].map((box) => box.value);
}

for (const button of document.querySelectorAll("[data-preset]")) {
  button.addEventListener("click", () => {
    const wanted = new Set(button.dataset.preset.split(" "));
    for (const box of form.querySelectorAll('input[name="claims"]')) box.checked = wanted.has(box.value);
    $("request-error").textContent = "";
  });
}

function remaining(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function tick() {
  if (!current) return;
  const left = current.expiresAt - Date.now();
  $("request-countdown").textContent = t("request.js.countdown", { time: remaining(left) });
}

function stop() {
  if (!current) return;
  clearTimeout(current.timer);
  clearInterval(current.ticker);
}

function finish(state, node, text) {
  stop();
  live.hidden = true;
  setState(state, text ?? "");
  result.replaceChildren(...(node ? [node] : []));
  newButton.hidden = false;
  if (node) node.focus?.();
  else newButton.focus();
}

async function poll() {
  let body = null;
  try {
    const response = await fetch(`/v1/presentation-requests/${encodeURIComponent(current.id)}`, {
      headers: { "Accept-Language": lang }, cache: "no-store" });
    if (response.ok) body = await response.json();
  } catch {
    body = null; // a dropped connection: try again at the next tick
  }
  if (!current) return;
  if (body && body.state === "answered" && body.report) {
    finish("answered", renderReport(body.report));
    return;
  }
  if (body && body.state === "refused") {
    finish("refused", null, t("request.js.refused"));
    return;
  }
  if (body && body.state === "expired") {
    finish("expired", null, t("request.js.expired"));
    return;
  }
  current.timer = setTimeout(poll, POLL_MS);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const claims = chosen();
  if (!claims.length) {
    $("request-error").textContent = t("request.js.none_chosen");
    return;
  }
  $("request-error").textContent = "";
  const body = { claims };
  const purpose = $("purpose").value.trim();
  if (purpose) body.purpose = purpose;
  setState("creating", t("request.js.creating"));
  let answer;
  try {
    const response = await fetch("/v1/presentation-requests", { method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": lang }, body: JSON.stringify(body) });
    answer = await response.json();
    if (!response.ok) {
      setState("new", "");
      result.replaceChildren(renderError({ error: answer.error }));
      return;
    }
  } catch {
    setState("new", "");
    result.replaceChildren(renderError({ network: true }));
    return;
  }
  current = { id: answer.id, expiresAt: Date.parse(answer.expires_at), timer: null, ticker: null };
  $("request-qr").src = `/v1/presentation-requests/${encodeURIComponent(answer.id)}/qr.svg`;
  $("request-link").value = answer.wallet_url;
  $("request-asked").textContent = answer.claims.map((c) => t(`js.claim.${c}`)).join(", ");
  $("request-copied").textContent = "";
  result.replaceChildren();
  compose.hidden = true;
  live.hidden = false;
  live.dataset.requestUri = answer.request_uri;
  setState("pending", t("request.js.waiting"));
  tick();
  current.ticker = setInterval(tick, 1000);
  current.timer = setTimeout(poll, POLL_MS);
  $("request-live-title").focus?.();
});

$("request-copy").addEventListener("click", async () => {
  const link = $("request-link");
  try {
    await navigator.clipboard.writeText(link.value);
  } catch {
    link.select(); // no clipboard permission: leave it selected for the user's own copy
  }
  $("request-copied").textContent = t("request.js.copied");
});

newButton.addEventListener("click", () => {
  stop();
  current = null;
  result.replaceChildren();
  setState("new", "");
  live.hidden = true;
  compose.hidden = false;
  newButton.hidden = true;
  form.querySelector('input[name="claims"]').focus();
});
