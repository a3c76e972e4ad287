// The result card: the verdict as a large word with an icon and a colour (never colour alone), one plain sentence,
// the signed fields or disclosed claims, the anchor, and every check folded. Built with DOM calls only (no HTML
// strings), so nothing from a report can become markup. Hooks: data-verdict on the card, data-check/data-status
// on each check row.
import { checkName, codeMessage, lang, t, verdictWord } from "./i18n.js";

const ICONS = { valid: "✓", invalid: "✗", revoked: "✗", superseded: "↻", expired: "!", untrusted: "!", pending: "…",
  error: "?" };
const MARKS = { valid: "✓", invalid: "✗", skipped: "–", error: "?" };
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
  "November", "December"];
const CLAIMS = ["full_name", "family_name", "given_name", "birth_date", "sex", "nationality", "personal_id",
  "place_of_origin", "place_of_residence", "age_over_18"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** "2026-11-20" as 20/11/2026 (vi) or 20 November 2026 (en). */
export function formatDate(iso) {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso ?? "");
  if (!m) return iso ?? "";
  const [, y, mo, d] = m;
  return lang === "vi" ? `${d}/${mo}/${y}` : `${Number(d)} ${MONTHS[Number(mo) - 1]} ${y}`;
}

function formatTime(iso) {
  try {
    const when = new Intl.DateTimeFormat(lang === "vi" ? "vi-VN" : "en-GB", {
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
      hour12: false, timeZone: "Asia/Ho_Chi_Minh" }).format(new Date(iso));
    return `${when} (UTC+7)`;
  } catch {
    return iso;
  }
}

const check = (report, name) => report.checks.find((c) => c.name === name);

function problem(report) {
  const bad = report.checks.find((c) => c.status === "invalid" || c.status === "error");
  return bad ? codeMessage(bad.code) ?? bad.message : "";
}

function replacementNumber(report) {
  const data = check(report, "not_revoked")?.data ?? {};
  return data.replacement?.number ?? null;
}

/** The one sentence that says what the verdict means for this document or ID. */
export function sentence(report) {
  const c = report.claims ?? {};
  const issuer = c.issuing_body || report.issuer?.name || "";
  const kind = report.kind === "citizen_id" ? "citizen_id" : "document";
  switch (report.verdict) {
    case "valid":
      return t(`js.sentence.valid.${kind}`, { issuer: report.issuer?.name ?? issuer, date: formatDate(c.issued_on) });
    case "revoked":
      return t(`js.sentence.revoked.${kind}`, { issuer });
    case "superseded": {
      const number = replacementNumber(report);
      return number ? t("js.sentence.superseded", { number }) : t("js.sentence.superseded_unknown");
    }
    case "pending":
      return t("js.sentence.pending", { issuer });
    case "expired":
    case "untrusted":
      return t(`js.sentence.${report.verdict}`);
    case "error":
      return t("js.sentence.error", { reason: problem(report) }).trim();
    default:
      return t("js.sentence.invalid", { reason: problem(report) }).trim();
  }
}

function fieldList(rows) {
  const dl = el("dl", { class: "fields" });
  for (const [label, value, opts = {}] of rows) {
    if (value === undefined || value === null || value === "") continue;
    dl.append(el("dt", {}, label), el("dd", { class: opts.mono ? "mono" : null, "data-field": opts.key }, String(value)));
  }
  return dl.children.length ? dl : null;
}

function documentFields(report) {
  const c = report.claims ?? {};
  const signer = c.signer_name
    ? c.signer_name + ([c.signing_form, c.signer_title].filter(Boolean).length
      ? ` (${[c.signing_form, c.signer_title].filter(Boolean).join(" ")})` : "")
    : null;
  const revocation = check(report, "not_revoked")?.data ?? {};
  const rows = [
    [t("js.field.number"), c.number, { key: "number" }],
    [t("js.field.type_name"), c.type_name, { key: "type_name" }],
    [t("js.field.title"), c.title, { key: "title" }],
    [t("js.field.issuing_body"), c.issuing_body, { key: "issuing_body" }],
    [t("js.field.place_date"), [c.place, formatDate(c.issued_on)].filter(Boolean).join(", "), { key: "issued_on" }],
    [t("js.field.signer"), signer, { key: "signer" }],
  ];
  if (report.issuer && report.issuer.name !== c.issuing_body) {
    rows.push([t("js.field.issuer"), report.issuer.name, { key: "issuer" }]);
  }
  if (report.verdict === "superseded") {
    rows.push([t("js.field.replacement"), replacementNumber(report), { key: "replacement" }]);
  }
  if (report.verdict === "revoked" && revocation.reason) {
    rows.push([t("js.field.revoked_reason"), t(`js.reason.${revocation.reason}`), { key: "reason" }]);
  }
  rows.push([t("js.field.sha256"), c.sha256, { key: "sha256", mono: true }]);
  return fieldList(rows);
}

