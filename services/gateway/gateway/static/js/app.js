// Enhancements only: every page works without this file.
// After a submit, move focus where a keyboard or screen reader user needs to be next: to the
// error summary if the form had errors, else to a heading marked data-focus (a confirmation).
document.addEventListener("DOMContentLoaded", () => {
  const target = document.querySelector("[data-error-summary]") || document.querySelector("[data-focus]");
  if (target) {
    target.focus();
  }
});
