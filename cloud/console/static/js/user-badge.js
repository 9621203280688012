/**
 * The header's "who is logged in" (name and role) and its Log out button, on every page; the
 * page links show only the pages the viewer may open.
 */

import { post } from "./api.js";
import { el, fill } from "./dom.js";
import { me } from "./me.js";
import { hideClosedPages } from "./permissions.js";
import { roleWords } from "./role-labels.js";
import { loggingOut } from "./session.js";
import { toast } from "./toast.js";

async function logOut() {
  loggingOut();
  try {
    await post("/api/auth/logout");
  } catch (error) {
    // Already ended (a 401) is as good as logged out; any other refusal is worth reading.
    if (error.status !== 401) {
      loggingOut(false);
      toast(`退出失败 Log out failed: ${error.message}`, "error");
      return;
    }
  }
  location.assign("/login");
}

const container = document.querySelector("#user");
if (container && me) {
  fill(
    container,
    el("span", { class: "muted" }, "用户 User: "),
    el("strong", { id: "user-name" }, me.name),
    " ",
    el("span", { id: "user-role", class: "role", dataset: { roles: me.roles.join(" ") } }, me.roles.map(roleWords).join(", ")),
    " ",
    me.roles.includes("admin") ? el("a", { href: "/admin", id: "admin-link" }, "账户 Accounts") : null,
    " ",
    el("button", { type: "button", id: "logout", class: "link", onclick: logOut }, "退出 Log out"),
  );
}

hideClosedPages();