function claimValue(name, value) {
  if (typeof value === "boolean") return value ? t("js.yes") : t("js.no");
  if (name === "sex" && (value === "male" || value === "female")) return t(`js.sex.${value}`);
  if (name === "birth_date") return formatDate(value);
  return typeof value === "object" ? JSON.stringify(value) : value;
}

function claimFields(report) {
  const c = report.claims ?? {};
  const names = [...CLAIMS.filter((n) => n in c), ...Object.keys(c).filter((n) => !CLAIMS.includes(n)).sort()];
  return fieldList(names.map((n) => [CLAIMS.includes(n) ? t(`js.claim.${n}`) : n, claimValue(n, c[n]), { key: n }]));
}

function anchorFields(anchor) {
  if (!anchor) return null;
  return fieldList([
    [t("js.anchor.chain"), anchor.chain_id, { key: "chain_id" }],
    [t("js.anchor.block"), anchor.block, { key: "block" }],
    [t("js.anchor.time"), formatTime(anchor.time), { key: "time" }],
    [t("js.anchor.tx"), anchor.tx, { key: "tx", mono: true }],
  ]);
}

function checkRow(c) {
  const text = codeMessage(c.code) ?? c.message;
  return el(
    "li",
    { class: `check-${c.status}`, "data-check": c.name, "data-status": c.status, "data-code": c.code },
    el("span", { class: "check-mark", "aria-hidden": "true" }, MARKS[c.status] ?? "?"),
    el("span", { class: "check-title" }, checkName(c.name) + " ",
      el("span", { class: "check-status" }, "— " + t(`js.status.${c.status}`))),
    el("p", { class: "check-text" }, text),
    el("p", { class: "check-detail" }, `${c.code}: ${c.message}`),
  );
}

/** The whole card for a report from POST /v1/verify. */
export function renderReport(report) {
  const verdict = report.verdict;
  const card = el("article", { class: "result-card", "data-verdict": verdict, "data-kind": report.kind,
    tabIndex: -1 });
  card.append(el("div", { class: `verdict verdict-${verdict}` },
    el("span", { class: "verdict-icon", "aria-hidden": "true" }, ICONS[verdict] ?? "?"),
    el("p", { class: "verdict-word" }, verdictWord(verdict))));
  const body = el("div", { class: "card-body" }, el("p", { class: "sentence" }, sentence(report)));
  for (const c of report.checks.filter((k) => k.status === "skipped" && k.data && k.data.warning)) {
    body.append(el("p", { class: "warning", role: "alert", "data-warning": c.code },
      el("strong", {}, t("js.warning") + " "), codeMessage(c.code) ?? "", " ", c.message));
  }
  const fields = report.kind === "citizen_id" ? claimFields(report) : documentFields(report);
  if (fields) {
    body.append(el("h3", {}, t(report.kind === "citizen_id" ? "js.claims.heading" : "js.fields.heading")), fields);
  }
  const anchor = anchorFields(report.anchor);
  if (anchor) body.append(el("h3", {}, t("js.anchor.heading")), anchor);
  const list = el("ol", {}, ...report.checks.map(checkRow));
  body.append(el("details", { class: "checks" },
    el("summary", {}, t("js.checks.heading", { count: report.checks.length })), list));
  card.append(body);
  return card;
}

/** An answer that is no report: the API's typed error, or no answer at all. The page's own sentence for a code
 * comes first; else the API's message, which is in the page's language (api.js sends it as Accept-Language, the
 * answer's `lang` says so) or, from an API that does not know it, in English. */
export function renderError(answer) {
  let text;
  if (answer.network) text = t("js.network_error");
  else if (answer.error.code === "QR_NOT_FOUND") text = t("js.no_qr");
  else text = codeMessage(answer.error.code) ?? answer.error.message;
  return el("div", { class: "error-box", role: "alert", "data-error": answer.network ? "NETWORK" : answer.error.code },
    el("p", {}, text));
}

/** Put an answer of api.js into `target`. */
export function show(target, answer) {
  target.replaceChildren(answer.report ? renderReport(answer.report) : renderError(answer));
}
