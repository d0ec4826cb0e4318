// Irreversible steps (templates/_confirm.html): a click opens the step's dialog, which
// says what will happen; its own button posts with confirmed=1. Without this script,
// or where <dialog> is missing, the button posts and the server answers with the same
// words on a confirmation page.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var id = form.getAttribute && form.getAttribute("data-confirm");
  if (!id) return;
  var dialog = document.getElementById(id);
  if (!dialog || typeof dialog.showModal !== "function") return;
  event.preventDefault();
  dialog.showModal();
  var first = dialog.querySelector("input[type=checkbox], button[type=submit]");
  if (first) first.focus();
});
