// groupware portal behaviour: confirmations and auto-submitting filters.
// Loaded as a file (the Content-Security-Policy forbids inline script).
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field.hasAttribute && field.hasAttribute("data-autosubmit") && field.form) {
    field.form.submit();
  }
});
