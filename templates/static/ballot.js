// 千人评议 online ballot: live counters of 满意 and 不满意 in a bar at the bottom of the
// screen, which refuse the pick of one too many as it happens and list the sections
// picked so far (each a link to its row); a check before sending; and a draft kept in
// this tab (sessionStorage) so that a reload or a new login after an idle timeout does
// not lose the choices. On the receipt page: a button that copies the receipt code.
// Optional: without it the page works the same and the server checks the counts.
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

  // ---- the receipt page ------------------------------------------------------------------

  function copyButton() {
    var receipt = document.getElementById("receipt");
    var line = document.getElementById("copy-line");
    var button = document.getElementById("copy-receipt");
    var status = document.getElementById("copy-status");
    if (!receipt || !line || !button || !status) return;

    function say(text) {
      status.textContent = text;
    }

    // The code selected on the page: copied by the old command where the browser still
    // has it, else left selected for the phone's own "复制".
    function selectAndCopy() {
      var copied = false;
      var selection = window.getSelection ? window.getSelection() : null;
      if (selection && document.createRange) {
        var range = document.createRange();
        range.selectNodeContents(receipt);
        selection.removeAllRanges();
        selection.addRange(range);
        try {
          copied = document.execCommand("copy");
        } catch (e) {
          copied = false;
        }
      }
      say(copied ? "已复制回执码。" : "已选中回执码：请长按选中的回执码，再点“复制”。");
    }

    button.addEventListener("click", function () {
      var code = (receipt.textContent || "").trim();
      say("");
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code).then(function () {
          say("已复制回执码。");
        }, selectAndCopy);
      } else {
        selectAndCopy();
      }
    });
    line.hidden = false;
  }

  // The ballot is in: its draft has no more use in this tab.
  if (document.querySelector("[data-ballot-done]")) {
    var done = storage();
    if (done) {
      for (var i = done.length - 1; i >= 0; i--) {
        var key = done.key(i);
        if (key && key.indexOf(PREFIX) === 0) done.removeItem(key);
      }
    }
    copyButton();
    return;
  }

  // ---- the ballot ----------------------------------------------------------------------------

  var form = document.getElementById("ballot-form");
  if (!form) return;
  var KINDS = ["satisfied", "unsatisfied"];
  var want = { satisfied: Number(form.dataset.satisfied), unsatisfied: Number(form.dataset.unsatisfied) };
  var labels = { satisfied: "满意", unsatisfied: "不满意" };
  var draftKey = form.dataset.draft;
  var store = storage();
  var tally = document.getElementById("ballot-tally");
  var check = document.getElementById("ballot-check");
  var message = document.getElementById("tally-message");
  var toggle = document.getElementById("picked-toggle");
  var panel = document.getElementById("picked");
  var accepted = {}; // each candidate's field: its value as last accepted
  var jumped = null; // the row the list last went to

  function radios() {
    return form.querySelectorAll("input[type=radio]");
  }

  function picks() {
    var found = {};
    var all = radios();
    for (var i = 0; i < all.length; i++) {
      if (all[i].checked) found[all[i].name] = all[i].value;
    }
    return found;
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
    KINDS.forEach(function (kind) {
      if (n[kind] !== want[kind]) {
        found.push("“" + labels[kind] + "”须恰好选 " + want[kind] + " 个，现在选了 " + n[kind] + " 个。");
      }
    });
    return found;
  }

  function row(input) {
    var node = input;
    while (node && !(node.classList && node.classList.contains("candidate"))) node = node.parentNode;
    return node;
  }

  // The picked sections of one kind, in the ballot's order, each a link to its row.
  function listPicks() {
    var rows = { satisfied: [], unsatisfied: [] };
    var all = radios();
    for (var i = 0; i < all.length; i++) {
      if (all[i].checked && rows[all[i].value]) rows[all[i].value].push(row(all[i]));
    }
    KINDS.forEach(function (kind) {
      var list = document.getElementById("picked-" + kind);
      document.getElementById("picked-" + kind + "-count").textContent = String(rows[kind].length);
      while (list.firstChild) list.removeChild(list.firstChild);
      if (!rows[kind].length) {
        var none = document.createElement("li");
        none.className = "none";
        none.textContent = "还没有选“" + labels[kind] + "”的科室。";
        list.appendChild(none);
        return;
      }
      rows[kind].forEach(function (candidate) {
        if (!candidate || !candidate.id) return;
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = "#" + candidate.id;
        var legend = candidate.querySelector("legend");
        var parts = legend ? legend.children : [];
        for (var j = 0; j < parts.length; j++) link.appendChild(parts[j].cloneNode(true));
        item.appendChild(link);
        list.appendChild(item);
      });
    });
  }

  function show() {
    var n = counts();
    KINDS.forEach(function (kind) {
      document.getElementById("count-" + kind).textContent = String(n[kind]);
      var box = document.getElementById("tally-" + kind);
      box.classList.toggle("is-over", n[kind] > want[kind]);
      box.classList.toggle("is-done", n[kind] === want[kind]);
    });
    if (!check.hidden && problems(n).length === 0) check.hidden = true;
    listPicks();
  }

  // A new text node each time, so that the same refusal twice is announced twice.
  function say(text) {
    if (text || message.textContent) message.textContent = text;
  }

  function refusal(kind) {
    if (want[kind] === 0) return "本次评价不选“" + labels[kind] + "”。";
    return labels[kind] + "已选满 " + want[kind] + " 个：如需改选，请先把另一个选了" + labels[kind] + "的科室改为基本满意。";
  }

  function save() {
    if (!store || !draftKey) return;
    try {
      store.setItem(draftKey, JSON.stringify(picks()));
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

  function setOpen(open) {
    panel.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  // To a picked section's row. Not by the link's own navigation: an address with
  // #candidate-… would put which sections were looked at into the browser's history.
  function jump(candidate) {
    setOpen(false);
    if (jumped) jumped.classList.remove("is-jumped");
    candidate.classList.add("is-jumped");
    jumped = candidate;
    candidate.scrollIntoView({ block: "start" });
    var picked = candidate.querySelector("input:checked");
    if (picked) {
      try {
        picked.focus({ preventScroll: true });
      } catch (e) {
        picked.focus();
      }
    }
  }

  restore();
  accepted = picks();
  tally.hidden = false;
  show();

  // One 满意 or 不满意 more than the rules allow is refused as it is picked: the row goes
  // back to what it was and the bar says why. Fewer, or a change back, always passes.
  form.addEventListener("change", function (event) {
    var input = event.target;
    if (input && input.type === "radio" && input.checked) {
      var kind = input.value;
      var before = accepted[input.name];
      if (want.hasOwnProperty(kind) && before !== kind && counts()[kind] > want[kind]) {
        var all = form.querySelectorAll("input[type=radio]");
        for (var i = 0; i < all.length; i++) {
          if (all[i].name === input.name && all[i].value === before) all[i].checked = true;
        }
        if (input.checked) input.checked = false; // nothing to go back to (never: 基本满意 is preselected)
        say(refusal(kind));
        show();
        return;
      }
      accepted[input.name] = kind;
    }
    say("");
    show();
    save();
  });

  toggle.addEventListener("click", function () {
    setOpen(panel.hidden);
  });

  panel.addEventListener("click", function (event) {
    var node = event.target;
    while (node && node !== panel && node.tagName !== "A") node = node.parentNode;
    if (!node || node === panel) return;
    var candidate = document.getElementById((node.getAttribute("href") || "").slice(1));
    if (!candidate) return;
    event.preventDefault();
    jump(candidate);
  });

  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") {
      setOpen(false);
      toggle.focus();
    }
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
