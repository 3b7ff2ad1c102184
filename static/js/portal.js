/* Small progressive enhancements for the portal's own pages. Everything works without it. */
(function () {
  "use strict";
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
  // A page that says a download is starting starts it at once (its link stays for a browser
  // that does not): no timed refresh, which a person cannot stop or slow down (WCAG 2.2.1).
  var download = document.querySelector("a[data-download-now]");
  if (download) window.location.assign(download.href);
  // Buttons marked data-confirm ask before submitting their form.
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();
