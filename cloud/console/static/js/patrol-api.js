/** The patrol API for the patrol pages: every call carries the page's ?site= when it has one. */

import { getJSON, post, siteUrl } from "./api.js";

/** `/api/patrol/<path>?site=..&<params>`, leaving out empty params. */
export const patrolUrl = (path, params) => siteUrl(`patrol/${path}`, params);

export const patrolGet = (path, params) => getJSON(patrolUrl(path, params));

/** POST /api/patrol/incidents: the recorded incident, with `alarm_id` when it raised one. */
export const reportIncident = (body) => post(patrolUrl("incidents"), body);
