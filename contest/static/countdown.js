// Keeps "N days M hours left" current while the page stays open. The server renders the same
// text first, so the page reads right without JavaScript.
(function () {
  "use strict";
  var source = document.getElementById("countdown-words");
  if (!source) return;
  var words = JSON.parse(source.textContent);
  // The server's words carry the number for n = 1 and n = 2; put any number in their place.
  function unit(n, one, many) {
    return (n === 1 ? words[one] : words[many]).replace(/\d+/, String(n));
  }
  function render(ms) {
    if (ms <= 0) return words.closed;
    var total = Math.floor(ms / 1000);
    var days = Math.floor(total / 86400);
    var hours = Math.floor((total % 86400) / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    if (!days && !hours) minutes = Math.max(1, minutes);
    var parts = [];
    if (days) parts.push(unit(days, "day", "days"));
    if (hours) parts.push(unit(hours, "hour", "hours"));
    if (minutes && !days) parts.push(unit(minutes, "minute", "minutes"));
    return words.left.replace("%(time)s", parts.join(" "));
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      el.textContent = render(Date.parse(el.getAttribute("data-deadline")) - now);
    });
  }
  tick();
  setInterval(tick, 30000);
})();
