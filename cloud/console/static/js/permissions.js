/**
 * What the logged-in user may do, from the roles each API operation admits (the OpenAPI's
 * x-roles, served as /console/roles.json): pages show only the actions the viewer may take, and
 * say so where a control is left out ("your role may not …"). The header's page links show only
 * the pages the viewer may open. It only decides what is shown; the server refuses (403) whatever
 * the role may not do, and a page it does not admit answers with its 403 page.
 */

import { el } from "./dom.js";
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

/** "您的角色不能… Your role may not …", e.g. `{zh: "发卡", en: "issue cards"}`. */
export const mayNotWords = ({ zh, en }) => `您的角色不能${zh}。Your role may not ${en}.`;

/** A hint element saying what the role may not do; `name` is its data-role-hint (tests find it by that). */
export function roleHint(name, words) {
  return el("p", { class: "muted role-hint", dataset: { roleHint: name } }, mayNotWords(words));
}

/**
 * Offer `element` (a form, a button, a panel's controls) only if the viewer may call
 * `method` `path`: otherwise it is hidden, and a hint saying what the role may not do stands
 * before it (once). Returns whether it is offered, so callers that later show or hide the
 * element themselves keep it hidden.
 */
export function offer(element, method, path, words) {
  if (!element) return true;
  const allowed = may(method, path);
  const name = element.id || path;
  const hint = element.previousElementSibling?.dataset?.roleHint === name ? element.previousElementSibling : null;
  if (allowed) {
    hint?.remove();
    return true;
  }
  element.hidden = true;
  element.dataset.roleHidden = "true";
  if (!hint) element.before(roleHint(name, words));
  return false;
}

/**
 * Say before `anchor` (once) what the role may not do, when it may not call `method` `path`;
 * for controls built per row (the rows leave them out). Returns whether the role may.
 */
export function explain(anchor, method, path, words, name = path) {
  const allowed = may(method, path);
  if (!allowed && anchor && anchor.previousElementSibling?.dataset?.roleHint !== name) anchor.before(roleHint(name, words));
  return allowed;
}

/**
 * The data each page cannot do without, as an API operation: who may read it may open the page.
 * These match the pages' roles (PAGES in cloud/api/console.py; tests check each role's links).
 */
const PAGE_READS = {
  "/": "GET /api/alarms",
  "/patrol": "GET /api/patrol/board",
  "/parking": "GET /api/cards",
  "/duty": "GET /api/duty/status",
  "/pumproom": "GET /api/inspection/rooms",
  "/admin": "GET /api/auth/users",
};

/** May the viewer open the console page at `href` (a path of PAGE_READS; any other: yes)? */
export function mayOpen(href) {
  const read = PAGE_READS[new URL(href, location.href).pathname];
  if (!read) return true;
  const [method, path] = read.split(" ");
  return may(method, path);
}

/** Hide the header's links to pages the viewer may not open. */
export function hideClosedPages(root = document) {
  for (const link of root.querySelectorAll("nav.pages a[href]")) {
    if (!mayOpen(link.getAttribute("href"))) link.hidden = true;
  }
}
