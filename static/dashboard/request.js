/* Dashboard request page: follow the request while its stores work (reload when its state or
   progress changes), and refresh the erasure preview while stores are being searched.
   The page works without this script (reload it by hand). */
(function () {
  "use strict";
  if (!window.fetch) return;

  var get = function (url, accept) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: accept } }).then(
      function (response) { return response.ok ? response : Promise.reject(response.status); }
    );
  };

  var unsent = function () {
    return Array.prototype.some.call(
      document.querySelectorAll("main form textarea, main form input[type=text], main form input[type=email]"),
      function (field) { return field.value !== field.defaultValue; }
    );
  };

  var head = document.querySelector("[data-progress-url]");
  if (head && head.getAttribute("data-terminal") !== "true") {
    var state = head.getAttribute("data-state");
    var done = head.getAttribute("data-done");
    var live = head.querySelector("[data-progress-live]");
    var poll = function () {
      get(head.getAttribute("data-progress-url"), "application/json")
        .then(function (response) { return response.json(); })
        .then(function (data) {
          // Drawn while it was still moving: ending (a lift's last store too) redraws it.
          if (data.state !== state || String(data.done) !== done || data.terminal) {
            if (live) live.textContent = data.state_label + " (" + data.done + " / " + data.total + ")";
            // Keep the officer's place: only reload when nothing is being typed, and nothing
            // typed is still unsent (a reason, a note: the reload would lose it).
            var active = document.activeElement;
            var typing = active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT" || active.tagName === "SELECT");
            if (!typing && !unsent()) {
              var said = data.state_label + " (" + data.done + " / " + data.total + ")";
              if (window.portalRedraw) window.portalRedraw(said); else window.location.reload();
              return;
            }
          }
          if (!data.terminal) window.setTimeout(poll, 2500);
        })
        .catch(function () { window.setTimeout(poll, 10000); });
    };
    window.setTimeout(poll, 2500);
  }

  var panel = document.querySelector("[data-preview-url]");
  var said = document.querySelector("[data-preview-said]");
  if (panel && panel.getAttribute("data-running") === "true") {
    var refresh = function () {
      get(panel.getAttribute("data-preview-url"), "text/html")
        .then(function (response) { return response.text(); })
        .then(function (html) {
          // Focus inside the part drawn again stays in it, instead of falling to the page.
          var inside = panel.contains(document.activeElement) && document.activeElement !== panel;
          panel.innerHTML = html;
          if (window.portalLocalTimes) window.portalLocalTimes(panel);
          if (inside) panel.focus({ preventScroll: true });
          if (panel.querySelector('[data-preview-state="searching"]')) window.setTimeout(refresh, 1500);
          else if (said) said.textContent = said.getAttribute("data-preview-said");
        })
        .catch(function () { window.setTimeout(refresh, 5000); });
    };
    window.setTimeout(refresh, 1000);
  }
})();
