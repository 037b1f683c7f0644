// Suggests judges for the reassignment fields as the organiser types: a page of matches from
// the contest's judges endpoint fills the shared datalist. Without JavaScript the field still
// takes a judge's e-mail address (or id) as typed.
(function () {
  "use strict";
  var list = document.getElementById("judge-options");
  if (!list) return;
  var source = list.getAttribute("data-source");
  var timer = null;
  var asked = null;
  function fill(judges) {
    list.textContent = "";
    judges.forEach(function (judge) {
      var option = document.createElement("option");
      option.value = judge.email;
      option.label = judge.name;
      option.textContent = judge.name;
      list.appendChild(option);
    });
  }
  function ask(text) {
    if (text === asked) return;
    asked = text;
    fetch(source + "?q=" + encodeURIComponent(text), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : { judges: [] }; })
      .then(function (body) { if (asked === text) fill(body.judges || []); })
      .catch(function () { /* the field still takes an e-mail address as typed */ });
  }
  document.querySelectorAll("input[list='judge-options']").forEach(function (input) {
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var text = input.value.trim();
      // A suggestion just chosen is an e-mail address: nothing more to look up.
      if (text.indexOf("@") > 0 && list.querySelector("option[value='" + CSS.escape(text) + "']")) return;
      timer = setTimeout(function () { ask(text.slice(0, 100)); }, 200);
    });
    input.addEventListener("focus", function () { ask(input.value.trim().slice(0, 100)); });
  });
})();
