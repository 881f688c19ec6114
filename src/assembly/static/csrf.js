// Every htmx request that changes something carries the page's CSRF token (see
// assembly.security), read from <meta name="csrf-token"> in base.html: a page on another
// site can send a form here but cannot read the token, so the server refuses its request.
(function () {
  "use strict";

  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb === "get") { return; }
    var meta = document.querySelector("meta[name=csrf-token]");
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.getAttribute("content"); }
  });
})();
