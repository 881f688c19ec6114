// Live screens: a banner while the WebSocket (or a poll) is down, a catch-up from the server
// whenever the socket (re)opens, the rules that keep each screen on the vote it should show,
// a ticking countdown, and the few behaviours the pages need without inline scripts (the CSP
// forbids them).
(function () {
  "use strict";
  var leaving = false;
  var timer = null;

  // Reconnect within seconds, not the extension's default of up to a minute: a phone on
  // bad Wi-Fi retries every 0.5 s at first, never waits more than 5 s (with jitter, so a
  // room of phones does not reconnect in one burst after a server restart).
  htmx.config.wsReconnectDelay = function (retryCount) {
    var ceiling = Math.min(500 * Math.pow(2, retryCount), 5000);
    return ceiling / 2 + Math.random() * ceiling / 2;
  };

  function resync() {
    // Elements listening for this fetch the server's current state again (the quorum, the
    // delegate's vote and ballot, the chair's list, the projector's vote).
    htmx.trigger(document.body, "assembly:resync");
  }

  function showLost() {
    if (leaving || timer) return;
    // A short grace period: a page being left or a quick reconnect shows no banner.
    timer = setTimeout(function () {
      timer = null;
      if (document.body.classList.contains("ws-lost")) return;
      document.body.classList.add("ws-lost");
      // A banner that only becomes visible is not read out: say it in the alert region.
      var banner = document.getElementById("conn-lost");
      var alert = document.getElementById("live-alert");
      if (banner && alert) alert.textContent = banner.textContent.replace(/\s+/g, " ").trim();
    }, 1500);
  }

  function back() {
    if (timer) { clearTimeout(timer); timer = null; }
    var alert = document.getElementById("live-alert");
    if (alert && document.body.classList.contains("ws-lost")) alert.textContent = "";
    document.body.classList.remove("ws-lost");
  }

  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("beforeunload", function () { leaving = true; });
  document.addEventListener("htmx:wsClose", showLost);
  document.addEventListener("htmx:wsError", showLost);
  // Every time the socket opens (the first time too: something may have changed between the
  // page's own requests and the subscription), catch up from the server. Messages sent while
  // the socket was down are lost, however short the gap; a screen never depends on them.
  document.addEventListener("htmx:wsOpen", function () { back(); resync(); });

  // Screens that poll instead (the public projector) use the same banner.
  document.addEventListener("htmx:sendError", function (e) {
    if (e.target && e.target.hasAttribute && e.target.hasAttribute("data-poll")) showLost();
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-poll") && e.detail.successful) back();
  });

  // Every screen of the assembly gets every message; drop the parts a page has no place for
  // (the chair has no ballot, a phone no vote panel) rather than have htmx log an error for
  // each. Pages opt in with hx-ext="assembly-live" around their socket.
  htmx.defineExtension("assembly-live", {
    transformResponse: function (text, xhr) {
      if (xhr) return text;  // an answer to this page's own request: meant for it
      var holder = document.createElement("template");
      holder.innerHTML = text;
      var dropped = false;
      Array.prototype.slice.call(holder.content.children).forEach(function (child) {
        if (child.id && !document.getElementById(child.id)) { child.remove(); dropped = true; }
      });
      return dropped ? holder.innerHTML : text;
    }
  });

  // --- newest state wins -----------------------------------------------------------------
  // Every live fragment says when its data was read (data-as-of). A catch-up fetch that read
  // the database just before a change can arrive after that change's push: keep the newer.
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var d = e.detail || {};
    var f = d.fragment;
    var incoming = f && (f.nodeType === 11 ? f.firstElementChild : f);
    var target = d.target;
    if (!incoming || !target || !incoming.getAttribute || !target.getAttribute) return;
    var fresh = parseInt(incoming.getAttribute("data-as-of") || "0", 10);
    var shown = parseInt(target.getAttribute("data-as-of") || "0", 10);
    if (fresh && shown && fresh < shown) d.shouldSwap = false;
  });
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    // innerHTML swaps keep the target element: carry the time over to it (only once the
    // swap has really happened, whichever rule decided it).
    var d = e.detail || {};
    var f = d.fragment;
    var incoming = f && (f.nodeType === 11 ? f.firstElementChild : f);
    var fresh = incoming && incoming.getAttribute && incoming.getAttribute("data-as-of");
    if (fresh && d.target && d.target.isConnected) d.target.setAttribute("data-as-of", fresh);
  });

  // --- which vote a screen shows ------------------------------------------------------------
  // Every vote change is pushed to the whole assembly, including changes to votes a screen
  // should not switch to (the chair shows an old result on the projector while a vote is
  // open). Pushed fragments carry data-vote-id / data-state; these rules decide. What a page
  // fetches itself is the server's answer for that screen and is always swapped in.
  var inSocket = false;
  document.addEventListener("htmx:wsBeforeMessage", function () { inSocket = true; });
  document.addEventListener("htmx:wsAfterMessage", function (e) {
    inSocket = false;
    var message = (e.detail && e.detail.message) || "";
    if (typeof message === "string" && /id="vote-(panel|banner)"/.test(message)) {
      htmx.trigger(document.body, "assembly:vote");
    }
    syncVoteState();
  });

  function voteId(el) { return (el && el.getAttribute("data-vote-id")) || ""; }
  function voteState(el) { return (el && el.getAttribute("data-state")) || ""; }

  function accept(target, incoming) {
    var current = voteId(target);
    var next = voteId(incoming);
    if (target.id === "my-ballot") {
      // A ballot is pushed when a vote opens; for the vote already shown it would only wipe
      // the receipts of ballots cast since (a re-announcement carries none).
      return current !== next || target.hasAttribute("data-placeholder");
    }
    if (target.id === "vote-panel" && target.closest(".projector-screen")) {
      // The projector asks the server which vote the room should see (on the projector, else
      // the open one): assembly:vote makes it fetch /projector/ID/vote.
      return false;
    }
    // The chair's panel and the phones' banner: follow the vote shown, or a vote that opens.
    return next !== "" && (next === current || voteState(incoming) === "open" || (current === "" && target.id === "vote-panel"));
  }

  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    var fragment = e.detail && e.detail.fragment;
    var incoming = fragment && fragment.firstElementChild;
    if (!target || !incoming) return;
    if (incoming.isEqualNode && target.isEqualNode && incoming.isEqualNode(target)) {
      e.detail.shouldSwap = false;  // a poll that brings nothing new: no flicker, no re-announcement
      return;
    }
    if (!inSocket) return;
    if (target.id === "vote-panel" || target.id === "vote-banner" || target.id === "my-ballot") {
      if (!accept(target, incoming)) e.detail.shouldSwap = false;
    }
  });

  // Keep a phone's ballot in step with its banner: a new vote clears the old ballot until
  // this phone's own arrives (or the server says there is none); a closed vote takes the
  // remaining ballot forms away.
  var placeholderTimer = null;
  function syncVoteState() {
    var banner = document.getElementById("vote-banner");
    var ballot = document.getElementById("my-ballot");
    if (!banner || !ballot) return;
    var id = voteId(banner);
    var state = voteState(banner);
    if (!id) return;
    if (state === "open" && voteId(ballot) !== id) {
      ballot.setAttribute("data-vote-id", id);
      ballot.setAttribute("data-state", "open");
      ballot.setAttribute("data-placeholder", "");
      ballot.textContent = "";
      var p = document.createElement("p");
      p.className = "muted";
      // The words come translated from the page (fragments/live.html): scripts cannot call gettext.
      var wording = document.getElementById("live-words");
      p.textContent = (wording && wording.getAttribute("data-waiting")) || "Waiting for your ballot…";
      ballot.appendChild(p);
      // Most phones hold no vote, so no ballot will come: ask the server (spread out, so a
      // room of phones does not ask at the same instant).
      if (placeholderTimer) clearTimeout(placeholderTimer);
      placeholderTimer = setTimeout(function () {
        placeholderTimer = null;
        var now = document.getElementById("my-ballot");
        if (now && now.hasAttribute("data-placeholder") && voteId(now) === id) {
          htmx.trigger(document.body, "assembly:ballots");
        }
      }, 2000 + Math.random() * 4000);
    } else if (state !== "open" && voteId(ballot) === id && voteState(ballot) === "open") {
      ballot.setAttribute("data-state", state);
      if (ballot.hasAttribute("data-placeholder")) ballot.textContent = "";
    }
  }
  document.addEventListener("htmx:afterSettle", syncVoteState);

  // --- countdown --------------------------------------------------------------------------
  function tick() {
    var now = Date.now();
    Array.prototype.forEach.call(document.querySelectorAll(".countdown[data-ends]"), function (el) {
      var ends = Date.parse(el.getAttribute("data-ends"));
      if (isNaN(ends)) return;
      var left = Math.max(0, Math.round((ends - now) / 1000));
      // The sentences come translated with the countdown (fragments/vote_words.html).
      var text = left > 0
        ? (el.getAttribute("data-closes-in") || "Voting closes in {time}").replace("{time}", Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2))
        : (el.getAttribute("data-time-up") || "Time is up");
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("ending", left <= 10);
      // A timer announced every second would drown a screen reader: only the last 10 s.
      el.setAttribute("aria-live", left <= 10 && left > 0 ? "polite" : "off");
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("DOMContentLoaded", tick);

  // --- what screen readers hear -------------------------------------------------------------
  // A pushed fragment replaces its whole region, and screen readers do not reliably read a
  // live region that is itself new. So after every swap the few words that say what changed
  // (the vote's state, question and verdict, the agenda item, the speaker) are copied into
  // regions that stay (fragments/live.html): #live-announce, polite; a point of order is an
  // alert (#live-alert, assertive) on the chair screen only. What a region first shows (the
  // page's own fetch fills the empty slot it loads with) is not news. Turnout and quorum
  // change inside regions that stay and announce themselves.
  var ANNOUNCED = {
    "vote-banner": ".kicker, .question, .verdict",
    "vote-panel": ".state-badge, .question, .verdict",
    "current-item": ".current-item-label, .current-item-title",
    "floor": ".floor-speaker"
  };
  var said = {};

  function words(root, selector) {
    return Array.prototype.map.call(root.querySelectorAll(selector), function (el) {
      return el.textContent.replace(/\s+/g, " ").trim();
    }).filter(Boolean).join(". ");
  }

  function say(key, text, regionId) {
    if (said[key] === text) return;
    var news = key in said;
    said[key] = text;
    var region = document.getElementById(regionId);
    if (!news || !text || !region) return;
    region.textContent = "";
    // Emptied first and filled a moment later, so the same words said again are read again.
    setTimeout(function () { region.textContent = text; }, 100);
  }

  function announce() {
    // A slot that no fragment has filled yet has no data-as-of.
    Object.keys(ANNOUNCED).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.hasAttribute("data-as-of")) say(id, words(el, ANNOUNCED[id]), "live-announce");
    });
    var floor = document.getElementById("floor");
    if (floor && floor.hasAttribute("data-as-of")) {
      var chair = document.body.classList.contains("staff");
      say("point-of-order", words(floor, ".floor-point"), chair ? "live-alert" : "live-announce");
    }
  }
  document.addEventListener("htmx:afterSettle", announce);
  document.addEventListener("htmx:wsAfterMessage", announce);
  document.addEventListener("DOMContentLoaded", announce);

  // --- keeping the keyboard's place -----------------------------------------------------------
  // An action that replaces the part of the page holding its own button (opening a vote: the
  // list comes back with "Close the vote" where "Open the vote" was) would drop the focus to
  // the top of the page. If its answer leaves the focus nowhere, put it back in the same part
  // (the nearest ancestor with an id still there): on its first primary button, else on the
  // first thing that takes the focus.
  var FOCUSABLE = "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
  var focusWas = null;
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = document.activeElement;
    var trail = [];
    for (; el && el !== document.body; el = el.parentElement) { if (el.id) trail.push(el.id); }
    focusWas = trail.length ? { xhr: e.detail && e.detail.xhr, trail: trail } : null;
  });
  document.addEventListener("htmx:afterSettle", function (e) {
    if (!focusWas || !e.detail || e.detail.xhr !== focusWas.xhr) return;
    var trail = focusWas.trail;
    focusWas = null;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    for (var i = 0; i < trail.length; i++) {
      var place = document.getElementById(trail[i]);
      if (!place) continue;
      var target = place.matches(FOCUSABLE) ? place
        : place.querySelector("button.primary:not([disabled])") || place.querySelector(FOCUSABLE);
      if (target) target.focus();
      return;
    }
  });

  // --- small behaviours ---------------------------------------------------------------------
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
