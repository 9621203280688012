/**
 * What the logged-in user may do, from the roles each API operation admits (the OpenAPI's
 * x-roles, served as /console/roles.json): pages show only the actions the viewer may take.
 * It only decides what is shown; the server refuses (403) whatever the role may not do.
 */

import { getJSON } from "./api.js";
import { me } from "./me.js";

async function load() {
  try {
    return await getJSON("/console/roles.json");
  } catch {
    return null;
  }
}

const admits = await load();

/** May the viewer call `method` `path` (the OpenAPI's path template)? Unknown: yes, the server decides. */
export function may(method, path) {
  const roles = admits?.[`${method.toUpperCase()} ${path}`];
  if (!me || !roles) return true;
  return me.roles.some((role) => role === "admin" || roles.includes(role));
}
