// Keeps every [data-job] block current from its job's JSON until the job ends; when the job
// this page is about ends, the page is loaded again to show its outcome.
(function () {
  "use strict";
  var blocks = document.querySelectorAll("[data-job]");
  if (!blocks.length) return;

  function follow(block) {
    var status = block.getAttribute("data-status");
    if (status === "done" || status === "failed") return;
    var bar = block.querySelector("progress");
    var count = block.querySelector("[data-job-count]");
    var error = block.querySelector("[data-job-error]");
    var number = new Intl.NumberFormat(document.documentElement.lang || "vi");
    function poll() {
      fetch(block.getAttribute("data-job"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (!job) { setTimeout(poll, 5000); return; }
          var total = job.progress.total, done = job.progress.done;
          bar.max = total || 1;
          bar.value = total ? done : (job.status === "done" ? 1 : 0);
          count.textContent = number.format(done) + " / " + number.format(total);
          block.setAttribute("data-status", job.status);
          if (job.error) { error.textContent = job.error; error.hidden = false; }
          if (job.status === "done" || job.status === "failed") {
            // The outcome (a summary, a download, a retry button) is drawn by the server.
            window.location.reload();
            return;
          }
          setTimeout(poll, 1000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }
  Array.prototype.forEach.call(blocks, follow);
})();
