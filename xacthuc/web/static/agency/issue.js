// The issue form checks its fields as they are typed, with the API's own messages (POST /agency/issue/check runs
// the same parser as POST /v1/documents) in the page's language (Accept-Language: the API's catalogue answers in it);
// the server checks again on submit.
const form = document.getElementById("issue-form");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const LANG = document.documentElement.lang || "vi";
const FIELDS = ["number", "title", "issuing_body", "place", "issued_on", "signer_name", "signer_title", "signing_form"];
const touched = new Set();
let timer = null;
let seq = 0;

function values() {
  const out = {};
  for (const name of FIELDS) {
    const el = form.elements[name];
    if (el && (touched.has(name) || el.value)) out[name] = el.value;
  }
  return out;
}

function show(errors) {
  for (const name of FIELDS) {
    const el = form.elements[name];
    const box = document.getElementById(`e-${name}`);
    if (!el || !box) continue;
    const error = touched.has(name) ? errors[name] : undefined;
    box.textContent = error ? error.message : "";
    if (error) el.setAttribute("aria-invalid", "true");
    else el.removeAttribute("aria-invalid");
  }
}

async function check() {
  const mine = ++seq;
  const body = new FormData();
  body.set("fields", JSON.stringify(values()));
  try {
    const r = await fetch("/agency/issue/check", {
      method: "POST",
      body,
      headers: { "X-CSRF-Token": csrf, Accept: "application/json", "Accept-Language": LANG },
      credentials: "same-origin",
    });
    if (!r.ok || mine !== seq) return;
    show((await r.json()).errors || {});
  } catch {
    // the server checks again on submit
  }
}

if (form) {
  for (const name of FIELDS) {
    const el = form.elements[name];
    if (!el) continue;
    const mark = () => {
      touched.add(name);
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    };
    el.addEventListener("input", mark);
    el.addEventListener("change", mark);
    el.addEventListener("blur", mark);
  }
}
