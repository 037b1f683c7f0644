// The judge's page: drafts save themselves while the judge types; drawings zoom on a tap.
(function () {
  "use strict";
  var form = document.querySelector("form[data-autosave]");
  var status = document.querySelector("[data-autosave-status]");
  var timer = null;
  function collect() {
    var points = {};
    form.querySelectorAll("input[name^='points.']").forEach(function (input) {
      points[input.name.slice(7)] = input.value;
    });
    return {
      points: points,
      comment: form.querySelector("[name=comment]").value,
      feedback: form.querySelector("[name=feedback]").value
    };
  }
  function save() {
    fetch(form.getAttribute("data-autosave"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.getAttribute("data-csrf") },
      body: JSON.stringify(collect())
    }).then(function (response) {
      if (status) status.textContent = response.ok ? (status.getAttribute("data-ok") || "✓") : "";
    }).catch(function () { /* offline: the form still holds everything */ });
  }
  if (form && status) {
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(save, 1500);
    });
  }
  document.querySelectorAll("[data-zoom-toggle]").forEach(function (button) {
    button.addEventListener("click", function () {
      document.querySelectorAll("figure.zoomable").forEach(function (figure) {
        figure.classList.toggle("zoomed");
      });
    });
  });
})();
