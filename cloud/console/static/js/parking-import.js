/** CSV import: the file's text sent as text/csv; how many were imported and every bad row's line. */

import { $, el, fill } from "./dom.js";
import { importCards } from "./parking-api.js";

function render(result) {
  fill($("#import-count"), `已导入 Imported ${result.imported} 张 cards${result.errors.length ? ` · ${result.errors.length} 行有误 rows refused` : ""}`);
  $("#import-errors").hidden = result.errors.length === 0;
  fill(
    $("#import-errors tbody"),
    result.errors.map((e) =>
      el("tr", { dataset: { line: e.line } }, el("td", { class: "line" }, String(e.line)), el("td", {}, e.card ?? "—"), el("td", { class: "message" }, e.message)),
    ),
  );
  $("#import-result").hidden = false;
}

export function setUpImport({ imported }) {
  const form = $("#import-form");
  const error = $("#import-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    $("#import-result").hidden = true;
    const file = $("#import-file").files[0];
    if (!file) return;
    $("#import-submit").disabled = true;
    try {
      const result = await importCards(await file.text());
      render(result);
      if (result.imported) imported(result);
    } catch (failure) {
      fill(error, failure.message);
      error.hidden = false;
    } finally {
      $("#import-submit").disabled = false;
    }
  });
}
