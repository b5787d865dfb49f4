// Behaviours every page may use, bound from data-* attributes: the Content-Security-Policy runs no
// inline script or on…= handler.
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
    // <a data-back href="…">: back to where the user came from; the href is where to go without a history.
    var back = event.target.closest("a[data-back]");
    if (back && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

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
