// Shared page behaviour. A failed htmx request shows its message in the #flash region
// (problem+json detail, or the error page's text) instead of failing silently.
(function () {
  "use strict";
  function show(message) {
    var flash = document.getElementById("flash");
    if (!flash) return;
    flash.textContent = message;
    flash.hidden = false;
  }
  function messageOf(xhr) {
    var type = xhr.getResponseHeader("content-type") || "";
    try {
      if (type.indexOf("json") !== -1) {
        var body = JSON.parse(xhr.responseText);
        return body.detail || body.title || String(xhr.status);
      }
      if (type.indexOf("html") !== -1) {
        var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
        var main = doc.querySelector("main");
        return (main ? main.textContent : doc.body.textContent).trim().replace(/\s+/g, " ");
      }
    } catch (ignored) { /* fall through to the status */ }
    return xhr.status + " " + xhr.statusText;
  }
  document.addEventListener("htmx:responseError", function (event) {
    show(messageOf(event.detail.xhr));
  });
  document.addEventListener("htmx:sendError", function () {
    show(document.documentElement.lang === "fa" ? "اتصال به سرور برقرار نشد." : "The server could not be reached.");
  });
  window.plandeck = { showMessage: show };
})();
