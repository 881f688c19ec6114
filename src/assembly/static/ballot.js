// The phone's ballot: a confirmation step, a ballot id made here and kept until the server
// has answered, and retries with that same id, so a bad connection never loses a vote and
// never casts two. Secret votes also get a random 128-bit tracker kept on this phone.
(function () {
  "use strict";

  function randomHex(bytes) {
    var a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function storageKey(vote, nmo) { return "assembly-ballot:" + vote + ":" + nmo; }

  function remember(vote, nmo, marks) {
    // Same marks as the unanswered attempt: same ballot id, so a retry is harmless.
    var key = storageKey(vote, nmo);
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { saved = null; }
    if (saved && JSON.stringify(saved.marks) === JSON.stringify(marks)) { return saved; }
    var fresh = { id: randomHex(16), tracker: randomHex(16), marks: marks };
    try { localStorage.setItem(key, JSON.stringify(fresh)); } catch (e) { /* private mode */ }
    return fresh;
  }

  function status(form, html, cls) {
    var box = form.querySelector(".ballot-status");
    if (!box) {
      box = document.createElement("div");
      box.className = "ballot-status";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "assertive");
      form.appendChild(box);
    }
    box.className = "ballot-status notice " + (cls || "");
    box.textContent = "";
    html.forEach(function (part) {
      if (typeof part === "string") { box.appendChild(document.createTextNode(part)); }
      else { box.appendChild(part); }
    });
    return box;
  }

  function strong(text, cls) {
    var s = document.createElement("strong");
    s.textContent = text;
    if (cls) { s.className = cls; }
    return s;
  }

  function chosen(form) {
    return Array.prototype.map.call(form.querySelectorAll("input[name=choice]:checked"), function (i) {
      return { key: i.value, label: i.parentNode.textContent.trim() };
    });
  }

  function setEnabled(form, enabled) {
    Array.prototype.forEach.call(form.querySelectorAll("input,button"), function (el) { el.disabled = !enabled; });
  }

  function send(form, body, attempt) {
    var vote = form.dataset.vote;
    status(form, [attempt ? "Connection problem: sending again…" : "Sending your vote…"], "");
    fetch("/api/votes/" + vote + "/ballots", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.status >= 500) { throw new Error("server " + response.status); }
      return response.json().then(function (data) { return { ok: response.ok, code: response.status, data: data }; });
    }).then(function (r) {
      if (r.code === 401) {
        setEnabled(form, false);
        status(form, ["You are logged out (your card may have been replaced). Open your new login link."], "error");
        return;
      }
      if (!r.ok && !r.data.ballots) {
        setEnabled(form, true);
        status(form, [r.data.message || "The vote was refused."], "error");
        return;
      }
      var parts = [];
      r.data.ballots.forEach(function (b) {
        try { if (b.status !== "refused") { localStorage.removeItem(storageKey(vote, b.nmo_id)); } } catch (e) { /* ignore */ }
        if (b.status === "refused") { parts.push(b.message + " "); }
        else {
          parts.push("Your vote for " + b.nmo_code + " is recorded. Receipt ");
          parts.push(strong(b.receipt, "receipt"));
          parts.push(". ");
        }
      });
      if (form.dataset.secret === "true" && body.ballots[0].tracker) {
        parts.push("Your tracker, to find your ballot in the published list: ");
        parts.push(strong(body.ballots.map(function (b) { return b.tracker; }).join(", "), "tracker"));
      }
      status(form, parts, r.ok ? "ok" : "error");
      form.querySelectorAll("fieldset, button[type=submit]").forEach(function (el) { el.hidden = r.ok; });
      if (r.ok) { form.classList.add("cast"); }
      else { setEnabled(form, true); }
    }).catch(function () {
      // Network down or the server restarting: same ballot ids, growing pauses.
      var wait = Math.min(1000 * Math.pow(2, attempt || 0), 15000);
      setTimeout(function () { send(form, body, (attempt || 0) + 1); }, wait);
    });
  }

  function confirmStep(form, marks) {
    var nmos = form.dataset.nmo.split(",");
    var labels = marks.map(function (m) { return m.label; }).join(", ");
    var box = status(form, ["You are voting ", strong(labels || "blank"), nmos.length > 1 ? " for " + nmos.length + " NMOs." : ". "], "");
    var yes = document.createElement("button");
    yes.type = "button"; yes.className = "primary big-button"; yes.textContent = "Confirm my vote";
    var no = document.createElement("button");
    no.type = "button"; no.className = "big-button"; no.textContent = "Change";
    box.appendChild(document.createElement("br"));
    box.appendChild(yes); box.appendChild(no);
    setEnabled(form, false); yes.disabled = false; no.disabled = false;
    yes.focus();
    no.addEventListener("click", function () { box.remove(); setEnabled(form, true); });
    yes.addEventListener("click", function () {
      var keys = marks.map(function (m) { return m.key; });
      var ballots = nmos.map(function (nmo) {
        var saved = remember(form.dataset.vote, nmo, keys);
        var b = { nmo_id: parseInt(nmo, 10), ballot_id: saved.id };
        if (form.dataset.kind === "election") { b.marks = keys; } else { b.choice = keys[0]; }
        if (form.dataset.secret === "true") { b.tracker = saved.tracker; }
        return b;
      });
      send(form, { ballots: ballots }, 0);
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("ballot-form")) { return; }
    event.preventDefault();
    var marks = chosen(form);
    var seats = parseInt(form.dataset.seats || "1", 10);
    if (!marks.length && form.dataset.kind !== "election") {
      status(form, ["Choose an option first."], "error");
      return;
    }
    if (form.dataset.kind === "election" && marks.length > seats) {
      status(form, ["You marked " + marks.length + " candidates but this election allows at most " + seats + "."], "error");
      return;
    }
    confirmStep(form, marks);
  });
})();
