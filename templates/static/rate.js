// 千人评议 rating page: what went wrong (the 差评's categories) shown only once a 差评
// level is chosen, and sent only then. Optional: without it they are always shown.
(function () {
  "use strict";

  var form = document.getElementById("rate-form");
  var box = document.getElementById("rate-categories");
  if (!form || !box) return;
  var poor = (form.getAttribute("data-poor") || "").split(" ");
  var boxes = box.querySelectorAll("input[type=checkbox]");

  function update() {
    var level = form.querySelector("input[name=level]:checked");
    var show = !!level && poor.indexOf(level.value) >= 0;
    box.hidden = !show;
    for (var i = 0; i < boxes.length; i++) boxes[i].disabled = !show;
  }

  form.addEventListener("change", function (event) {
    if (event.target && event.target.name === "level") update();
  });
  window.addEventListener("pageshow", update); // back to the page: the browser kept the choice
  update();
})();
