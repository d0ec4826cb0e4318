// 主管单位评价: while the person types, each row shows its tier (or what is wrong with
// the value) and the panel counts the tiers and says which is over or under its bounds.
// Every number comes from the sheet's data- attributes, which the server renders from
// the campaign's settings; the messages use the server's wording (scoring.supervisor:
// TierProblem.message, score_problem), and the server checks everything again on submit.
(function () {
  "use strict";

  var sheet = document.getElementById("supervisor-sheet");
  if (!sheet) return;

  var data = sheet.dataset;
  var unit = data.unit;
  var points = Number(data.points);
  var excellentMin = Number(data.excellentMin);
  var goodMin = Number(data.goodMin);
  var low = Number(data.low);
  var high = Number(data.high);
  var tiers = data.tiers.split(","); // excellent, good, fair
  var panel = document.getElementById("tier-panel");
  var problemList = document.getElementById("tier-problems");
  var status = document.getElementById("tier-status");
  var inputs = Array.prototype.slice.call(sheet.querySelectorAll("input[type=number]"));
  var touched = new Set();

  // Python's format(x, "g") for the values a person types.
  function g(x) {
    return String(Number(x.toPrecision(6)));
  }

  // Writes only what changed: rewriting the same text still counts as a change to the
  // page, and on focus moves (a click on the submit button) it can make the browser
  // shift the scroll position under the pointer.
  function setText(element, value) {
    if (element.textContent !== String(value)) element.textContent = value;
  }

  function tierOf(score) {
    if (score >= excellentMin) return tiers[0];
    if (score >= goodMin) return tiers[1];
    return tiers[2];
  }

  // {score, error}: the score, or why the value is not a valid supervisor score.
  function read(input) {
    if (input.validity && input.validity.badInput) return { error: "不是数字，请填写如 4.5 的分值" };
    var text = input.value.normalize ? input.value.normalize("NFKC").trim() : input.value.trim();
    if (text === "") return { error: "请填写分值" };
    var score = Number(text);
    if (!isFinite(score)) return { error: "不是数字，请填写如 4.5 的分值" };
    if (!(score >= 0 && score <= points)) return { error: "分值 " + g(score) + " 超出范围：应在 0 到 " + g(points) + " 之间" };
    if (Math.round(score * 10) / 10 !== Math.round(score * 1e6) / 1e6) return { error: "分值 " + g(score) + " 只能保留一位小数" };
    return { score: score };
  }

  // The same words as TierProblem.message.
  function problem(tier, count) {
    var expected = low !== high ? low + " 到 " + high + " 个" : low + " 个";
    var diff = count > high ? "多了 " + (count - high) + " 个" : "少了 " + (low - count) + " 个";
    return unit + "：" + tier + "档有 " + count + " 个科室，应为 " + expected + "，" + diff;
  }

  function showRow(input, result) {
    var id = input.id.replace("score-", "");
    var label = document.getElementById("tier-" + id);
    var error = document.getElementById("error-" + id);
    var tier = result.error ? "" : tierOf(result.score);
    setText(label, tier || "—");
    if (label.dataset.tier !== tier) label.dataset.tier = tier;
    // A row is flagged once the person has been at it (or the server flagged it),
    // not while an empty form is first shown.
    var flag = result.error && (touched.has(input) || input.getAttribute("aria-invalid") === "true");
    var row = input.closest(".score-row");
    if (row.classList.contains("invalid") !== !!flag) row.classList.toggle("invalid", !!flag);
    if (flag) {
      input.setAttribute("aria-invalid", "true");
      setText(error, result.error);
    } else {
      if (input.hasAttribute("aria-invalid")) input.removeAttribute("aria-invalid");
      setText(error, "");
    }
    if (error.hidden !== !flag) error.hidden = !flag;
    return tier;
  }

  function update() {
    var counts = {};
    tiers.forEach(function (t) { counts[t] = 0; });
    var pending = 0;
    inputs.forEach(function (input) {
      var tier = showRow(input, read(input));
      if (tier) counts[tier] += 1;
      else pending += 1;
    });
    // Before every row holds a valid score only an over-full tier is certain.
    var problems = tiers
      .filter(function (t) { return counts[t] > high || (pending === 0 && counts[t] < low); })
      .map(function (t) { return problem(t, counts[t]); });

    panel.querySelectorAll(".tier-count").forEach(function (span) {
      var tier = span.dataset.tier;
      setText(span.querySelector("b"), tier ? counts[tier] : pending);
    });
    var shown = Array.prototype.map.call(problemList.children, function (item) { return item.textContent; });
    if (shown.join("\n") !== problems.join("\n")) {
      problemList.replaceChildren.apply(problemList, problems.map(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        return item;
      }));
    }
    var fine = !pending && !problems.length;
    setText(status, pending ? "还有 " + pending + " 个科室未填写有效分值。" : fine ? "档次比例符合要求。" : "");
    var statusClass = fine ? "tier-ok" : "muted";
    if (status.className !== statusClass) status.className = statusClass;
    if (panel.classList.contains("has-problems") !== problems.length > 0) {
      panel.classList.toggle("has-problems", problems.length > 0);
    }
  }

  sheet.addEventListener("input", function (event) {
    if (event.target.matches("input[type=number]")) touched.add(event.target);
    update();
  });
  sheet.addEventListener("focusout", function (event) {
    if (event.target.matches("input[type=number]") && !touched.has(event.target)) {
      touched.add(event.target);
      update();
    }
  });
  update();
})();
