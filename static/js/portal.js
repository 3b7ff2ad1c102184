/* Small progressive enhancements for the portal's own pages. Everything works without it. */
(function () {
  "use strict";
  // On paper, what is folded away is printed too (a receipt's full details), and folded again
  // after.
  var unfolded = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("main details:not([open])").forEach(function (details) {
      details.open = true;
      unfolded.push(details);
    });
  });
  window.addEventListener("afterprint", function () {
    unfolded.forEach(function (details) { details.open = false; });
    unfolded = [];
  });
  // Close the account menu with Escape and when focus or a click leaves it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.account-menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("focusout", function (event) {
    var menu = event.target.closest && event.target.closest("details.account-menu[open]");
    if (menu && event.relatedTarget && !menu.contains(event.relatedTarget)) menu.removeAttribute("open");
  });
  // A page that says a download is starting starts it at once (its link stays for a browser
  // that does not): no timed refresh, which a person cannot stop or slow down (WCAG 2.2.1).
  var download = document.querySelector("a[data-download-now]");
  if (download) window.location.assign(download.href);
  // Times come written in UTC, the zone named (privacy_portal/timeformat.py): shown in the
  // reader's own zone and the page's language, the UTC text kept as the element's title.
  var withTime = { hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" };
  var styles = {
    "long": Object.assign({ day: "numeric", month: "long", year: "numeric" }, withTime),
    "short": Object.assign({ day: "numeric", month: "short", year: "numeric" }, withTime),
    "date": { day: "numeric", month: "long", year: "numeric" },
    "short-date": { day: "numeric", month: "short", year: "numeric" },
    "time": withTime
  };
  var timeFormats = {};
  var localTimes = function (root) {
    var language = document.documentElement.lang === "en" ? "en-GB" : document.documentElement.lang;
    root.querySelectorAll("time[data-local]").forEach(function (element) {
      var style = element.getAttribute("data-local");
      var moment = new Date(element.getAttribute("datetime"));
      if (!styles.hasOwnProperty(style) || isNaN(moment.getTime())) return;
      try {
        timeFormats[style] = timeFormats[style] ||
          new Intl.DateTimeFormat(language || undefined, styles[style]);
      } catch (error) {
        return;
      }
      element.title = element.textContent;
      element.textContent = timeFormats[style].format(moment);
      element.removeAttribute("data-local");
    });
  };
  if (window.Intl && Intl.DateTimeFormat) {
    localTimes(document);
    // For parts of a page filled in later ("My data").
    window.portalLocalTimes = localTimes;
  }
  // Buttons marked data-confirm ask before submitting their form.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  // A form sent is not sent again by a second click (or a double click) while the page waits
  // for the answer: one request, one e-mail. After a few seconds it may be (a download leaves
  // the page as it was), and a page shown again by the back button starts afresh.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.getAttribute("method") || "").toLowerCase() !== "post") return;
    if (Date.now() - Number(form.getAttribute("data-sent-at") || 0) < 8000) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent-at", String(Date.now()));
  });
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sent-at]"), function (form) {
      form.removeAttribute("data-sent-at");
    });
  });

  // A page that follows a request draws itself again when the request moves on. What it
  // would have said (the new state) is said on the new page, and focus goes back where it
  // was, so that a screen reader user hears the change and keeps their place (WCAG 4.1.3).
  var KEY = "portal:redrawn";
  // An element is found again by its id, or by what it is and says (and where it leads):
  // the n-th of its kind saying the same (other parts of the page, such as the cookie banner,
  // may be drawn in a different order).
  var alike = function (tag, text, href) {
    return Array.prototype.filter.call(document.querySelectorAll(tag), function (candidate) {
      return candidate.textContent.trim() === text && (candidate.getAttribute("href") || "") === href;
    });
  };
  var describe = function (element) {
    if (!element || element === document.body) return null;
    if (element.id) return { id: element.id };
    var text = element.textContent.trim();
    var href = element.getAttribute("href") || "";
    return { tag: element.tagName, text: text, href: href, index: alike(element.tagName, text, href).indexOf(element) };
  };
  window.portalRedraw = function (message, url) {
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify({
        path: new URL(url || window.location.href, window.location.href).pathname,
        message: message,
        focus: describe(document.activeElement)
      }));
    } catch (error) { /* storage off: the page is drawn again all the same */ }
    if (url) window.location.assign(url); else window.location.reload();
  };
  // A form sent back with errors: its title says so, and focus goes to the first field to
  // correct, whose label and error are read out with it (WCAG 3.3.1); or, for an error of the
  // whole form (a wrong password), to that error.
  // A group's first box may not take input (disabled, or hidden: the cookie categories a
  // request cannot name): its first box that does.
  var usable = function (element) {
    var takes = function (control) {
      return !control.disabled && control.getClientRects().length > 0;
    };
    if (!element || !element.matches("input, select, textarea") || takes(element)) return element;
    var group = element.closest("fieldset, .field") || element.parentElement;
    var controls = group ? group.querySelectorAll("input, select, textarea") : [];
    for (var index = 0; index < controls.length; index++) {
      if (takes(controls[index])) return controls[index];
    }
    return element;
  };
  // The error summary's links lead there too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest('.error-summary a[href^="#"]');
    var target = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    target = usable(target);
    target.scrollIntoView({ block: "center" });
    target.focus();
  });
  var invalid = usable(document.querySelector('main form [aria-invalid="true"]')) ||
    document.querySelector("main form .errorlist.nonfield");
  if (invalid) {
    var correct = document.body.getAttribute("data-error-title");
    if (correct) document.title = correct + " · " + document.title;
    var closed = invalid.closest("details");
    if (closed) closed.open = true;
    if (!invalid.matches("input, select, textarea, button")) invalid.setAttribute("tabindex", "-1");
    invalid.focus();
  }

  var kept = null;
  try {
    kept = JSON.parse(window.sessionStorage.getItem(KEY) || "null");
    window.sessionStorage.removeItem(KEY);
  } catch (error) { kept = null; }
  var restore = function () {
    var target = null;
    if (kept.focus && kept.focus.id) target = document.getElementById(kept.focus.id);
    else if (kept.focus) target = alike(kept.focus.tag, kept.focus.text, kept.focus.href)[kept.focus.index] || null;
    if (target) {
      // A control in a section that was open is in it again.
      var section = target.closest("details");
      if (section && target.tagName !== "SUMMARY") section.open = true;
      target.focus({ preventScroll: false });
    }
    var live = document.querySelector("[data-progress-live]");
    if (live && kept.message) {
      // After the page settled: a live region announces a change, not its first text.
      window.setTimeout(function () { live.textContent = kept.message; }, 300);
    }
  };
  // A form that sends back to a part of the page (#purpose-…, #notes) has its confirmation
  // shown in that part, read out, and focus on the part's first control, where the person
  // was: the page opens there, far below the confirmation's usual place (WCAG 4.1.3).
  var confirmation = document.querySelector("main > .messages");
  var part = null;
  try {
    if (window.location.hash.length > 1) part = document.getElementById(decodeURIComponent(window.location.hash.slice(1)));
  } catch (error) { part = null; }
  if (confirmation && part && !invalid && !(kept && kept.path === window.location.pathname)) {
    var heading = part.querySelector("h2, h3");
    if (heading && heading.parentNode === part) heading.insertAdjacentElement("afterend", confirmation);
    else part.appendChild(confirmation);
    var said = confirmation.firstElementChild;
    if (said) confirmation.removeChild(said);
    var control = part.querySelector("button, a[href], input:not([type=hidden]), select, textarea");
    // Once the browser has opened the page at the part (which takes focus away from
    // whatever had it): then focus, and the confirmation put back, which is read out.
    var settle = function () {
      window.setTimeout(function () {
        if (said) confirmation.appendChild(said);
        if (control) control.focus({ preventScroll: true });
      }, 300);
    };
    if (document.readyState === "complete") settle();
    else window.addEventListener("load", settle);
  } else if (confirmation && !invalid && !(kept && kept.path === window.location.pathname)) {
    // Any other page that opens with a confirmation (after "Assign to me", "Approve"…):
    // focus starts on it, so that it is read out and the next Tab goes on from there, not
    // from the top of the page. Not when something else took focus meanwhile.
    var greet = function () {
      if (document.activeElement && document.activeElement !== document.body) return;
      confirmation.setAttribute("tabindex", "-1");
      confirmation.focus({ preventScroll: true });
    };
    if (document.readyState === "complete") greet();
    else window.addEventListener("load", greet);
  }

  if (kept && kept.path === window.location.pathname) {
    // Once the page is complete (the cookie banner drawn): nothing moves focus after it.
    if (document.readyState === "complete") restore();
    else window.addEventListener("load", restore);
  }
})();
