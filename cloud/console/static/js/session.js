/** The console session as a page sees it: the CSRF token to echo, and the way to the login. */

const CSRF_COOKIE = "sw_csrf";
let known = "";

/** The session's CSRF token: the sw_csrf cookie, or the one /api/auth/me gave (`remember`). */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return known;
}

export function remember(csrf) {
  known = csrf || "";
}

/** The login page, told to come back here (or to `next`, a path on this site). */
export function loginUrl(next = location.pathname + location.search) {
  return `/login?${new URLSearchParams({ next })}`;
}

let leaving = false;

/** Logging out: the page's other requests, refused from now on, must not send it to the login and back. */
export function loggingOut(on = true) {
  leaving = on;
}

/** The session has ended (or never began): log in, then come back. */
export function toLogin() {
  if (!leaving) location.assign(loginUrl());
}
