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
  function filterFor(rows, bar, th, i) {
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
    rows.forEach(function (row) { values[cell(row, i)] = true; });
    select.add(new Option("all", ""));
    Object.keys(values).sort().forEach(function (v) { select.add(new Option(v || "(none)", v || "\u0000")); });
    return function (text) {
      return select.value === "" || text === select.value || (select.value === "\u0000" && text === "");
    };
  }

  // One filter bar for every table of a section (the findings: a table per rule); a
  // table left with no row to show is hidden with its heading.
  function filterable(tables, bar) {
    var tests = [], first = tables[0];
    var rows = [];
    each(tables, function (table) { each(table.tBodies[0].rows, function (row) { rows.push(row); }); });
    each(first.tHead.rows[0].cells, function (th, i) {
      if (th.dataset.filter) { tests.push({ col: i, pass: filterFor(rows, bar, th, i) }); }
    });
    var count = document.createElement("output");
    bar.appendChild(count);
    var apply = function () {
      var shown = 0;
      each(tables, function (table) {
        var kept = 0;
        each(table.tBodies[0].rows, function (row) {
          var keep = tests.every(function (t) { return t.pass(cell(row, t.col)); });
          if (row.hidden === keep) { row.hidden = !keep; }  // untouched rows need no restyle
          kept += keep ? 1 : 0;
        });
        if (table.parentNode.hidden !== (kept === 0)) { table.parentNode.hidden = kept === 0; }
        shown += kept;
      });
      count.textContent = shown + " of " + rows.length + " shown";
    };
    bar.addEventListener("input", apply);
    bar.addEventListener("change", apply);
    bar.hidden = false;
    apply();
  }

  each(document.querySelectorAll("table.sortable"), sortable);
  each(document.querySelectorAll(".filters"), function (bar) {
    var tables = bar.parentNode.querySelectorAll("table.filterable");
    if (tables.length) { filterable(tables, bar); }
  });
})();
