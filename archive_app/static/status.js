// While a record's files are queued or being read, poll their status and reload when all are done.
(function () {
  var table = document.getElementById("files");
  if (!table) return;
  // looked up when written (app.js, which translates them, is deferred)
  var labels = { queued: "排队", processing: "处理中", done: "完成", failed: "失败" };
  function label(status) { return labels[status] ? window.archiveText(labels[status]) : status; }
  function pending() {
    return table.querySelector(".text-status.queued, .text-status.processing") !== null;
  }
  if (!pending()) return;
  function poll() {
    fetch(table.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var stillPending = false;
        (data.files || []).forEach(function (f) {
          var cell = table.querySelector('tr[data-file-id="' + f.id + '"] .text-status');
          if (!cell) return;
          cell.className = "text-status " + f.text_status;
          var text = label(f.text_status);
          if (f.text_status === "processing" && f.page_count) {
            text += " " + f.pages_done + "/" + f.page_count;
            cell.innerHTML = "";
            var bar = document.createElement("progress");
            bar.className = "pages"; bar.max = f.page_count; bar.value = f.pages_done;
            cell.appendChild(document.createTextNode(label("processing") + " "));
            cell.appendChild(bar);
            cell.appendChild(document.createTextNode(" " + f.pages_done + "/" + f.page_count));
          } else {
            // The stored error starts with its code ("timeout: …"); people read the Chinese part.
            cell.textContent = f.text_error ? window.archiveText("%(v)s：%(r)s", { v: text, r: f.text_error.replace(/^[a-z_]+: /, "") }) : text;
          }
          if (f.retry_note) {
            var note = document.createElement("div");
            note.className = "small retry-note"; note.textContent = f.retry_note;
            cell.appendChild(note);
          }
          if (f.text_status === "queued" || f.text_status === "processing") stillPending = true;
        });
        if (stillPending) setTimeout(poll, 1500); else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
