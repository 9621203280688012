/** The patrol API for the patrol pages: every call carries the page's ?site= when it has one. */

import { getJSON, post } from "./api.js";

/** The site asked for in the page's URL; left out, the server takes its only site. */
export const pageSite = () => new URLSearchParams(location.search).get("site");

/** `/api/patrol/<path>?site=..&<params>`, leaving out empty params. */
export function patrolUrl(path, params = {}) {
  const query = new URLSearchParams();
  const site = pageSite();
  if (site) query.set("site", site);
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, value);
  }
  const text = query.toString();
  return `/api/patrol/${path}${text ? `?${text}` : ""}`;
}

export const patrolGet = (path, params) => getJSON(patrolUrl(path, params));

/** POST /api/patrol/incidents: the recorded incident, with `alarm_id` when it raised one. */
export const reportIncident = (body) => post(patrolUrl("incidents"), body);
