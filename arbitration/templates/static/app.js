// Keyboard use of the admin pages: j/k move in the queue, Enter opens, / focuses the filter,
// a/r choose approve/refuse on a decision (then the comment is focused: it is mandatory).
(function () {
  "use strict";
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-href]"));
  var current = -1;
  function select(i) {
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, k) { r.classList.toggle("selected", k === current); r.setAttribute("aria-selected", k === current ? "true" : "false"); });
    rows[current].focus();
    rows[current].scrollIntoView({block: "nearest"});
  }
  function choose(action) {
    var radio = document.getElementById("act-" + action);
    if (radio) {
      radio.checked = true;
      var c = document.getElementById("comment");
      if (c) c.focus();
      return true;
    }
    if (current >= 0) {
      window.location.href = rows[current].getAttribute("data-href") + "?action=" + action + "#act";
      return true;
    }
    return false;
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || typing(e)) return;
    if (e.key === "j") { select(current + 1); e.preventDefault(); }
    else if (e.key === "k") { select(current - 1); e.preventDefault(); }
    else if (e.key === "Enter" && current >= 0) { window.location.href = rows[current].getAttribute("data-href"); e.preventDefault(); }
    else if (e.key === "/") { var f = document.querySelector("[data-filter]"); if (f) { f.focus(); e.preventDefault(); } }
    else if (e.key === "a") { if (choose("approve")) e.preventDefault(); }
    else if (e.key === "r") { if (choose("refuse")) e.preventDefault(); }
  });
  var m = /[?&]action=(approve|refuse)/.exec(window.location.search);
  if (m) choose(m[1]);
})();
