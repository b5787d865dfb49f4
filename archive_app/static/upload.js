// Upload with a progress bar: the form still works without JavaScript (plain POST).
(function () {
  var form = document.getElementById("upload-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var type = document.getElementById("record_type");
  var part = document.getElementById("part");
  type.addEventListener("change", function () {
    var opt = type.options[type.selectedIndex];
    if (opt && opt.dataset.part) part.value = opt.dataset.part;
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    var err = document.getElementById("upload-error");
    var button = document.getElementById("upload-button");
    err.hidden = true;
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("X-Requested-With", "fetch");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        text.textContent = window.archiveText("已上传 %(pct)s%%", { pct: bar.value });
      }
    };
    xhr.onload = function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201 && data.url) {
        text.textContent = window.archiveText("上传完成：%(code)s", { code: data.archival_code });
        window.location.href = data.url;
        return;
      }
      button.disabled = false;
      var msg = (data.error && data.error.message) || window.archiveText("上传失败（HTTP %(status)s）", { status: xhr.status });
      if (data.error && data.error.details && data.error.details.duplicates) {
        msg = window.archiveText("%(message)s：%(codes)s", { message: msg, codes: data.error.details.duplicates.map(function (d) { return d.file + " → " + d.archival_code; }).join(window.archiveText("；")) });
      }
      err.textContent = msg;
      err.hidden = false;
      text.textContent = "";
    };
    xhr.onerror = function () {
      button.disabled = false;
      err.textContent = window.archiveText("网络错误，上传未完成，请重试");
      err.hidden = false;
    };
    xhr.send(new FormData(form));
  });
})();
