// The register of offices and delegations (GET /v1/agencies/{id}/offices, public): on the register page, each
// pending entry's state follows the ledger without a reload; on the issue form, who may sign today is listed.
const POLL_MS = 1000;

/** "20/11/2026 14:05:09 (UTC+7)", as the server writes times on the portal's pages. */
function vnTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const local = new Date(d.getTime() + 7 * 3600 * 1000); // Vietnam: UTC+7 all year
  const two = (n) => String(n).padStart(2, "0");
  return `${two(local.getUTCDate())}/${two(local.getUTCMonth() + 1)}/${local.getUTCFullYear()} ` +
    `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())} (UTC+7)`;
}

async function register(agency) {
  const r = await fetch(`/v1/agencies/${encodeURIComponent(agency)}/offices`, { headers: { Accept: "application/json" } });
  return r.ok ? r.json() : null;
}

// ------------------------------------------------------------------------------------------------ the register page
const labelsNode = document.getElementById("offices-labels");
if (labelsNode) {
  const labels = JSON.parse(labelsNode.textContent || "{}");
  const statusLabels = JSON.parse(document.getElementById("status-labels")?.textContent || "{}");
  const pending = () => Array.from(document.querySelectorAll('[data-entry-status="pending"]'));
  const poll = async () => {
    if (!pending().length) return;
    try {
      const body = await register(labels.agency);
      for (const entry of body?.entries || []) {
        const node = document.querySelector(`[data-entry-seq="${entry.seq}"][data-entry-status="pending"]`);
        if (!node || entry.status !== "anchored" || !entry.proof) continue;
        node.dataset.entryStatus = "anchored";
        const badge = node.querySelector(".status");
        badge.className = "status status-anchored";
        badge.querySelector(".status-icon").textContent = "✓";
        badge.querySelector(".status-text").textContent = statusLabels.anchored || "anchored";
        node.querySelector(".entry-anchor").textContent = String(labels.anchor)
          .replace("{block}", String(entry.proof.block))
          .replace("{at}", vnTime(entry.proof.anchored_at));
      }
    } catch {
      // the next round tries again
    }
    if (pending().length) setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

// ------------------------------------------------------------------------------------ the issue form: who may sign
const hint = document.getElementById("signers-hint");
if (hint) {
  const today = new Date(Date.now() + 7 * 3600 * 1000).toISOString().slice(0, 10); // Vietnam's date
  const inForce = (from, until) => from <= today && (until === null || today <= until);
  register(hint.dataset.agency).then((body) => {
    if (!body || !body.entries.length) return; // no register: issuing is not checked
    const state = new Map(body.entries.map((e) => [e.seq, e.status]));
    const list = hint.querySelector("ul");
    const add = (text, seq) => {
      const li = document.createElement("li");
      li.textContent = text;
      if (state.get(seq) !== "anchored") {
        const wait = document.createElement("span");
        wait.className = "signer-pending";
        wait.textContent = ` (${hint.dataset.pendingLabel})`;
        li.append(wait);
      }
      list.append(li);
    };
    for (const o of body.offices) {
      if (!inForce(o.from, o.until)) continue;
      const form = o.collective ? "TM." : o.deputy_of ? "KT." : o.acting ? "Q." : "";
      add(`${o.title}: ${o.holder}${form ? ` (${form})` : ""}`, o.entry);
    }
    for (const d of body.delegations) {
      if (!inForce(d.from, d.until) || (d.revoked_from && today >= d.revoked_from)) continue;
      const types = d.document_types.length ? ` [${d.document_types.join(", ")}]` : "";
      add(`${d.form} ${d.delegate_title}: ${d.delegate}${types}`, d.entry);
    }
    hint.hidden = false; // an empty list says it too: nobody may sign today

  }).catch(() => {});
}
