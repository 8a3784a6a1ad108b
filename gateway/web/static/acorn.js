// Light progressive enhancement; every page works without it.
// * A form with data-confirm asks before it is sent (resend, reprocess).
// * The log's filter form is sent when a select changes.
"use strict";
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute && event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
for (const form of document.querySelectorAll("form[data-autosubmit]")) {
  for (const select of form.querySelectorAll("select")) {
    select.addEventListener("change", () => form.requestSubmit());
  }
}
