/** What the printable report pages share: the site kept in the form, Print, and a load error. */

import { $, fill } from "./dom.js";

/** Show why the page could not load (the server's detail, or the network error). */
export function showLoadError(error) {
  fill($("#load-error"), `加载失败 Could not load: ${error.message}`);
  $("#load-error").hidden = false;
}

/** Wire the report form and run `load(asked)` with the page's URL parameters. */
export function startReport(load) {
  const asked = new URLSearchParams(location.search);
  $("#report-site").value = asked.get("site") ?? "";
  $("#report-site").disabled = !asked.get("site"); // no empty ?site= in the next URL
  $("#print").addEventListener("click", () => window.print());
  load(asked).catch(showLoadError);
}
