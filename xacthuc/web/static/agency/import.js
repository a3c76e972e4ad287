// Bulk import: the CSV is read here, and its rows go to the server a chunk at a time with their files, each chunk
// issued all or none (as POST /v1/documents:batch); the bar moves per chunk; a failure names its CSV line.
const CHUNK = 20;
const form = document.getElementById("import-form");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const s = JSON.parse(document.getElementById("import-strings").textContent);
const say = (key, fields = {}) => (s[`agency.import.js.${key}`] || key).replace(/\{(\w+)\}/g, (_, k) => fields[k] ?? "");

function parseCsv(text) {
  const rows = [];
  let row = [], cell = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(cell); cell = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(cell); rows.push(row); row = []; cell = "";
    } else cell += c;
  }
  if (cell || row.length) { row.push(cell); rows.push(row); }
  return rows.filter((r) => r.some((x) => x.trim()));
}

async function run(event) {
  event.preventDefault();
  const csvFile = form.elements.csv.files[0];
  const chosen = new Map(Array.from(form.elements.files.files, (f) => [f.name, f]));
  const bar = document.getElementById("import-bar");
  const status = document.getElementById("import-status");
  const result = document.getElementById("import-result");
  document.getElementById("import-progress").hidden = false;
  result.replaceChildren();
  const table = parseCsv((await csvFile.text()).replace(/^\uFEFF/, ""));
  const [header, ...lines] = table;
  const rows = lines.map((cells, i) => {
    const fields = Object.fromEntries(header.map((h, j) => [h.trim(), (cells[j] || "").trim()]));
    const file = fields.file; delete fields.file;
    return { row: i + 2, fields, file };
  });
  bar.max = rows.length || 1;
  bar.value = 0;
  let done = 0;
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const body = new FormData();
    body.set("rows", JSON.stringify(chunk));
    for (const r of chunk) if (chosen.has(r.file)) body.append("files", chosen.get(r.file), r.file);
    const r = await fetch("/agency/import/chunk", {
      method: "POST", body, headers: { "X-CSRF-Token": csrf, Accept: "application/json" }, credentials: "same-origin",
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      const e = answer.error || {};
      status.textContent = say("failed", { done, row: e.row ?? "?", message: e.message || r.status });
      status.className = "error-box";
      return;
    }
    for (const d of answer.documents) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `/agency/documents/${d.id}`;
      a.textContent = d.number;
      li.append(say("row", { row: d.row }), " ", a, d.existing ? ` (${say("existing")})` : "");
      result.append(li);
    }
    done += chunk.length;
    bar.value = done;
    status.textContent = say("progress", { done, total: rows.length });
  }
  status.className = "";
  status.textContent = say("done", { done });
}

form?.addEventListener("submit", run);
