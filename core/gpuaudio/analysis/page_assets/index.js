/* gpuaudio archive index: sort by any column (click its heading), filter by text and status. */
(function () {
  "use strict";
  var table = document.getElementById("recordings");
  var body = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("filter");
  var status = document.getElementById("status-filter");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(body.rows);

  function key(row, column, numeric) {
    var value = row.cells[column].getAttribute("data-sort");
    if (!numeric) { return value.toLowerCase(); }
    return value === "" ? NaN : Number(value);
  }

  function sortBy(column) {
    var header = headers[column];
    var numeric = header.getAttribute("data-kind") === "number";
    var descending = header.getAttribute("aria-sort") === "ascending";
    headers.forEach(function (each) { each.setAttribute("aria-sort", "none"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var sign = descending ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a, column, numeric);
      var y = key(b, column, numeric);
      if (numeric) {
        if (isNaN(x) || isNaN(y)) { return isNaN(x) - isNaN(y); } // empty cells last
        return sign * (x - y);
      }
      return sign * (x < y ? -1 : (x > y ? 1 : 0));
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function applyFilter() {
    var text = filter.value.trim().toLowerCase();
    var wanted = status.value;
    var count = 0;
    rows.forEach(function (row) {
      var visible = (!text || row.textContent.toLowerCase().indexOf(text) !== -1) &&
        (!wanted || row.getAttribute("data-status") === wanted);
      row.hidden = !visible;
      if (visible) { count += 1; }
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }

  headers.forEach(function (header, column) {
    header.querySelector("button").addEventListener("click", function () { sortBy(column); });
  });
  filter.addEventListener("input", applyFilter);
  status.addEventListener("change", applyFilter);
  applyFilter();
}());
