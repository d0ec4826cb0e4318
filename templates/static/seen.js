// 千人评议 citizen page: tells the server once that a person's browser showed the
// voting page (the invitation's opened_at, for the review office's counts). A link
// previewer runs no script, and GET never writes, so this is the only "opened" signal.
// Optional: the page works the same without it.
(function () {
  "use strict";

  var form = document.getElementById("vote-form");
  if (!form || !form.dataset.seen) return;
  var url = form.dataset.seen;
  var body = new FormData();
  var token = form.querySelector("input[name=csrf_token]");
  if (token) body.append("csrf_token", token.value);
  try {
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
  } catch (e) {
    // fall through to fetch
  }
  if (window.fetch) {
    fetch(url, { method: "POST", body: body, credentials: "same-origin", keepalive: true }).catch(function () {});
  }
})();
