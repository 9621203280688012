/** The duty API for the duty pages: every call carries the page's ?site= when it has one. */

import { getJSON, post, siteUrl } from "./api.js";

export const dutyGet = (path, params) => getJSON(siteUrl(`duty/${path}`, params));

/** A POST on the session (signed by the logged-in user); the answer, or an ApiError with the server's detail. */
export const dutyPost = (path, body) => post(siteUrl(`duty/${path}`), body);

/** The link to a page of the console, keeping the page's ?site=. */
export function pageUrl(path, params = {}) {
  const query = new URLSearchParams();
  const site = new URLSearchParams(location.search).get("site");
  if (site) query.set("site", site);
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const text = query.toString();
  return `${path}${text ? `?${text}` : ""}`;
}

/** The handover's printable record. */
export const recordUrl = (id) => pageUrl(`/duty/handovers/${encodeURIComponent(id)}`);
