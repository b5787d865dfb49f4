// 批量上传: every dropped file gets a row (客户号, 类型, 日期 read from its name by the naming rule
// 客户号_类型_日期[_题名].ext, which archive_app/intake/naming_rule.py defines; the server checks it all
// again) and is sent on a request of its own, with its own progress bar and its own result.
(function () {
  var zone = document.getElementById("drop-zone");
  if (!zone || !window.XMLHttpRequest || !window.FormData) return;
  var input = document.getElementById("bulk-files");
  var table = document.getElementById("bulk-table");
  var rows = document.getElementById("bulk-rows");
  var start = document.getElementById("bulk-start");
  var summary = document.getElementById("bulk-summary");
  var typeOptions = document.getElementById("bulk-type-options");
  var defaultCustomer = document.getElementById("bulk-default-customer");
  var defaultType = document.getElementById("bulk-default-type");
  var secrecy = document.getElementById("bulk-secrecy");
  var codes = JSON.parse(zone.dataset.codes || "{}");
  var byCode = {};
  Object.keys(codes).forEach(function (label) { byCode[codes[label].toUpperCase()] = label; });
  var NAME_RULE = /^(C\d{6})_([^_]+)_(\d{4})(\d{2})(\d{2})(?:_(.+))?\.[^.]+$/i;
  var PARALLEL = 2;
  var items = [];

  function fromName(name) {
    var m = NAME_RULE.exec(name);
    if (!m) return {};
    var type = codes[m[2]] ? m[2] : byCode[m[2].toUpperCase()];
    return {customer: m[1].toUpperCase(), type: type || "", date: m[3] + "-" + m[4] + "-" + m[5], title: m[6] || ""};
  }

  function cell(row, child) {
    var td = document.createElement("td");
    if (child) td.appendChild(child);
    row.appendChild(td);
    return td;
  }

  function addFile(file) {
    var named = fromName(file.name);
    var tr = document.createElement("tr");
    cell(tr, document.createTextNode(file.name));
    var customer = document.createElement("input");
    customer.className = "bulk-customer";
    customer.maxLength = 7;
    customer.size = 8;
    customer.value = named.customer || defaultCustomer.value.trim().toUpperCase();
    customer.setAttribute("aria-label", window.archiveText("客户号：%(name)s", { name: file.name }));
    cell(tr, customer);
    var type = document.createElement("select");
    type.className = "bulk-type";
    type.appendChild(typeOptions.content.cloneNode(true));
    type.value = named.type || defaultType.value;
    type.setAttribute("aria-label", window.archiveText("档案类型：%(name)s", { name: file.name }));
    cell(tr, type);
    var date = document.createElement("input");
    date.type = "date";
    date.className = "bulk-date";
    date.value = named.date || "";
    date.setAttribute("aria-label", window.archiveText("文件日期：%(name)s", { name: file.name }));
    cell(tr, date);
    var bar = document.createElement("progress");
    bar.className = "bulk-progress";
    bar.max = 100;
    bar.value = 0;
    var percent = document.createElement("span");
    percent.className = "bulk-percent muted";
    percent.textContent = "0%";
    var progressCell = cell(tr, bar);
    progressCell.appendChild(percent);
    var result = cell(tr, null);
    result.className = "bulk-result";
    rows.appendChild(tr);
    items.push({file: file, title: named.title || "", customer: customer, type: type, date: date, bar: bar,
                percent: percent, result: result, row: tr, state: "new"});
  }

  function addFiles(list) {
    for (var i = 0; i < list.length; i++) addFile(list[i]);
    table.hidden = items.length === 0;
    start.disabled = items.length === 0;
    summary.textContent = window.archiveText("共 %(n)s 个文件", { n: items.length });
  }

  function setProgress(item, value) {
    item.bar.value = value;
    item.percent.textContent = value + "%";
  }

  function showResult(item, ok, text, url) {
    item.result.textContent = "";
    item.result.className = "bulk-result " + (ok ? "ok" : "error");
    if (url) {
      var a = document.createElement("a");
      a.href = url;
      a.textContent = text;
      item.result.appendChild(a);
    } else {
      item.result.textContent = text;
    }
  }

  function errorText(xhr) {
    var data = {};
    try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: a proxy's page */ }
    var err = data.error || {};
    var text = err.message || window.archiveText("上传失败（HTTP %(status)s）", { status: xhr.status });
    if (err.details && err.details.duplicates) {
      text = window.archiveText("%(message)s：%(codes)s", { message: text, codes: err.details.duplicates.map(function (d) { return d.archival_code; }).join(window.archiveText("、")) });
    }
    return text;
  }

  function send(item, done) {
    item.state = "sending";
    item.customer.disabled = item.type.disabled = item.date.disabled = true;
    setProgress(item, 0);
    showResult(item, true, window.archiveText("上传中…"));
    var form = new FormData();
    form.append("customer_no", item.customer.value.trim());
    form.append("record_type", item.type.value);
    if (item.date.value) form.append("doc_date", item.date.value);
    if (item.title) form.append("title", item.title);
    form.append("secrecy", secrecy.value);
    form.append("file", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", zone.dataset.endpoint);
    xhr.setRequestHeader("X-CSRFToken", zone.dataset.csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) setProgress(item, Math.min(99, Math.round((e.loaded / e.total) * 100)));
    };
    xhr.onload = function () {
      var data = {};
      try { data = JSON.parse(xhr.responseText); } catch (e) { /* handled below */ }
      if (xhr.status === 201 && data.archival_code) {
        item.state = "done";
        setProgress(item, 100);
        showResult(item, true, data.archival_code, zone.dataset.recordUrl.replace(/0$/, String(data.id)));
      } else {
        item.state = "failed";
        item.customer.disabled = item.type.disabled = item.date.disabled = false;
        showResult(item, false, errorText(xhr));
      }
      done();
    };
    xhr.onerror = function () {
      item.state = "failed";
      item.customer.disabled = item.type.disabled = item.date.disabled = false;
      showResult(item, false, window.archiveText("网络错误，上传未完成，请重试"));
      done();
    };
    xhr.send(form);
  }

  function report() {
    var ok = items.filter(function (i) { return i.state === "done"; }).length;
    var failed = items.filter(function (i) { return i.state === "failed"; }).length;
    summary.textContent = failed ? window.archiveText("已上传 %(ok)s 个，失败 %(failed)s 个（可修改后再次上传）", { ok: ok, failed: failed })
                                  : window.archiveText("已上传 %(ok)s 个", { ok: ok });
  }

  start.addEventListener("click", function () {
    var queue = items.filter(function (i) { return i.state === "new" || i.state === "failed"; });
    var running = 0;
    start.disabled = true;
    function next() {
      if (!queue.length) {
        if (running === 0) { start.disabled = false; report(); }
        return;
      }
      running += 1;
      send(queue.shift(), function () { running -= 1; report(); next(); });
    }
    for (var n = 0; n < PARALLEL; n++) next();
  });

  input.addEventListener("change", function () {
    addFiles(input.files);
    input.value = "";
  });
  zone.addEventListener("dragover", function (e) {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer && e.dataTransfer.files) addFiles(e.dataTransfer.files);
  });
})();
