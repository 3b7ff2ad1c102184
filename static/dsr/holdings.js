/* "What Inper holds about me": while the stores are being searched, ask the server for the
   result every few seconds and show it without a reload. The page works without this script
   (the list shows on the next visit). */
(function () {
  "use strict";
  var panel = document.querySelector("[data-holdings-url]");
  if (!panel || !window.fetch || panel.getAttribute("data-holdings-state") !== "checking") return;
  var url = panel.getAttribute("data-holdings-url");
  var body = panel.querySelector("[data-holdings-body]");
  var delay = 1000;
  var tries = 0;
  var slow = function () {
    var note = body.querySelector("[data-holdings-note]");
    if (note) note.textContent = panel.getAttribute("data-holdings-slow");
  };
  var poll = function () {
    tries += 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.state === "ready") {
          body.innerHTML = data.html;
          if (window.portalLocalTimes) window.portalLocalTimes(body);
          body.setAttribute("aria-busy", "false");
          panel.setAttribute("data-holdings-state", "ready");
          return;
        }
        if (tries > 60) { slow(); return; }
        delay = Math.min(delay * 1.3, 5000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { if (tries <= 60) window.setTimeout(poll, 5000); });
  };
  window.setTimeout(poll, delay);
})();
