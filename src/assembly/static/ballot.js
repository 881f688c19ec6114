// The phone's ballot: a confirmation step, a ballot id made here and kept until the server
// has answered, and retries with that same id, so a bad connection never loses a vote and
// never casts two. Secret votes also get a random 128-bit tracker kept on this phone.
// The forms (fragments/my_ballot.html) also post without JavaScript; this takes them over.
(function () {
  "use strict";

  var inflight = {};  // "vote:nmo" -> true while a ballot for that right is being sent

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function load(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function save(key, value) {
    try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }
  function drop(key) {
    try { localStorage.removeItem(key); } catch (e) { /* private mode */ }
  }

  function pendingKey(vote, nmo) { return "assembly-ballot:" + vote + ":" + nmo; }
  function trackerKey(vote, nmo) { return "assembly-tracker:" + vote + ":" + nmo; }

  function remember(vote, nmo, marks) {
    // Same marks as an unanswered attempt: same ballot id, so a retry (even after a reload)
    // is harmless and returns the receipt of the ballot already recorded.
    var saved = load(pendingKey(vote, nmo));
    if (saved && JSON.stringify(saved.marks) === JSON.stringify(marks)) { return saved; }
    var fresh = { id: randomHex(16), tracker: randomHex(16), marks: marks };
    save(pendingKey(vote, nmo), fresh);
    return fresh;
  }

  // What the phone says, in the delegate's language: the page renders the sentences
  // translated (delegate/_ballot_words.html, one data-* attribute each, "{name}" where a value
  // goes); English stays here for a page without them.
  function say(name, english, values) {
    var words = document.getElementById("ballot-words");
    var text = (words && words.getAttribute("data-" + name)) || english;
    Object.keys(values || {}).forEach(function (key) { text = text.split("{" + key + "}").join(String(values[key])); });
    return text;
  }

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    if (cls) { node.className = cls; }
    return node;
  }

  // The form may have been replaced (a reconnect fetched the ballot again): find it by id.
  function current(form) { return (form.id && document.getElementById(form.id)) || form; }

  function status(form, parts, cls) {
    form = current(form);
    var box = form.querySelector(".ballot-status");
    if (!box) {
      box = el("div", "", "");
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "assertive");
      form.appendChild(box);
    }
    box.className = "ballot-status notice " + (cls || "");
    box.textContent = "";
    parts.forEach(function (part) {
      box.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    return box;
  }

  function setEnabled(form, enabled) {
    form = current(form);
    Array.prototype.forEach.call(form.querySelectorAll("input,button,select"), function (x) { x.disabled = !enabled; });
  }

  function nmosOf(form) { return form.dataset.nmo.split(","); }
  function codesOf(form) { return (form.dataset.codes || "").split(","); }

  // The options marked, in order: ranks (1, 2, ...) for ranked methods, else as checked.
  // Returns {marks: [{key, label}], error: "..."}.
  function marked(form) {
    if (form.dataset.ranked === "true") {
      var byRank = {};
      var error = "";
      Array.prototype.forEach.call(form.querySelectorAll("select[data-key]"), function (s) {
        if (!s.value) { return; }
        var label = s.closest("label").querySelector(".rank-name").textContent.trim();
        if (byRank[s.value]) {
          error = say("rank-twice", "You gave rank {rank} to both {first} and {second}: give each rank once.",
                      { rank: s.value, first: byRank[s.value].label, second: label });
        }
        byRank[s.value] = { key: s.dataset.key, label: label };
      });
      var ranks = Object.keys(byRank).map(Number).sort(function (a, b) { return a - b; });
      return { marks: ranks.map(function (r) { return byRank[r]; }), error: error };
    }
    var marks = Array.prototype.map.call(form.querySelectorAll("input[name=choice]:checked"), function (i) {
      return { key: i.value, label: i.parentNode.textContent.trim() };
    });
    var max = parseInt(form.dataset.max || "1", 10);
    if (form.dataset.kind === "election" && marks.length > max) {
      return { marks: marks, error: say("too-many", "You marked {count} candidates but this election allows at most {max}.", { count: marks.length, max: max }) };
    }
    if (form.dataset.kind !== "election" && marks.length !== 1) {
      return { marks: marks, error: say("choose-one", "Choose one option first.") };
    }
    return { marks: marks, error: "" };
  }

  function describe(form, marks) {
    if (!marks.length) { return say("blank", "a blank ballot"); }
    if (form.dataset.ranked === "true") {
      return marks.map(function (m, i) { return (i + 1) + ". " + m.label; }).join(", ");
    }
    return marks.map(function (m) { return m.label; }).join(", ");
  }

  // A right whose ballot is recorded: its card shows the receipt (and the tracker, kept only
  // on this phone) instead of its form; the "all the same" form no longer includes it.
  function recorded(vote, ballot, tracker) {
    if (tracker) { save(trackerKey(vote, ballot.nmo_id), tracker); }
    var card = document.getElementById("ballot-" + vote + "-" + ballot.nmo_id);
    if (card && !card.classList.contains("recorded")) {
      card.classList.add("recorded");
      Array.prototype.forEach.call(card.querySelectorAll("form"), function (f) { f.remove(); });
      var note = el("p", "", "notice ok recorded-note");
      note.setAttribute("role", "status");
      note.appendChild(document.createTextNode("✓ " + say("recorded", "Your vote for {code} is recorded.", { code: ballot.nmo_code }) + " "));
      var receipt = el("span", say("receipt", "Receipt") + " ", "nowrap");
      receipt.appendChild(el("strong", ballot.receipt, "receipt"));
      note.appendChild(receipt);
      card.appendChild(note);
      if (tracker) {
        var slot = el("p", "", "tracker-slot hint");
        slot.setAttribute("data-tracker-for", vote + ":" + ballot.nmo_id);
        card.appendChild(slot);
      }
    }
    Array.prototype.forEach.call(document.querySelectorAll("form.ballot-all[data-vote='" + vote + "']"), function (all) {
      var nmos = nmosOf(all);
      var codes = codesOf(all);
      var at = nmos.indexOf(String(ballot.nmo_id));
      if (at < 0) { return; }
      nmos.splice(at, 1); codes.splice(at, 1);
      if (nmos.length < 2) { all.closest(".all-same").remove(); return; }
      all.dataset.nmo = nmos.join(","); all.dataset.codes = codes.join(",");
      var hidden = all.querySelector("input[name=nmo][value='" + ballot.nmo_id + "']");
      if (hidden) { hidden.remove(); }
    });
    showTrackers();
  }

  // Trackers of secret ballots live only on this phone: show them next to the receipts.
  function showTrackers() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-tracker-for]"), function (slot) {
      var parts = slot.getAttribute("data-tracker-for").split(":");
      var tracker = load(trackerKey(parts[0], parts[1]));
      if (!tracker) { return; }
      slot.textContent = say("tracker", "Your tracker, to find your ballot in the published list:") + " ";
      slot.appendChild(el("strong", tracker, "tracker"));
      slot.hidden = false;
    });
  }

  // The page's CSRF token (base.html): the server refuses a POST without it.
  function csrfToken() {
    var meta = document.querySelector("meta[name=csrf-token]");
    return meta ? meta.getAttribute("content") : "";
  }

  // A page can outlive its token (the browser dropped its cookies on a restart, the server got
  // a new key): load the page again for the token the server now expects.
  function renewToken() {
    return fetch(location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("meta[name=csrf-token]");
        var meta = document.querySelector("meta[name=csrf-token]");
        if (fresh && meta) { meta.setAttribute("content", fresh.getAttribute("content")); }
      });
  }

  function send(form, body, attempt, renewed) {
    var vote = form.dataset.vote;
    var keys = body.ballots.map(function (b) { return vote + ":" + b.nmo_id; });
    keys.forEach(function (k) { inflight[k] = true; });
    var done = function () { keys.forEach(function (k) { delete inflight[k]; }); };
    status(form, [attempt ? say("resending", "Connection problem: sending again…") : say("sending", "Sending your vote…")], "sending");
    fetch("/api/votes/" + vote + "/ballots", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.status >= 500) { throw new Error("server " + response.status); }
      return response.json().then(function (data) { return { ok: response.ok, code: response.status, data: data }; });
    }).then(function (r) {
      done();
      if (r.code === 403 && r.data.error === "csrf_failed" && !renewed) {
        // Nothing was recorded: the same ballot ids again, once, with a fresh token.
        var again = function () { send(form, body, attempt, true); };
        renewToken().then(again, again);
        return;
      }
      if (r.code === 401) {
        setEnabled(form, false);
        status(form, [say("logged-out", "You are logged out (your card may have been replaced). Open your new login link.")], "error");
        return;
      }
      if (!r.data.ballots) {
        // Refused as a whole (not entitled, vote closed, invalid): nothing was recorded.
        body.ballots.forEach(function (b) { drop(pendingKey(vote, b.nmo_id)); });
        setEnabled(form, true);
        status(form, [r.data.message || say("refused", "The vote was refused.")], "error");
        return;
      }
      var refused = [];
      r.data.ballots.forEach(function (b) {
        drop(pendingKey(vote, b.nmo_id));
        if (b.status === "refused") { refused.push(b.message); return; }
        var sent = body.ballots.filter(function (x) { return x.nmo_id === b.nmo_id; })[0];
        recorded(vote, b, sent && sent.tracker);
      });
      if (refused.length) {
        var f = current(form);
        if (document.body.contains(f)) {
          setEnabled(f, true);
          status(f, [refused.join(" ")], "error");
        }
        // The server knows what was recorded for these rights: show it.
        htmx.trigger(document.body, "assembly:ballots");
      }
    }).catch(function () {
      // Network down or the server restarting: same ballot ids, growing pauses.
      var wait = Math.min(1000 * Math.pow(2, attempt || 0), 15000);
      keys.forEach(function (k) { inflight[k] = true; });
      setTimeout(function () { send(form, body, (attempt || 0) + 1); }, wait);
    });
  }

  function confirmStep(form, marks) {
    var nmos = nmosOf(form);
    var codes = codesOf(form);
    // "You are voting {choice} for {codes}.": the choice in bold, wherever the language puts it.
    var sentence = say("voting", "You are voting {choice} for {codes}.").split("{choice}");
    var who = codes.join(", ") || say("nmos", "{count} NMOs", { count: nmos.length });
    var box = status(form, [
      sentence[0].split("{codes}").join(who), el("strong", describe(form, marks)),
      sentence.slice(1).join("").split("{codes}").join(who)
    ], "confirm");
    var actions = el("div", "", "row confirm-actions");
    var yes = el("button", say("confirm", "Confirm my vote"), "primary big-button");
    yes.type = "button";
    var no = el("button", say("change", "Change"), "big-button");
    no.type = "button";
    actions.appendChild(yes); actions.appendChild(no);
    box.appendChild(actions);
    setEnabled(form, false);
    form.classList.add("confirming");
    yes.disabled = false; no.disabled = false;
    yes.focus();
    var change = function () { box.remove(); form.classList.remove("confirming"); setEnabled(form, true); var first = form.querySelector("input:not([type=hidden]),select"); if (first) { first.focus(); } };
    no.addEventListener("click", change);
    box.addEventListener("keydown", function (e) { if (e.key === "Escape") { change(); } });
    yes.addEventListener("click", function () {
      var keys = marks.map(function (m) { return m.key; });
      var ballots = nmos.map(function (nmo) {
        var saved = remember(form.dataset.vote, nmo, keys);
        var b = { nmo_id: parseInt(nmo, 10), ballot_id: saved.id };
        if (form.dataset.kind === "election") { b.marks = keys; } else { b.choice = keys[0]; }
        if (form.dataset.secret === "true") { b.tracker = saved.tracker; }
        return b;
      });
      actions.remove();
      send(form, { ballots: ballots }, 0);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("ballot-form")) { return; }
    event.preventDefault();
    var nmos = nmosOf(form);
    var vote = form.dataset.vote;
    if (nmos.some(function (n) { return inflight[vote + ":" + n]; })) { return; }
    var result = marked(form);
    if (result.error) {
      status(form, [result.error], "error");
      return;
    }
    confirmStep(form, result.marks);
  });

  // Block votes: say how many are marked, and refuse a mark beyond the number of seats.
  document.addEventListener("change", function (event) {
    var input = event.target;
    var form = input && input.closest && input.closest("form.ballot-form");
    if (!form || input.name !== "choice" || input.type !== "checkbox") { return; }
    var max = parseInt(form.dataset.max || "1", 10);
    var count = form.querySelectorAll("input[name=choice]:checked").length;
    if (count > max) {
      input.checked = false;
      count -= 1;
      status(form, [say("at-most", "At most {max} candidates: unmark one first.", { max: max })], "error");
    }
    var counter = form.querySelector(".marks-count");
    if (counter) { counter.textContent = say("marked", "{count} of at most {max} marked.", { count: count, max: max }); }
  });

  // --- after the vote: receipts and trackers ----------------------------------------------
  // A vote that closes while the page is open keeps its cards (live.js only marks it closed):
  // fetch the closed view with its receipt links once, spread out so that a room of phones
  // does not ask at the same instant.
  var closedFetched = {};
  function refreshClosed() {
    var ballot = document.getElementById("my-ballot");
    if (!ballot || ballot.getAttribute("data-state") !== "closed") { return; }
    var vote = ballot.getAttribute("data-vote-id");
    if (!vote || closedFetched[vote] || ballot.querySelector(".receipts") || !ballot.querySelector(".ballot-card")) { return; }
    closedFetched[vote] = true;
    setTimeout(function () { htmx.trigger(document.body, "assembly:ballots"); }, 500 + Math.random() * 2500);
  }

  // A secret vote's receipt is a C2SP tlog-proof whose "extra" line carries the logged entry
  // (base64 of its canonical JSON): the (tracker, choice) list. The phone fetches the whole
  // list and looks its own trackers up here, so the server never learns which it looks for.
  // This shows what the server sent; `assembly audit receipt` checks the file's signature.
  var logged = {};  // vote id -> {choices: [...]} or {error: "..."}, once fetched

  function loggedEntry(text) {
    var lines = text.split("\n");
    if (lines[0] !== "c2sp.org/tlog-proof@v1" || !lines[1] || lines[1].indexOf("extra ") !== 0) {
      throw new Error(say("not-receipt", "the file is not a receipt with its log entry"));
    }
    var binary = atob(lines[1].slice(6));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) { bytes[i] = binary.charCodeAt(i); }
    return JSON.parse(new TextDecoder("utf-8").decode(bytes));
  }

  function choiceText(box, choice) {
    var labels = {};
    try { labels = JSON.parse(box.getAttribute("data-labels") || "{}"); } catch (e) { /* keys then */ }
    if (!choice.length) { return say("blank", "a blank ballot"); }
    var names = choice.map(function (key) { return labels[key] || key; });
    if (box.getAttribute("data-ranked") === "true") {
      return names.map(function (name, i) { return (i + 1) + ". " + name; }).join(", ");
    }
    return names.join(", ");
  }

  function trackerFindings(box, vote) {
    var found = logged[vote];
    if (found.error) { return [[found.error, "error"]]; }
    var slots = document.querySelectorAll("[data-tracker-for^='" + vote + ":']");
    return Array.prototype.map.call(slots, function (slot) {
      var code = slot.getAttribute("data-code") || "";
      var tracker = load(trackerKey(vote, slot.getAttribute("data-tracker-for").split(":")[1]));
      if (!tracker) {
        return [say("no-tracker", "This phone keeps no tracker for the ballot of {code} (it was cast from another phone, or this browser's storage was cleared).", { code: code }), "warn-notice"];
      }
      var short = tracker.slice(0, 8) + "…";
      var counted = found.choices.filter(function (c) { return c.tracker === tracker; });
      if (!counted.length) {
        return [say("tracker-missing", "Warning: your tracker {tracker} ({code}) is not in the log of this vote. Tell the secretariat, and keep the downloaded list.", { tracker: short, code: code }), "error"];
      }
      return [say("tracker-found", "Your tracker {tracker} ({code}) is in the log, counted as: {choice}.", { tracker: short, code: code, choice: choiceText(box, counted[0].choice) }), "ok"];
    });
  }

  function showFindings(box) {
    var vote = box.getAttribute("data-tracker-check");
    var results = box.querySelector(".tracker-results");
    if (!results || !logged[vote]) { return; }
    var findings = trackerFindings(box, vote);
    var key = JSON.stringify(findings);
    if (results.getAttribute("data-shown") === key) { return; }  // no re-announcement
    results.setAttribute("data-shown", key);
    results.textContent = "";
    findings.forEach(function (f) { results.appendChild(el("p", f[0], "notice " + f[1])); });
  }

  function checkTrackers() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-tracker-check]"), function (box) {
      var vote = box.getAttribute("data-tracker-check");
      if (logged[vote] === null) { return; }  // being fetched
      if (logged[vote]) { showFindings(box); return; }
      logged[vote] = null;
      fetch(box.getAttribute("data-receipt-url"), { credentials: "same-origin", headers: { "Accept": "text/plain" } })
        .then(function (response) {
          return response.text().then(function (text) {
            if (response.ok) { return text; }
            var message = "";
            try { message = JSON.parse(text).message; } catch (e) { /* not JSON */ }
            throw new Error(message || say("server-answered", "the server answered {status}", { status: response.status }));
          });
        })
        .then(function (text) {
          var entry = loggedEntry(text);
          if (entry.type !== "secret_choices" || String(entry.vote) !== vote) {
            throw new Error(say("not-list", "the file is not the list of this vote"));
          }
          logged[vote] = { choices: entry.choices };
        })
        .catch(function (error) {
          logged[vote] = { error: say("lookup-failed", "Your tracker could not be looked up: {reason} Reload the page to try again.", { reason: error.message.replace(/\.?$/, ".") }) };
        })
        .then(function () {
          Array.prototype.forEach.call(document.querySelectorAll("[data-tracker-check='" + vote + "']"), showFindings);
        });
    });
  }

  // After a reconnect the ballot is fetched again: a ballot still being sent stays "sending"
  // (its answer will show there), and trackers are shown again next to their receipts.
  function afterSwap() {
    Object.keys(inflight).forEach(function (key) {
      var parts = key.split(":");
      var card = document.getElementById("ballot-" + parts[0] + "-" + parts[1]);
      var form = card && card.querySelector("form.ballot-form");
      if (form) {
        setEnabled(form, false);
        status(form, [say("sending", "Sending your vote…")], "sending");
      }
    });
    showTrackers();
    checkTrackers();
    refreshClosed();
  }
  document.addEventListener("htmx:afterSettle", afterSwap);
  document.addEventListener("htmx:wsAfterMessage", afterSwap);
  document.addEventListener("DOMContentLoaded", function () { showTrackers(); checkTrackers(); });
})();
