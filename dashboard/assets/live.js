// Live updates: poll the page's JSON and reload when what the page
// shows has changed, unless the operator is filling in a form.
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-poll");
  var every = parseInt(body.getAttribute("data-every"), 10);
  var version = body.getAttribute("data-version");
  if (!url || !(every > 0)) {
    return;
  }
  function busy() {
    var el = document.activeElement;
    if (el && (el.tagName === "INPUT" || el.tagName === "SELECT" || el.tagName === "TEXTAREA")) {
      return true;
    }
    var inputs = document.querySelectorAll("form.action input[name=note]");
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].value !== "") {
        return true;
      }
    }
    return false;
  }
  function poll() {
    if (document.hidden) {
      setTimeout(poll, every);
      return;
    }
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) {
        if (d && d.version && d.version !== version && !busy()) {
          location.reload();
          return;
        }
        setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
