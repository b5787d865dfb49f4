// The 温馨卡 form: <button data-add-visit> adds one more visit-date field (fourth, fifth …), up to the
// fieldset's data-max. A file, not inline: the Content-Security-Policy runs no inline script.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-visit]");
    if (!button) {
      return;
    }
    event.preventDefault();
    var box = button.closest("fieldset");
    var fields = box.querySelectorAll("label.visit-date");
    if (fields.length >= Number(box.getAttribute("data-max") || 20)) {
      return;
    }
    var copy = fields[fields.length - 1].cloneNode(true);
    var input = copy.querySelector("input");
    input.value = "";
    input.required = false;
    copy.firstChild.textContent = window.archiveText("第%(index)s次", { index: fields.length + 1 }) + " ";
    box.insertBefore(copy, button);
  });
})();
