/**
 * The JSON API on the console's session: every change echoes the CSRF token, a 401 (the session
 * ended) goes to the login and back, and errors (403 too) carry the server's detail.
 */

import { csrfToken, toLogin } from "./session.js";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The server's `detail` in words: a string (409, 404, 403, 400) or FastAPI's 422 list. */
export async function errorOf(response) {
  let detail = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) {
      detail = body.detail
        .map((item) => `${(item.loc || []).filter((p) => p !== "body").join(".")}: ${item.msg}`)
        .join("; ");
    }
  } catch {
    // Not JSON (a proxy's error page): the status text is all there is.
  }
  return new ApiError(response.status, detail);
}

/** A fetch with the answer's JSON, or an ApiError with the server's detail (any method, any body). */
export async function request(path, options = {}) {
  const method = (options.method ?? "GET").toUpperCase();
  const headers = SAFE.has(method) ? options.headers : { ...options.headers, "X-CSRF-Token": csrfToken() };
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (error) {
    throw new ApiError(0, `网络错误 Network error: ${error.message}`);
  }
  if (response.status === 401) toLogin();
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

/** The site asked for in the page's URL; left out, the server takes its only site. */
export const pageSite = () => new URLSearchParams(location.search).get("site");

/** `/api/<path>?site=..&<params>` with the page's site, leaving out empty params. */
export function siteUrl(path, params = {}) {
  const query = new URLSearchParams();
  const site = pageSite();
  if (site) query.set("site", site);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return `/api/${path}${text ? `?${text}` : ""}`;
}

export const getJSON = (path) => request(path, { headers: { Accept: "application/json" } });

/** A change (POST by default) with a JSON body; the answer's JSON, or an ApiError with the server's detail. */
export function send(method, path, body) {
  return request(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
}

export const post = (path, body) => send("POST", path, body);

/** One action on one alarm (`acknowledge`, `shelve`, `out-of-service`, ...); the new AlarmOut. */
export const alarmAction = (id, path, body) => post(`/api/alarms/${encodeURIComponent(id)}/${path}`, body);

/** Acknowledge several at once: {acknowledged: [ids], refused: [{id, detail}]}. */
export const acknowledgeMany = (ids, note) => post("/api/alarms/acknowledge", note ? { ids, note } : { ids });

export const alarmDetail = (id) => getJSON(`/api/alarms/${encodeURIComponent(id)}`);

export const listNodes = () => getJSON("/api/nodes");
