// Sort a table.sortable in the page when a header is clicked, without a reload.
// Each header is also a link that sorts on the server, so the table sorts without
// JavaScript too; cells carry their sort value in data-value (empty: always last).
(function () {
  "use strict";
  function compare(a, b, numeric) {
    if (a === "" || b === "") return (a === "") - (b === "");
    return numeric ? parseFloat(a) - parseFloat(b) : a.localeCompare(b, "zh-CN");
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(headers, function (th, index) {
      var link = th.querySelector("a");
      if (!link) return;
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var numeric = th.dataset.type === "num";
        var current = th.getAttribute("aria-sort");
        // First click: numbers high to low, text A to Z; then it toggles.
        var descending = current ? current === "ascending" : numeric;
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.forEach(function (row, i) { row.dataset.position = i; });
        rows.sort(function (r1, r2) {
          var a = r1.cells[index].dataset.value || "", b = r2.cells[index].dataset.value || "";
          if (a === "" || b === "") return compare(a, b, numeric) || r1.dataset.position - r2.dataset.position;
          var order = compare(a, b, numeric);
          return (descending ? -order : order) || r1.dataset.position - r2.dataset.position;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        Array.prototype.forEach.call(headers, function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        if (window.history && history.replaceState) history.replaceState(null, "", link.href);
      });
    });
  });
})();
