// Bulk import: the CSV is read here, and its rows go to the server a chunk at a time with their files, each chunk
// issued all or none (as POST /v1/documents:batch); the bar moves per chunk to the end; a refused line is listed
// with its CSV line number and the rest goes on.
const CHUNK = 20;
const form = document.getElementById("import-form");
const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";
const s = JSON.parse(document.getElementById("import-strings").textContent);
// count: the number the sentence is about ("1 document", "2 documents": the key's .one form for 1)
const say = (key, fields = {}, count = null) => {
  const base = `agency.import.js.${key}`;
  const text = (count === 1 && s[`${base}.one`]) || s[base] || key;
  return text.replace(/\{(\w+)\}/g, (_, k) => fields[k] ?? "");
};

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
  form.querySelector("button[type=submit]").disabled = true;
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
  let done = 0, processed = 0;
  const failures = [];
  for (let start = 0; start < rows.length; start += CHUNK) {
    // A chunk is issued all or none: when one of its rows is refused, that row is set aside (shown with its CSV
    // line) and the rest of the chunk is sent again, so one bad line never stops the import.
    let chunk = rows.slice(start, start + CHUNK);
    while (chunk.length) {
      const body = new FormData();
      body.set("rows", JSON.stringify(chunk));
      for (const r of chunk) if (chosen.has(r.file)) body.append("files", chosen.get(r.file), r.file);
      const r = await fetch("/agency/import/chunk", {
        method: "POST",
        body,
        headers: { "X-CSRF-Token": csrf, Accept: "application/json", "Accept-Language": document.documentElement.lang },
        credentials: "same-origin",
      });
      const answer = await r.json().catch(() => ({}));
      if (r.ok) {
        for (const d of answer.documents) {
          const li = document.createElement("li");
          const a = document.createElement("a");
          a.href = `/agency/documents/${d.id}`;
          a.textContent = d.number;
          li.dataset.row = d.row;
          li.append(say("row", { row: d.row }), " ", a, d.existing ? ` (${say("existing")})` : "");
          result.append(li);
        }
        done += answer.documents.length;
        break;
      }
      const e = answer.error || {};
      const bad = chunk.filter((row) => row.row === e.row);
      const refused = bad.length ? bad : chunk; // no line named: the whole chunk is refused
      for (const row of refused) {
        failures.push(row.row);
        const li = document.createElement("li");
        li.className = "import-failed";
        li.dataset.row = row.row;
        li.dataset.code = e.code || String(r.status);
        li.append(say("row", { row: row.row }), " ", `${e.message || r.status}${e.code ? ` (${e.code})` : ""}`);
        result.append(li);
      }
      processed += refused.length;
      bar.value = done + processed;
      chunk = bad.length ? chunk.filter((row) => row.row !== e.row) : [];
    }
    processed = 0;
    bar.value = Math.min(start + CHUNK, rows.length);
    status.textContent = say("progress", { done: bar.value, total: rows.length }, rows.length);
  }
  status.className = failures.length ? "error-box" : "";
  status.textContent = failures.length
    ? say("done_failed", { done, failed: failures.length, lines: failures.join(", ") }, done)
    : say("done", { done }, done);
  form.querySelector("button[type=submit]").disabled = false;
}

form?.addEventListener("submit", run);
