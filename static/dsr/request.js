/* Request pages: show only the fields a request type needs, and keep the status of a request
   up to date without reloading. The pages work without this script. */
(function () {
  "use strict";

  var form = document.querySelector("[data-request-form]");
  if (form) {
    var group = function (name) {
      var input = form.querySelector('[name="' + name + '"]');
      if (!input) return null;
      var node = input.closest("fieldset") || input;
      while (node.parentElement && node.parentElement !== form) node = node.parentElement;
      return node;
    };
    var purposes = group("purposes");
    var details = group("details");
    var understood = group("understood");
    var update = function () {
      var checked = form.querySelector('[name="type"]:checked');
      var type = checked ? checked.value : "";
      if (purposes) purposes.hidden = !(type === "objection" || type === "withdraw_consent");
      if (details) details.hidden = type === "" || type === "withdraw_consent";
      if (understood) understood.hidden = type !== "erasure";
      // Only the uses this type of request can name: a consent is withdrawn from what is done
      // with consent, an objection is to the rest and to marketing. The others are left out
      // of what is sent (disabled), and come back as they were when the type changes again.
      form.querySelectorAll('[name="purposes"][data-types]').forEach(function (box) {
        var fits = (" " + box.getAttribute("data-types") + " ").indexOf(" " + type + " ") !== -1;
        var option = box.closest("div") || box;
        option.hidden = !fits;
        box.disabled = !fits;
      });
    };
    form.addEventListener("change", function (event) {
      if (event.target && event.target.name === "type") update();
    });
    update();
    // Sent back with an error about the uses, focus was on the first box (portal.js), which
    // this type may have just left out: the first box the person can tick instead.
    var focused = document.activeElement;
    if (focused && focused.name === "purposes" && focused.disabled) {
      var first = form.querySelector('[name="purposes"]:not(:disabled)');
      if (first) first.focus();
    }
  }

  var panel = document.querySelector("[data-progress-url]");
  if (panel && panel.getAttribute("data-terminal") !== "true" && window.fetch) {
    var url = panel.getAttribute("data-progress-url");
    var live = panel.querySelector("[data-progress-live]");
    var bar = panel.querySelector("[data-progress-bar]");
    var text = panel.querySelector("[data-progress-text]");
    var label = panel.querySelector("[data-state-label] .badge");
    var lastState = label ? label.getAttribute("data-state") : "";
    var stale = panel.getAttribute("data-redraw-on-change") === "true";
    var lifting = panel.getAttribute("data-lifting") === "true";
    // Every 3 seconds; after a minute in which nothing moved, slower and slower (up to once a
    // minute), as while a step waits days for staff; not at all while the tab is hidden.
    var delay = 3000;
    var quiet = 0;
    var lastDone = bar ? bar.value : -1;
    var timer = null;
    var busy = false;
    var later = function (ms) {
      window.clearTimeout(timer);
      timer = document.hidden ? null : window.setTimeout(poll, ms);
    };
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) { window.clearTimeout(timer); timer = null; }
      else if (timer === null && !busy) { quiet = 0; delay = 3000; later(0); }
    });
    var poll = function () {
      timer = null;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          busy = false;
          if (!data) return;
          var moved = data.state !== lastState || data.done !== lastDone;
          lastDone = data.done;
          if (bar) { bar.max = data.total || 1; bar.value = data.done; }
          if (text) text.textContent = data.done + " / " + data.total;
          // A lift ends with the request still completed: draw the page again when it does.
          var redraw = function () {
            var said = data.state_label + " (" + data.done + " / " + data.total + ")";
            var page = panel.getAttribute("data-page-url");
            if (window.portalRedraw) window.portalRedraw(said, page); else window.location.assign(page);
          };
          if (lifting && !data.lifting) { redraw(); return; }
          if (data.state !== lastState) {
            // The page was drawn for the old state: a cancel button or a notice that no longer
            // applies, no progress bar yet. Draw it again for the new one.
            // By the page's own address: an erasure's ends with the signed link, since the
            // account it was drawn for is gone by then.
            if (data.terminal || stale || (data.total && !bar)) { redraw(); return; }
            if (label) { label.textContent = data.state_label; label.setAttribute("data-state", data.state); }
            if (live) live.textContent = data.state_label;
            lastState = data.state;
          }
          quiet = moved ? 0 : quiet + 1;
          delay = quiet < 20 ? 3000 : Math.min(Math.round(delay * 1.5), 60000);
          if (!data.terminal) later(delay);
        })
        .catch(function () { busy = false; later(Math.max(delay, 10000)); });
    };
    later(2000);
  }
})();
