/**
 * The login page: the user name and password to POST /api/auth/login (which sets the session
 * cookies), then back to the page asked for (?next=). A refusal shows the server's words: a
 * wrong name or password, or too many failures and how long to wait.
 */

import { errorOf } from "./api.js";
import { $, fill } from "./dom.js";

/** Where to go after logging in: a path on this site only (never another site's address). */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  const local = next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\");
  return local && !next.startsWith("/login") ? next : "/";
}

/** Whether the browser kept the session cookie: it drops a Secure cookie on plain HTTP from another machine. */
async function kept() {
  const me = await fetch("/api/auth/me", { headers: { Accept: "application/json" } });
  return me.ok;
}

function showError(message) {
  fill($("#login-error"), message);
  $("#login-error").hidden = false;
}

async function logIn(event) {
  event.preventDefault();
  const form = event.target;
  const button = $("#login-submit");
  button.disabled = true;
  $("#login-error").hidden = true;
  try {
    const response = await fetch("/api/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ username: form.username.value.trim(), password: form.password.value }),
    });
    if (response.ok && (await kept())) {
      location.assign(nextPage());
      return;
    }
    if (response.ok) {
      showError("浏览器未保存登录，请用 HTTPS 打开 The browser did not keep the session: open the console over HTTPS (its session cookie is Secure)");
      button.disabled = false;
      return;
    }
    const error = await errorOf(response);
    const wait = response.headers.get("Retry-After");
    if (response.status === 429) showError(`尝试次数过多，请 ${wait} 秒后再试 Too many attempts: ${error.message}`);
    else if (response.status === 401) showError(`登录失败 Login failed: ${error.message}`);
    else showError(`登录失败 Login failed (${response.status}): ${error.message}`);
  } catch (error) {
    showError(`网络错误 Network error: ${error.message}`);
  }
  button.disabled = false;
  form.password.select();
}

$("#login-form").addEventListener("submit", logIn);
