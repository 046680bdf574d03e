// Sorting and filtering for the report's tables. The page is complete without this
// script: every row is in the HTML, and the filter bar stays hidden unless it runs.
(function () {
  "use strict";
  var each = function (list, fn) { Array.prototype.forEach.call(list, fn); };
  var cell = function (row, i) { return row.cells[i] ? row.cells[i].textContent.trim() : ""; };
  // Numbers (also "$1,234.50" and "12.5%") sort as numbers, everything else as text.
  var key = function (text) {
    var n = Number(text.replace(/[$,%]/g, ""));
    return text !== "" && !isNaN(n) ? n : text.toLowerCase();
  };

  function sortable(table) {
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th, i) {
      th.tabIndex = 0;
      th.classList.add("sort");
      var sort = function () {
        var up = th.getAttribute("aria-sort") !== "ascending";
        each(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", up ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(table.tBodies[0].rows);
        rows.sort(function (a, b) {
          var x = key(cell(a, i)), y = key(cell(b, i));
          if (typeof x !== typeof y) { x = String(x); y = String(y); }
          return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
        });
        var moved = document.createDocumentFragment();
        rows.forEach(function (row) { moved.appendChild(row); });
        table.tBodies[0].appendChild(moved);
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
  }

  function control(bar, label, element) {
    var wrap = document.createElement("label");
    wrap.textContent = label + " ";
    wrap.appendChild(element);
    bar.appendChild(wrap);
    return element;
  }

  // A select of the column's values, or a from/to pair for a date column.
  function filterFor(table, bar, th, i) {
    var name = th.textContent;
    if (th.dataset.filter === "date") {
      var from = control(bar, name + " from", document.createElement("input"));
      var to = control(bar, "to", document.createElement("input"));
      from.type = to.type = "date";
      return function (text) {
        return (!from.value || (text && text >= from.value)) && (!to.value || (text && text <= to.value));
      };
    }
    var select = control(bar, name, document.createElement("select"));
    var values = {};
    each(table.tBodies[0].rows, function (row) { values[cell(row, i)] = true; });
    select.add(new Option("all", ""));
    Object.keys(values).sort().forEach(function (v) { select.add(new Option(v || "(none)", v || "\u0000")); });
    return function (text) {
      return select.value === "" || text === select.value || (select.value === "\u0000" && text === "");
    };
  }

  function filterable(table, bar) {
    var tests = [];
    each(table.tHead.rows[0].cells, function (th, i) {
      if (th.dataset.filter) { tests.push({ col: i, pass: filterFor(table, bar, th, i) }); }
    });
    var count = document.createElement("output");
    bar.appendChild(count);
    var apply = function () {
      var rows = table.tBodies[0].rows, shown = 0;
      each(rows, function (row) {
        var keep = tests.every(function (t) { return t.pass(cell(row, t.col)); });
        row.hidden = !keep;
        shown += keep ? 1 : 0;
      });
      count.textContent = shown + " of " + rows.length + " shown";
    };
    bar.addEventListener("input", apply);
    bar.addEventListener("change", apply);
    bar.hidden = false;
    apply();
  }

  each(document.querySelectorAll("table.sortable"), sortable);
  each(document.querySelectorAll("table.filterable"), function (table) {
    var bar = table.previousElementSibling;
    if (bar && bar.classList.contains("filters")) { filterable(table, bar); }
  });
})();
