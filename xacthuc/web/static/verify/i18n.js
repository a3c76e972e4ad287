// The strings the server rendered into the page as JSON data (#verify-data), in the page's language.
const data = JSON.parse(document.getElementById("verify-data").textContent);

export const lang = data.lang;

/** t("js.file_hashed", {name}) : the page string with its {fields} filled in. */
export function t(key, fields = {}) {
  const text = data.strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(fields[name] ?? ""));
}

export const verdictWord = (verdict) => data.verdicts[verdict] ?? verdict;
export const checkName = (name) => data.checks[name] ?? name;
export const codeMessage = (code) => {
  if (data.codes[code]) return data.codes[code];
  return null;
};
