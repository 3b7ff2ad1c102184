/* Inper cookie banner. No dependencies; embeddable on any Inper site:
 *
 *   <script src="https://privacy.inper.com/static/consent/banner.js" data-lang="de"></script>
 *   <script type="text/plain" data-category="analytics" src="https://example/analytics.js"></script>
 *
 * Put it before the tags it gates. Tags marked type="text/plain" data-category="…" (and
 * elements with data-category and data-src, such as social-button iframes) run only once their
 * category is granted. Google Consent Mode v2 is set to "denied" at once and updated from the
 * choice. The choice is kept in a first-party cookie and recorded by the privacy portal under
 * an anonymous visitor id. Elements with data-cookie-settings reopen the settings;
 * window.InperConsent.open() does the same. Texts come from the portal in the page's language.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.InperConsent) return;
  var d = document;
  var w = window;
  var data = function (name) { return script.getAttribute("data-" + name); };
  var base = data("portal") || new URL(script.src, location.href).origin;
  var sameOrigin = base === location.origin;
  var lang = (data("lang") || d.documentElement.lang || "en").slice(0, 2).toLowerCase();
  var COOKIE = data("cookie") || "inper_consent";
  var PREFIX = "inper-cb";
  var cfg = null;
  var stored = null;
  var gpc = navigator.globalPrivacyControl === true;
  var activated = {};
  var banner = null;
  var modal = null;
  var live = null;
  var returnFocus = null;
  var bannerReturn = null;

  // Google Consent Mode v2: everything but security storage is denied until the person chooses.
  w.dataLayer = w.dataLayer || [];
  if (typeof w.gtag !== "function") w.gtag = function () { w.dataLayer.push(arguments); };
  w.gtag("consent", "default", {
    ad_storage: "denied", ad_user_data: "denied", ad_personalization: "denied",
    analytics_storage: "denied", functionality_storage: "denied",
    personalization_storage: "denied", security_storage: "granted", wait_for_update: 500
  });

  function uuid() {
    if (w.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function readCookie() {
    var m = d.cookie.match(new RegExp("(?:^|; )" + COOKIE + "=([^;]*)"));
    var p = m ? decodeURIComponent(m[1]).split(".") : [];
    if (p.length !== 5 || p[0] !== "1" || !/^[0-9a-f-]{36}$/.test(p[1])) return null;
    return { visitor: p[1], policy: +p[2], time: +p[3], granted: p[4] === "-" ? [] : p[4].split("+") };
  }

  function writeCookie(c) {
    var value = ["1", c.visitor, c.policy, c.time, c.granted.slice().sort().join("+") || "-"].join(".");
    d.cookie = COOKIE + "=" + value + "; Max-Age=" + cfg.lifetime_days * 86400 + "; Path=/; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "") +
      (data("cookie-domain") ? "; Domain=" + data("cookie-domain") : "");
  }

  function now() { return Math.floor(Date.now() / 1000); }

  function valid(c) {
    return !!c && c.policy >= cfg.policy.material_version && now() - c.time < cfg.lifetime_days * 86400;
  }

  function has(list, key) { return list.indexOf(key) >= 0; }

  function announce(text) {
    if (!live) return;
    live.textContent = "";
    setTimeout(function () { live.textContent = text; }, 50);
  }

  // --- applying a choice ----------------------------------------------------------------------
  function consentMode(granted) {
    var g = function (key) { return has(granted, key) ? "granted" : "denied"; };
    w.gtag("consent", "update", {
      ad_storage: g("marketing"), ad_user_data: g("marketing"), ad_personalization: g("marketing"),
      analytics_storage: g("analytics"), functionality_storage: g("preferences"),
      personalization_storage: g("preferences")
    });
  }

  function activate(granted) {
    var nodes = d.querySelectorAll("[data-category]:not([data-activated])");
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      var category = el.getAttribute("data-category");
      if (!has(granted, category)) continue;
      if (el.tagName === "SCRIPT" && el.type === "text/plain") {
        var s = d.createElement("script");
        for (var a = 0; a < el.attributes.length; a++) {
          var at = el.attributes[a];
          if (at.name !== "type") s.setAttribute(at.name, at.value);
        }
        s.setAttribute("data-activated", "");
        if (el.getAttribute("data-type")) s.type = el.getAttribute("data-type");
        if (!el.src) s.text = el.text;
        s.async = false;
        el.parentNode.replaceChild(s, el);
      } else if (el.hasAttribute("data-src")) {
        el.setAttribute("src", el.getAttribute("data-src"));
        el.setAttribute("data-activated", "");
      } else continue;
      activated[category] = true;
    }
  }

  function dropCookies(category) {
    cfg.categories.forEach(function (c) {
      if (c.key !== category) return;
      c.services.forEach(function (s) {
        s.cookies.forEach(function (k) {
          if (!k.first_party) return;
          var stem = k.name.replace(/\*$/, "");
          d.cookie.split("; ").forEach(function (pair) {
            var name = pair.split("=")[0];
            if (name !== k.name && !(stem !== k.name && name.indexOf(stem) === 0)) return;
            var parts = location.hostname.split(".");
            for (var i = 0; i < parts.length; i++) {
              var domain = parts.slice(i).join(".");
              d.cookie = name + "=; Max-Age=0; Path=/; Domain=" + domain;
            }
            d.cookie = name + "=; Max-Age=0; Path=/";
          });
        });
      });
    });
  }

  function apply(granted) {
    var reload = false;
    Object.keys(activated).forEach(function (category) {
      if (!has(granted, category)) { dropCookies(category); reload = true; }
    });
    cfg.categories.forEach(function (c) { if (!c.required && !has(granted, c.key)) dropCookies(c.key); });
    consentMode(granted);
    activate(granted);
    try { d.dispatchEvent(new CustomEvent("inper:consent", { detail: { granted: granted.slice() } })); } catch (e) { /* old browsers */ }
    // A script that already ran cannot be stopped: reload so that it is gone.
    if (reload) setTimeout(function () { location.reload(); }, 300);
  }

  function save(wanted) {
    var choices = {};
    var granted = [];
    cfg.categories.forEach(function (c) {
      var on = c.required || (has(wanted, c.key) && !(gpc && c.gpc));
      if (!c.required) choices[c.key] = on;
      if (on) granted.push(c.key);
    });
    stored = { visitor: (stored && stored.visitor) || uuid(), policy: cfg.policy.version, time: now(), granted: granted };
    writeCookie(stored);
    close();
    apply(granted);
    var headers = { "Content-Type": "text/plain" };
    if (sameOrigin && data("csrf")) headers["X-CSRFToken"] = data("csrf");
    fetch(base + cfg.save_url, {
      method: "POST", credentials: sameOrigin ? "same-origin" : "omit", keepalive: true, headers: headers,
      body: JSON.stringify({ visitor_id: stored.visitor, choices: choices, policy_version: cfg.policy.version, language: cfg.language, gpc: gpc })
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (answer) {
      if (answer.visitor_id !== stored.visitor) { stored.visitor = answer.visitor_id; writeCookie(stored); }
      announce(cfg.texts.saved);
    }).catch(function () { announce(cfg.texts.error); });
  }

  // --- the two layers -------------------------------------------------------------------------
  function el(tag, props, children) {
    var node = d.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "text") node.textContent = props[k];
      else if (k === "on") node.addEventListener("click", props[k]);
      else node.setAttribute(k, props[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(c); });
    return node;
  }

  function buttons() {
    var t = cfg.texts;
    var all = cfg.categories.map(function (c) { return c.key; });
    return el("div", { "class": PREFIX + "__buttons" }, [
      el("button", { type: "button", "class": PREFIX + "__button", text: t.accept_all, on: function () { save(all); } }),
      el("button", { type: "button", "class": PREFIX + "__button", text: t.reject_all, on: function () { save([]); } })
    ]);
  }

  function gpcNote() {
    return gpc ? el("p", { "class": PREFIX + "__gpc", text: cfg.texts.gpc_note }) : null;
  }

  function showBanner() {
    var t = cfg.texts;
    var row = buttons();
    row.appendChild(el("button", {
      type: "button", "class": PREFIX + "__button", text: t.choose, "aria-haspopup": "dialog",
      on: function (e) { openSettings(e.currentTarget); }
    }));
    banner = el("div", {
      "class": PREFIX, role: "dialog", "aria-modal": "false",
      "aria-labelledby": PREFIX + "-title", "aria-describedby": PREFIX + "-text"
    }, [el("div", { "class": PREFIX + "__box" }, [
      el("h2", { id: PREFIX + "-title", "class": PREFIX + "__title", text: t.title }),
      el("p", { id: PREFIX + "-text", "class": PREFIX + "__text" }, [
        d.createTextNode(t.intro + " "),
        el("a", { href: base + cfg.policy.url, text: t.policy_link })
      ]),
      gpcNote(),
      row
    ])]);
    // Where the person was when the banner appeared: focus goes back there once they choose.
    var active = d.activeElement;
    bannerReturn = active && active !== d.body && active !== d.documentElement ? active : null;
    // After the page's skip links (in-page links at the very start), so that they stay first
    // in the tab order; before everything else.
    var next = d.body.firstChild;
    while (next && (next.nodeType !== 1 || isSkipLink(next))) next = next.nextSibling;
    d.body.insertBefore(banner, next);
  }

  function isSkipLink(node) {
    return node.tagName === "A" && (node.getAttribute("href") || "").charAt(0) === "#";
  }

  function inPage(node) {
    return !!node && node !== d.body && d.contains(node);
  }

  // Once the banner is gone, keyboard users keep their place: the element they were on when it
  // appeared, else the main content (the skip link's target), never <body>.
  function focusPage() {
    var back = inPage(bannerReturn) ? bannerReturn : null;
    var target = back || d.querySelector("main, [role=main]");
    bannerReturn = null;
    if (!target) return;
    // A <main> without tabindex cannot take focus; -1 keeps it out of the tab order.
    if (!back && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
    target.focus({ preventScroll: true });
  }

  function serviceList(category) {
    var t = cfg.texts;
    if (!category.services.length) return null;
    // Named with its category: the dialog has one such list per category.
    var summary = el("summary", { text: t.services }, [el("span", { "class": PREFIX + "-live", text: ": " + category.title })]);
    return el("details", { "class": PREFIX + "__services" }, [summary].concat(
      category.services.map(function (s) {
        return el("div", { "class": PREFIX + "__service" }, [
          el("h3", { "class": PREFIX + "__service-name", text: s.name + " · " + s.provider }),
          el("p", { text: s.description }, [s.privacy_url ? el("a", { href: s.privacy_url, rel: "noopener noreferrer", text: " " + t.privacy_info }) : null]),
          el("ul", {}, s.cookies.map(function (k) {
            return el("li", {}, [el("code", { text: k.name }), d.createTextNode(" · " + k.purpose + " · " + t.lifetime + ": " + k.lifetime + " · " + (k.first_party ? t.first_party : k.domain + " (" + t.third_party + ")"))]);
          }))
        ]);
      })));
  }

  function openSettings(opener) {
    if (!cfg || modal) return;
    returnFocus = opener || d.activeElement;
    var t = cfg.texts;
    var current = stored && valid(stored) ? stored.granted : [];
    var boxes = [];
    var cats = cfg.categories.map(function (c) {
      var id = PREFIX + "-cat-" + c.key;
      var locked = c.required || (gpc && c.gpc);
      var box = el("input", { type: "checkbox", role: "switch", id: id, "aria-describedby": id + "-text" });
      box.checked = c.required || (!locked && has(current, c.key));
      box.disabled = locked;
      box.value = c.key;
      boxes.push(box);
      return el("div", { "class": PREFIX + "__cat" }, [
        el("div", { "class": PREFIX + "__cathead" }, [
          box,
          el("label", { "for": id, text: c.title }),
          c.required ? el("span", { "class": PREFIX + "__badge", text: t.always_on }) : null,
          gpc && c.gpc ? el("span", { "class": PREFIX + "__badge", text: t.gpc_locked }) : null
        ]),
        el("p", { id: id + "-text", text: c.description }),
        serviceList(c)
      ]);
    });
    var row = buttons();
    row.insertBefore(el("button", {
      type: "button", "class": PREFIX + "__button", text: t.save,
      on: function () { save(boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; })); }
    }), row.firstChild);
    var heading = el("h2", { id: PREFIX + "-settings-title", "class": PREFIX + "__title", tabindex: "-1", text: t.settings_title });
    modal = el("div", { "class": PREFIX + "-overlay" }, [el("div", {
      "class": PREFIX + "-modal", role: "dialog", "aria-modal": "true", "aria-labelledby": PREFIX + "-settings-title"
    }, [
      el("button", { type: "button", "class": PREFIX + "__close", "aria-label": t.close, text: "×", on: close }),
      heading,
      gpcNote(),
      el("div", { "class": PREFIX + "__cats" }, cats),
      row,
      el("p", {}, [el("a", { href: base + cfg.policy.url, text: t.policy_link })])
    ])]);
    modal.addEventListener("keydown", trap);
    d.body.appendChild(modal);
    if (banner) banner.hidden = true;
    heading.focus();
  }

  function trap(e) {
    if (e.key === "Escape") { e.preventDefault(); close(); return; }
    if (e.key !== "Tab") return;
    var f = modal.querySelectorAll("button, a[href], input:not([disabled]), summary");
    var first = f[0];
    var last = f[f.length - 1];
    if (e.shiftKey && (d.activeElement === first || !modal.contains(d.activeElement))) { e.preventDefault(); last.focus(); }
    else if (!e.shiftKey && d.activeElement === last) { e.preventDefault(); first.focus(); }
  }

  function close() {
    var chosen = stored && valid(stored);
    var closing = !!modal || !!(banner && chosen);
    if (modal) { modal.parentNode.removeChild(modal); modal = null; }
    if (banner && chosen) { banner.parentNode.removeChild(banner); banner = null; }
    if (banner) banner.hidden = false;
    var target = inPage(returnFocus) ? returnFocus : null;
    returnFocus = null;
    if (!closing) return;  // nothing was open (a choice saved at start): leave focus alone
    if (target) target.focus();
    else if (banner) banner.querySelector("button").focus();
    else focusPage();
  }

  // --- start ----------------------------------------------------------------------------------
  function start(config) {
    cfg = config;
    gpc = gpc || !!cfg.gpc;
    live = el("div", { "class": PREFIX + "-live", role: "status", "aria-live": "polite" });
    d.body.appendChild(live);
    stored = readCookie();
    var account = cfg.account;
    if (account && now() - account.decided_at < cfg.lifetime_days * 86400 &&
        (!valid(stored) || account.decided_at > stored.time)) {
      // The signed-in account's choice is newer: this browser follows it.
      stored = { visitor: (stored && stored.visitor) || uuid(), policy: cfg.policy.version, time: account.decided_at, granted: account.granted };
      writeCookie(stored);
    }
    if (valid(stored)) {
      var covered = cfg.categories.filter(function (c) { return gpc && c.gpc && has(stored.granted, c.key); });
      if (covered.length) save(stored.granted);  // Global Privacy Control withdraws them (source gpc)
      else apply(stored.granted);
    } else if (data("show") !== "never") {
      showBanner();
    }
    d.addEventListener("click", function (e) {
      var link = e.target.closest && e.target.closest("[data-cookie-settings]");
      if (link && data("show") !== "never") { e.preventDefault(); openSettings(link); }
    });
  }

  w.InperConsent = {
    open: function () { openSettings(); },
    granted: function () { return stored && cfg && valid(stored) ? stored.granted.slice() : []; }
  };

  var css = el("link", { rel: "stylesheet", href: new URL("banner.css", script.src).href });
  d.head.appendChild(css);
  fetch(base + "/privacy/banner/config.json?lang=" + encodeURIComponent(lang), { credentials: sameOrigin ? "same-origin" : "omit" })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (config) {
      if (d.body) start(config);
      else d.addEventListener("DOMContentLoaded", function () { start(config); });
    })
    .catch(function () { /* no configuration: nothing optional runs */ });
})();
