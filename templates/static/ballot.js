// 千人评议 online ballot: live counters of 满意 and 不满意, a check before sending, and
// a draft kept in this tab (sessionStorage) so that a reload or a new login after an
// idle timeout does not lose the choices. Optional: without it the page works the
// same and the server checks the counts.
(function () {
  "use strict";

  var PREFIX = "ballot-draft:";

  function storage() {
    try {
      return window.sessionStorage;
    } catch (e) {
      return null; // storage disabled: no draft, counters still work
    }
  }

  // The receipt page: the ballot is in, its draft has no more use in this tab.
  if (document.querySelector("[data-ballot-done]")) {
    var done = storage();
    if (done) {
      for (var i = done.length - 1; i >= 0; i--) {
        var key = done.key(i);
        if (key && key.indexOf(PREFIX) === 0) done.removeItem(key);
      }
    }
    return;
  }

  var form = document.getElementById("ballot-form");
  if (!form) return;
  var want = { satisfied: Number(form.dataset.satisfied), unsatisfied: Number(form.dataset.unsatisfied) };
  var labels = { satisfied: "满意", unsatisfied: "不满意" };
  var draftKey = form.dataset.draft;
  var store = storage();
  var tally = document.getElementById("ballot-tally");
  var check = document.getElementById("ballot-check");

  function radios() {
    return form.querySelectorAll("input[type=radio]");
  }

  function counts() {
    var n = { satisfied: 0, basic: 0, unsatisfied: 0 };
    var all = radios();
    for (var i = 0; i < all.length; i++) {
      if (all[i].checked) n[all[i].value] += 1;
    }
    return n;
  }

  function problems(n) {
    var found = [];
    ["satisfied", "unsatisfied"].forEach(function (kind) {
      if (n[kind] !== want[kind]) {
        found.push("“" + labels[kind] + "”须恰好选 " + want[kind] + " 个,现在选了 " + n[kind] + " 个。");
      }
    });
    return found;
  }

  function show() {
    var n = counts();
    ["satisfied", "unsatisfied"].forEach(function (kind) {
      document.getElementById("count-" + kind).textContent = String(n[kind]);
      var box = document.getElementById("tally-" + kind);
      box.classList.toggle("is-over", n[kind] > want[kind]);
      box.classList.toggle("is-done", n[kind] === want[kind]);
    });
    if (!check.hidden && problems(n).length === 0) check.hidden = true;
  }

  function save() {
    if (!store || !draftKey) return;
    var draft = {};
    var all = radios();
    for (var i = 0; i < all.length; i++) {
      if (all[i].checked) draft[all[i].name] = all[i].value;
    }
    try {
      store.setItem(draftKey, JSON.stringify(draft));
    } catch (e) {
      // storage full or refused: the counters still work
    }
  }

  function restore() {
    if (!store || !draftKey || form.dataset.restore !== "1") return;
    var draft;
    try {
      draft = JSON.parse(store.getItem(draftKey) || "null");
    } catch (e) {
      draft = null;
    }
    if (!draft) return;
    Object.keys(draft).forEach(function (name) {
      var value = draft[name];
      var all = form.querySelectorAll("input[type=radio]");
      for (var i = 0; i < all.length; i++) {
        if (all[i].name === name && all[i].value === value) all[i].checked = true;
      }
    });
  }

  restore();
  tally.hidden = false;
  show();

  form.addEventListener("change", function () {
    show();
    save();
  });

  form.addEventListener("submit", function (event) {
    var found = problems(counts());
    if (found.length) {
      event.preventDefault();
      check.textContent = found.join("");
      check.hidden = false;
      tally.scrollIntoView({ block: "nearest" });
      return;
    }
    save(); // kept until the receipt page: a refused or lost send keeps the choices
  });
})();
