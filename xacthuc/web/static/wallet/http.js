// The wallet's HTTP calls, all to this service. A failure becomes a FlowError whose `code` the page turns into a
// sentence in its language: network, foreign_host, or the OAuth `error` the server answered (with its description).
import { sameOrigin } from "./links.js";

export class FlowError extends Error {
  constructor(code, description = "", status = 0) {
    super(description || code);
    this.code = code;
    this.description = description;
    this.status = status;
  }
}

/** fetch() limited to this origin; returns the Response, or throws FlowError("network" | "foreign_host"). */
export async function call(url, init = {}) {
  if (!sameOrigin(url)) throw new FlowError("foreign_host", new URL(url, location.href).host);
  try {
    return await fetch(url, { cache: "no-store", credentials: "omit", ...init });
  } catch {
    throw new FlowError("network");
  }
}

/** The JSON answer of a call; a non-2xx answer throws FlowError(error, error_description, status). */
export async function callJson(url, init = {}) {
  const response = await call(url, init);
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = body?.error;
    const code = typeof error === "string" ? error : (error?.code ?? `http_${response.status}`);
    const description = body?.error_description ?? error?.message ?? "";
    throw new FlowError(code, description, response.status);
  }
  if (body === null) throw new FlowError("invalid_response");
  return body;
}

export const form = (fields) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
