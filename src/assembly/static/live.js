// Live screens: a banner while the WebSocket (or a poll) is down, a catch-up when it is back,
// and the few behaviours the pages need without inline scripts (the CSP forbids them).
(function () {
  "use strict";
  var lost = false;
  var leaving = false;
  var timer = null;

  function showLost() {
    if (leaving || timer) return;
    // A short grace period: a page being left or a quick reconnect shows no banner.
    timer = setTimeout(function () {
      timer = null;
      lost = true;
      document.body.classList.add("ws-lost");
    }, 1500);
  }

  function back() {
    if (timer) { clearTimeout(timer); timer = null; }
    document.body.classList.remove("ws-lost");
    if (lost) {
      lost = false;
      // Elements listening for this fetch the current state again (e.g. the quorum).
      htmx.trigger(document.body, "assembly:resync");
    }
  }

  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("beforeunload", function () { leaving = true; });
  document.addEventListener("htmx:wsClose", showLost);
  document.addEventListener("htmx:wsError", showLost);
  document.addEventListener("htmx:wsOpen", back);

  // Screens that poll instead (the public projector) use the same banner.
  document.addEventListener("htmx:sendError", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-poll")) showLost();
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll") && e.detail.successful) back();
  });

  // Forms marked data-reset (the desk's scan form) are cleared and focused for the next card.
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail && e.detail.elt;
    if (form && form.matches && form.matches("form[data-reset]")) {
      form.reset();
      var field = form.querySelector("[autofocus]") || form.querySelector("input:not([type=hidden])");
      if (field) field.focus();
    }
  });

  // The cards page's print button.
  document.addEventListener("click", function (e) {
    var target = e.target && e.target.closest && e.target.closest("[data-print]");
    if (target) { e.preventDefault(); window.print(); }
  });
})();
