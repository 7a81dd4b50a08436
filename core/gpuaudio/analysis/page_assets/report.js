/* gpuaudio report page: click-to-listen segments, n/p keys, a cursor that follows playback. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var audio = document.getElementById("player");
  var svg = document.getElementById("tracks");
  var cursor = document.getElementById("cursor");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.play-segment"));
  var current = -1;

  function mark(index) {
    current = index;
    Array.prototype.forEach.call(document.querySelectorAll("[data-segment]"), function (el) {
      var on = Number(el.getAttribute("data-segment")) === index;
      if (el.tagName !== "BUTTON") { el.classList.toggle("current", on); }
    });
  }

  function play(index) {
    var segment = data.segments[index];
    if (!segment) { return; }
    mark(index);
    if (!audio) { return; }
    audio.currentTime = Math.max(0, segment.start_s - data.lead_in_s);
    var started = audio.play();
    // Playback may be refused (no audio device, autoplay policy); the position is set anyway.
    if (started && started.catch) { started.catch(function () {}); }
  }

  // A click anywhere on a segment's table row, its button included (Enter and Space too).
  Array.prototype.forEach.call(document.querySelectorAll("tr[data-segment]"), function (row) {
    row.addEventListener("click", function () { play(Number(row.getAttribute("data-segment"))); });
  });

  function timeAt(event) {
    var point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    var local = point.matrixTransform(svg.getScreenCTM().inverse());
    return (local.x - data.plot.x0) / data.plot.width * data.duration_s;
  }

  svg.addEventListener("click", function (event) {
    var hit = event.target.closest("[data-segment]");
    if (hit) {
      play(Number(hit.getAttribute("data-segment")));
      return;
    }
    var time = timeAt(event);
    if (audio && time >= 0 && time <= data.duration_s) { audio.currentTime = time; }
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || !data.segments.length) { return; }
    var tag = event.target && event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") { return; }
    var step = event.key === "n" ? 1 : (event.key === "p" ? -1 : 0);
    if (!step) { return; }
    event.preventDefault();
    var last = data.segments.length - 1;
    var next = current < 0 ? (step > 0 ? 0 : last) : Math.min(last, Math.max(0, current + step));
    buttons[next].focus();
    play(next);
  });

  function follow() {
    var time = audio.currentTime;
    var fraction = Math.min(1, Math.max(0, time / data.duration_s));
    var x = (data.plot.x0 + fraction * data.plot.width).toFixed(1);
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
    cursor.setAttribute("visibility", "visible");
    data.segments.forEach(function (segment, index) {
      if (time >= segment.start_s && time < segment.end_s && index !== current) { mark(index); }
    });
  }

  if (audio) {
    audio.addEventListener("timeupdate", follow);
    audio.addEventListener("seeked", follow);
  }
}());
