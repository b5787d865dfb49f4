// Behaviours every page may use, bound from data-* attributes: the Content-Security-Policy runs no
// inline script or on…= handler.
// The texts scripts write, in the reader's language: <body data-texts> (on pages not in 简体中文) maps each
// Simplified Chinese text to its translation (archive_app/i18n.py JS_TEXTS); %(name)s takes vars.name.
// Scripts call it when they write, never while loading: this file is deferred and theirs may run first.
window.archiveText = function (msgid, vars) {
  var texts = {};
  try { texts = JSON.parse(document.body.getAttribute("data-texts") || "{}"); } catch (e) { /* none */ }
  var text = texts[msgid] || msgid;
  return text.replace(/%\((\w+)\)s|%%/g, function (match, name) { return name ? String(vars[name]) : "%"; });
};

(function () {
  "use strict";

  // <button data-print>: print the page (查阅登记表).
  document.addEventListener("click", function (event) {
    var printer = event.target.closest("[data-print]");
    if (printer) {
      event.preventDefault();
      window.print();
      return;
    }
    // 「菜单」 on a phone shows or hides the whole nav.
    var toggle = event.target.closest("[data-menu-toggle]");
    if (toggle) {
      var header = toggle.closest("header");
      var open = header.classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      return;
    }
    // A click outside an open menu closes it, as menus elsewhere do.
    document.querySelectorAll("nav details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) {
        menu.removeAttribute("open");
      }
    });
    // <a data-back href="…">: back to where the user came from; the href is where to go without a history.
    var back = event.target.closest("a[data-back]");
    if (back && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  // One menu open at a time: opening a group closes the others.
  document.addEventListener("toggle", function (event) {
    var menu = event.target;
    if (menu.matches && menu.matches("nav details.menu") && menu.open) {
      document.querySelectorAll("nav details.menu[open]").forEach(function (other) {
        if (other !== menu) {
          other.removeAttribute("open");
        }
      });
    }
  }, true);

  // <form data-confirm="…">: ask before an irreversible step (执行销毁).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // <input type="checkbox" data-check-all="selector">: tick or clear every box the selector finds.
  document.addEventListener("change", function (event) {
    var all = event.target;
    var selector = all.getAttribute && all.getAttribute("data-check-all");
    if (!selector) {
      return;
    }
    document.querySelectorAll(selector).forEach(function (box) { box.checked = all.checked; });
  });
})();
