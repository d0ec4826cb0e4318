// 千人评议 job page: follows a background job's progress in place (the page works
// without this: a refresh shows the same). Reloads the page once the job has ended,
// so that its outcome shows as the server renders it.
(function () {
  "use strict";

  var box = document.getElementById("job");
  if (!box || box.dataset.finished === "yes" || !window.fetch) return;
  var bar = document.getElementById("job-bar");
  var label = document.getElementById("job-label");
  var stage = document.getElementById("job-stage");
  var count = document.getElementById("job-count");
  var left = document.getElementById("job-left");
  var untaken = document.getElementById("job-untaken");

  function show(state) {
    label.textContent = state.label;
    stage.textContent = state.stage ? "（" + state.stage + "）" : "";
    if (state.total) {
      bar.max = state.total;
      bar.value = state.done;
      bar.textContent = state.percent + "%";
      count.textContent = state.done.toLocaleString("en-US") + " / " + state.total.toLocaleString("en-US") +
        "(" + state.percent + "%)";
    }
    left.textContent = state.seconds_left === null ? "" : "约剩 " + state.seconds_left + " 秒";
    if (untaken) {
      untaken.textContent = state.untaken;
      untaken.hidden = !state.untaken;
    }
  }

  function poll() {
    fetch(box.dataset.progress, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) return setTimeout(poll, 5000);
        if (state.finished) return window.location.reload();
        show(state);
        setTimeout(poll, 1000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  setTimeout(poll, 1000);
})();
