// The submission form: a live word count, the "another book" fields, and sending with a
// progress bar. If the connection drops, nothing typed is lost: the page stays as it is and
// Send can be pressed again (the same idempotency key makes a retry one entry, not two).
// Without JavaScript the form posts normally and the server does every check anyway.
(function () {
  "use strict";
  var form = document.getElementById("submit-form");
  if (!form) return;
  var source = document.getElementById("submit-words");
  var words = source ? JSON.parse(source.textContent) : {};
  var message = document.getElementById("form-message");
  var box = document.getElementById("upload-progress");
  var bar = box ? box.querySelector("progress") : null;
  var barText = box ? box.querySelector(".progress-text") : null;
  var button = document.getElementById("send-button");
  var maxSize = parseInt(form.getAttribute("data-max-size"), 10) || 0;
  var maxWords = parseInt(form.getAttribute("data-max-words"), 10) || 0;
  var direct = form.getAttribute("data-direct-upload") === "true";
  var slotUrl = form.getAttribute("data-slot-url");
  var TYPES = {
    jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp",
    heic: "image/heic", heif: "image/heif", pdf: "application/pdf", txt: "text/plain",
    docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    mp3: "audio/mpeg", m4a: "audio/mp4", wav: "audio/wav", ogg: "audio/ogg",
    mp4: "video/mp4", webm: "video/webm", mov: "video/quicktime"
  };

  function fill(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name];
    }).replace("%%", "%");
  }

  function showMessage(text) {
    if (!message) return;
    message.textContent = "";
    var p = document.createElement("p");
    p.className = "alert";
    p.textContent = text;
    message.appendChild(p);
    message.scrollIntoView({ block: "center" });
  }

  // --- word count ---
  // The limit is the division's that the age (or grade) picks, as the server picks it:
  // the grade speaks for the school level (grade 1 is age 6), and where age ranges overlap
  // the older division wins; without a division, the contest's own limit.
  var divisionsSource = document.getElementById("submit-divisions");
  var divisions = divisionsSource ? JSON.parse(divisionsSource.textContent) : [];
  var ageField = form.querySelector("#f-age");
  var gradeField = form.querySelector("#f-grade");
  function wordLimit() {
    var grade = gradeField ? parseInt(gradeField.value, 10) : NaN;
    var reference = !isNaN(grade) ? grade + 5 : (ageField ? parseInt(ageField.value, 10) : NaN);
    if (isNaN(reference)) return maxWords;
    var best = null;
    for (var i = 0; i < divisions.length; i++) {
      var d = divisions[i];
      if ((d.min_age === null || d.min_age <= reference) &&
          (d.max_age === null || reference <= d.max_age) &&
          (best === null || (d.min_age || 0) > (best.min_age || 0) ||
           ((d.min_age || 0) === (best.min_age || 0) && d.position < best.position))) {
        best = d;
      }
    }
    return best === null ? maxWords : (best.words || 0);
  }
  var body = form.querySelector("[data-word-count]");
  var counter = document.getElementById("word-count");
  if (body && counter) {
    var count = function () {
      var limit = wordLimit();
      var text = body.value.trim();
      var n = text ? text.split(/\s+/).length : 0;
      var lang = document.documentElement.lang || "vi";
      counter.textContent = limit ? fill(n > limit ? words.words_over : words.words, {
        count: n.toLocaleString(lang), limit: limit.toLocaleString(lang)
      }) : "";
      counter.classList.toggle("over", !!limit && n > limit);
      if (limit) counter.setAttribute("data-limit", String(limit));
      else counter.removeAttribute("data-limit");
    };
    body.addEventListener("input", count);
    if (ageField) ageField.addEventListener("input", count);
    if (gradeField) gradeField.addEventListener("input", count);
    count();
  }

  // --- another book ---
  var book = form.querySelector("[data-other-book]");
  var other = form.querySelector("[data-other-book-fields]");
  if (book && other) {
    var syncBook = function () { other.hidden = book.value !== "other"; };
    book.addEventListener("change", syncBook);
    syncBook();
  }

  // --- guardian required under 18 ---
  var age = form.querySelector("#f-age");
  var guardian = form.querySelectorAll("#f-guardian_name, #f-guardian_phone");
  if (age && guardian.length) {
    var syncGuardian = function () {
      var n = parseInt(age.value, 10);
      for (var i = 0; i < guardian.length; i++) guardian[i].required = !isNaN(n) && n < 18;
    };
    age.addEventListener("input", syncGuardian);
    syncGuardian();
  }

  // --- sending ---
  function progress(percent) {
    if (!box) return;
    box.hidden = false;
    bar.value = percent;
    barText.textContent = percent >= 100 ? words.processing : fill(words.uploading, { percent: percent });
  }

  function idle() {
    if (button) button.disabled = false;
    if (box) box.hidden = true;
    form.removeAttribute("aria-busy");
  }

  function post(url, data, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) onProgress(Math.floor((event.loaded / event.total) * 100));
      });
      xhr.addEventListener("load", function () { resolve(xhr); });
      xhr.addEventListener("error", function () { reject({ offline: true }); });
      xhr.addEventListener("timeout", function () { reject({ offline: true }); });
      xhr.addEventListener("abort", function () { reject({ offline: true }); });
      xhr.send(data);
    });
  }

  function typeOf(file) {
    if (file.type) return file.type;
    var ext = (file.name.split(".").pop() || "").toLowerCase();
    return TYPES[ext] || "application/octet-stream";
  }

  // With S3 the file goes straight to the bucket, then the form carries its upload_id.
  function uploadDirect(files, data, csrf) {
    data.delete("file");
    var chain = Promise.resolve();
    files.forEach(function (file, index) {
      chain = chain.then(function () {
        return fetch(slotUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ content_type: typeOf(file), size: file.size, filename: file.name })
        }).then(function (response) {
          return response.json().then(function (json) {
            if (!response.ok) throw { message: json.error ? json.error.message : words.failed };
            return json;
          });
        }, function () { throw { offline: true }; }).then(function (slot) {
          var upload = new FormData();
          Object.keys(slot.fields).forEach(function (name) { upload.append(name, slot.fields[name]); });
          upload.append("file", file);
          return post(slot.url, upload, function (percent) {
            progress(Math.floor((index * 100 + percent) / files.length));
          }).then(function (xhr) {
            if (xhr.status >= 300) throw { message: words.failed };
            data.append("upload_id", slot.upload_id);
          });
        });
      });
    });
    return chain.then(function () { return data; });
  }

  // Errors come back as the same page with messages beside the fields: copy those in,
  // leaving everything typed and the chosen file where they are.
  function showErrors(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    form.querySelectorAll(".error-text.from-server").forEach(function (el) { el.remove(); });
    form.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    doc.querySelectorAll(".error-text[id$='-error']").forEach(function (el) {
      var name = el.id.slice(2, -6);
      var input = form.querySelector("#f-" + CSS.escape(name));
      if (!input) return;
      var holder = input.closest(".field") || input.parentNode;
      holder.classList.add("has-error");
      var copy = document.createElement("p");
      copy.className = "error-text from-server";
      copy.textContent = el.textContent;
      holder.appendChild(copy);
    });
    var alert = doc.querySelector("#form-message .alert, .error p:not(.error-code)");
    showMessage(alert ? alert.textContent : words.failed);
  }

  form.addEventListener("submit", function (event) {
    if (!window.FormData || !window.XMLHttpRequest || !window.Promise) return;
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    var input = form.querySelector("input[type=file]");
    var files = input ? Array.prototype.slice.call(input.files) : [];
    for (var i = 0; i < files.length; i++) {
      if (maxSize && files[i].size > maxSize) {
        showMessage(fill(words.too_large, { size: Math.round(maxSize / 1048576) + " MB" }));
        return;
      }
    }
    form.setAttribute("aria-busy", "true");
    if (button) button.disabled = true;
    if (message) message.textContent = "";
    progress(0);
    var data = new FormData(form);
    var csrf = String(data.get("csrf_token") || "");
    var ready = direct && files.length ? uploadDirect(files, data, csrf) : Promise.resolve(data);
    ready.then(function (filled) {
      return post(form.action, filled, progress);
    }).then(function (xhr) {
      if (xhr.status < 400 && xhr.responseURL && xhr.responseURL !== form.action) {
        window.location.assign(xhr.responseURL);
        return;
      }
      idle();
      showErrors(xhr.responseText);
    }).catch(function (problem) {
      idle();
      showMessage(problem && problem.message ? problem.message : words.offline);
    });
  });
})();
