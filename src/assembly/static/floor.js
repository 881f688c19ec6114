// The speaker's countdown on the chair screen, the projector and the phones. The server sends
// the seconds left when it rendered the list (data-remaining); the page counts down from the
// moment the fragment arrived, so a phone whose clock is wrong still shows the right time.
(function () {
  "use strict";

  function show(clock) {
    if (!clock.hasAttribute("data-base")) clock.setAttribute("data-base", String(Date.now()));
    var base = parseInt(clock.getAttribute("data-base"), 10);
    var left = parseInt(clock.getAttribute("data-remaining"), 10) -
      Math.floor((Date.now() - base) / 1000);
    // The time to object stops at zero (the server then says what happened); a speaker's
    // time runs on below zero, shown in red.
    if (clock.classList.contains("floor-nemo-clock")) left = Math.max(0, left);
    var abs = Math.abs(left);
    var text = (left < 0 ? "-" : "") + Math.floor(abs / 60) + ":" + String(abs % 60).padStart(2, "0");
    var value = clock.querySelector(".floor-clock-value");
    if (value && value.textContent !== text) value.textContent = text;
    clock.classList.toggle("over", left < 0);
  }

  // A phone's own buttons belong to one item: when the list shown is another item's (the
  // chair moved on), fetch them again, once per item.
  function followItem() {
    var shown = document.getElementById("floor");
    var mine = document.getElementById("my-floor");
    if (!shown || !mine || !window.htmx) return;
    var item = shown.getAttribute("data-item-id");
    if (item === null || mine.getAttribute("data-item-id") === item) return;
    if (mine.getAttribute("data-asked") === item) return;
    mine.setAttribute("data-asked", item);
    window.htmx.trigger(document.body, "assembly:floor-item");
  }

  setInterval(function () {
    document.querySelectorAll(".floor-clock[data-remaining]").forEach(show);
    followItem();
  }, 250);
})();
