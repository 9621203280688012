/**
 * Who is logged in, read once per page from /api/auth/me before the page's own modules run:
 * {username, name, roles, via, csrf}. Without a session the page goes to the login; on a network
 * error `me` is null (the page still works, and the server checks every call anyway).
 */

import { getJSON } from "./api.js";
import { remember } from "./session.js";

async function whoAmI() {
  try {
    const found = await getJSON("/api/auth/me");
    remember(found.csrf);
    return found;
  } catch {
    return null; // a 401 is already on its way to the login
  }
}

export const me = await whoAmI();
