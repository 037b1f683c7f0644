// Suggests values for the console's fields that name one row among many (a judge to reassign
// to, a unit) as the organiser types: a page of matches from the datalist's data-source fills
// the datalist. data-items names the answer's list, data-value and data-label each item's
// value and text. A field marked data-picker="many" holds several values separated by commas,
// and the suggestions complete the last one. Without JavaScript every field still takes the
// value (an e-mail address, a code) as typed.
(function () {
  "use strict";
  function picker(list) {
    var source = list.getAttribute("data-source");
    var items = list.getAttribute("data-items");
    var valueOf = list.getAttribute("data-value");
    var labelOf = list.getAttribute("data-label");
    var timer = null;
    var asked = null;
    function parts(input) {
      // What is looked up, and what comes before it in a field of several values.
      if (input.getAttribute("data-picker") !== "many") return { before: "", text: input.value.trim() };
      var at = input.value.lastIndexOf(",");
      return {
        before: at < 0 ? "" : input.value.slice(0, at + 1).replace(/\s*$/, " "),
        text: input.value.slice(at + 1).trim(),
      };
    }
    function fill(found, before) {
      list.textContent = "";
      found.forEach(function (item) {
        var option = document.createElement("option");
        option.value = before + item[valueOf];
        option.label = item[labelOf];
        option.textContent = item[labelOf];
        list.appendChild(option);
      });
    }
    function ask(input) {
      var part = parts(input);
      var text = part.text.slice(0, 100);
      var key = part.before + "\u0000" + text;
      if (key === asked) return;
      asked = key;
      fetch(source + "?q=" + encodeURIComponent(text), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : {}; })
        .then(function (body) { if (asked === key) fill(body[items] || [], part.before); })
        .catch(function () { /* the field still takes the value as typed */ });
    }
    document.querySelectorAll("input[list='" + list.id + "']").forEach(function (input) {
      input.addEventListener("input", function () {
        clearTimeout(timer);
        // A suggestion just chosen: nothing more to look up.
        if (list.querySelector("option[value='" + CSS.escape(input.value) + "']")) return;
        timer = setTimeout(function () { ask(input); }, 200);
      });
      input.addEventListener("focus", function () { ask(input); });
    });
  }
  document.querySelectorAll("datalist[data-source]").forEach(picker);
})();
