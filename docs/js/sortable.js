// Click-to-sort for the leaderboard pages' tables (class "sg-sortable", made by
// scripts/gen_leaderboard_pages.py). Each header cell has data-key (a name for links) and data-type
// ("number" or "text"); a cell sorts by its data-value when it has one, else by its text.
// Clicking a header sorts by that column, ascending first; clicking again reverses the order.
// A page opened with ?sort=KEY[&order=asc|desc] clicks that header on load, so a sorted view can be
// linked to (and tested).
(function () {
  "use strict";

  function cellValue(row, index, type) {
    var cell = row.cells[index];
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    if (type === "number") {
      var x = parseFloat(raw);
      return isNaN(x) ? -Infinity : x;
    }
    return raw.toLowerCase();
  }

  function sortBy(table, index, descending) {
    var header = table.tHead.rows[0].cells[index];
    var type = header.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    // Array.prototype.sort is stable, so equal rows keep their current (ranked) order.
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type);
      var y = cellValue(b, index, type);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }

  function makeSortable(table) {
    if (!table.tHead || !table.tBodies.length || table.hasAttribute("data-sortable-ready")) {
      return;
    }
    table.setAttribute("data-sortable-ready", "");
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, index) {
      header.tabIndex = 0;
      header.title = "Sort by " + header.textContent;
      var toggle = function () {
        sortBy(table, index, header.getAttribute("aria-sort") === "ascending");
      };
      header.addEventListener("click", toggle);
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle();
        }
      });
    });
  }

  function applyQuery() {
    var params = new URLSearchParams(window.location.search);
    var key = params.get("sort");
    if (!key) {
      return;
    }
    var wanted = params.get("order") === "desc" ? "descending" : "ascending";
    var tables = document.querySelectorAll("table.sg-sortable");
    for (var i = 0; i < tables.length; i++) {
      var header = tables[i].tHead.querySelector('th[data-key="' + key + '"]');
      if (header) {
        header.click();
        if (header.getAttribute("aria-sort") !== wanted) {
          header.click();
        }
        return;
      }
    }
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("table.sg-sortable"), makeSortable);
    applyQuery();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
