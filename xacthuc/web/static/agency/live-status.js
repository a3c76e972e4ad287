// Status badges ([data-doc-status]) follow the documents' status without a reload: one request a second for the
// documents on the page while any of them may still change (pending, or a revocation on its way).
const POLL_MS = 1000;
const ICONS = { pending: "◷", anchored: "✓", revoked: "✕", superseded: "↻" };
const badges = () => Array.from(document.querySelectorAll("[data-doc-status]"));
const labels = JSON.parse(document.getElementById("status-labels")?.textContent || "{}");

function update(badge, status) {
  if (badge.dataset.docStatus === status) return false;
  badge.dataset.docStatus = status;
  badge.className = `status status-${status}`;
  badge.querySelector(".status-icon").textContent = ICONS[status] || "";
  badge.querySelector(".status-text").textContent = labels[status] || status;
  return true;
}

/** "20/11/2026 14:05:09 (UTC+7)": Vietnam's time, as the server writes it on the portal's pages and /v shows it. */
function vnTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const local = new Date(d.getTime() + 7 * 3600 * 1000); // UTC+7 all year: Vietnam has no summer time
  const two = (n) => String(n).padStart(2, "0");
  return `${two(local.getUTCDate())}/${two(local.getUTCMonth() + 1)}/${local.getUTCFullYear()} ` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} (UTC+7)`;
}

async function proof(id) {
  const section = document.getElementById("proof");
  if (!section || section.dataset.document !== id) return;
  const r = await fetch(`/v1/documents/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
  if (!r.ok) return;
  const doc = await r.json();
  if (!doc.proof) return;
  for (const dd of section.querySelectorAll("[data-proof]")) {
    const v = doc.proof[dd.dataset.proof];
    dd.textContent = dd.dataset.proof === "anchored_at" ? vnTime(v) : String(v);
  }
  document.getElementById("proof-fields").hidden = false;
  document.getElementById("proof-wait").hidden = true;
  const revoke = document.getElementById("revoke-section");
  if (revoke && doc.status === "anchored") revoke.hidden = false;
  const wait = document.getElementById("revoke-wait");
  if (wait) wait.hidden = true;
}

async function poll() {
  const ids = [...new Set(badges().map((b) => b.dataset.docId))];
  if (!ids.length) return;
  try {
    const r = await fetch(`/agency/documents/status.json?ids=${ids.map(encodeURIComponent).join(",")}`, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (r.ok) {
      const { statuses } = await r.json();
      for (const badge of badges()) {
        const status = statuses[badge.dataset.docId];
        if (status && update(badge, status)) await proof(badge.dataset.docId);
      }
    }
  } catch {
    // offline for a moment: the next poll tries again
  }
  if (badges().some((b) => b.dataset.docStatus === "pending" || b.dataset.docStatus === "anchored")) {
    setTimeout(poll, POLL_MS);
  }
}

setTimeout(poll, POLL_MS);
