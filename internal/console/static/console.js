// Peak Voice console: a little progressive enhancement. Every page works
// without it; with it, call statuses update live and forms submit once.
(function () {
  "use strict";
  var TERMINAL = ["completed", "no_answer", "busy", "failed", "canceled"];
  var MAX_STREAMS = 20;

  // Forms marked data-once disable their buttons once submitted. The
  // server's idempotency key is what guarantees one action; this just
  // stops accidental double clicks from sending twice.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var ask = form.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { ev.preventDefault(); return; }
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) { ev.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(function () {
      form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
    }, 0);
  });

  function setStatus(id, status) {
    document.querySelectorAll('[data-status-for="' + id + '"]').forEach(function (el) {
      el.textContent = status;
      el.className = "badge s-" + status;
    });
  }

  function addEvent(list, e) {
    if (!list || list.querySelector('[data-seq="' + e.seq + '"]')) return;
    var li = document.createElement("li");
    li.setAttribute("data-seq", e.seq);
    var t = document.createElement("time");
    t.textContent = (e.at || "").replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
    var c = document.createElement("code");
    c.textContent = e.type;
    li.appendChild(t);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(c);
    li.appendChild(document.createTextNode(" " + (e.status || "")));
    list.appendChild(li);
  }

  // refreshResult swaps in the result section from a fresh copy of the page.
  function refreshResult() {
    fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (!html) return;
      var doc = new DOMParser().parseFromString(html, "text/html");
      ["#result", "dl.facts"].forEach(function (sel) {
        var fresh = doc.querySelector(sel), old = document.querySelector(sel);
        if (fresh && old) old.replaceWith(fresh);
      });
    });
  }

  var followed = {};

  function follow(el) {
    var id = el.getAttribute("data-live-call");
    if (followed[id]) return;
    followed[id] = true;
    var detail = el.hasAttribute("data-detail");
    var timeline = detail ? document.getElementById("timeline") : null;
    var ended = false;
    var es = new EventSource("/console/calls/" + encodeURIComponent(id) + "/events");
    es.addEventListener("call.status", function (m) {
      var e = JSON.parse(m.data);
      setStatus(id, e.status);
      addEvent(timeline, e);
      if (TERMINAL.indexOf(e.status) >= 0) ended = true;
    });
    ["call.result_ready", "call.result_failed"].forEach(function (type) {
      es.addEventListener(type, function (m) {
        addEvent(timeline, JSON.parse(m.data));
        es.close();
        if (detail) refreshResult();
      });
    });
    es.onerror = function () {
      // The server ends the stream once the call is over; do not reconnect then.
      if (ended || es.readyState === EventSource.CLOSED) es.close();
    };
  }

  function followLive(root) {
    var live = root.querySelectorAll("[data-live-call]");
    for (var i = 0; i < live.length && Object.keys(followed).length < MAX_STREAMS; i++) follow(live[i]);
  }

  // The first page of the call list shows new calls without a reload: while
  // the tab is visible it fetches the page again every LIST_EVERY ms and,
  // when the rows differ, swaps in the new ones and follows their live
  // calls. Statuses of rows already shown keep arriving over their streams.
  var LIST_EVERY = 5000;
  function rowIDs(tbody) {
    return Array.prototype.map.call(tbody.querySelectorAll("[data-call-row]"), function (r) {
      return r.getAttribute("data-call-row");
    }).join(",");
  }
  function watchList(table) {
    setInterval(function () {
      if (document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("#calls tbody"), old = table.querySelector("tbody");
        if (!fresh || !old || rowIDs(fresh) === rowIDs(old)) return;
        old.replaceWith(fresh);
        var cap = doc.querySelector("#calls caption"), oldCap = table.querySelector("caption");
        if (cap && oldCap) oldCap.replaceWith(cap);
        if (window.EventSource) followLive(fresh);
      }).catch(function () {});
    }, LIST_EVERY);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var list = document.querySelector("table[data-watch-list]");
    if (list && window.fetch && window.DOMParser) watchList(list);
    if (!window.EventSource) return;
    followLive(document);
    var secret = document.querySelector("[data-secret]");
    if (secret) { secret.focus(); secret.select(); }
  });
})();
