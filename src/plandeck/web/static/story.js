// The story page: warn before leaving the page with unsaved edits in the story's form
// (a form sent back after a conflict or with errors holds unsaved edits from the start).
(function () {
  "use strict";
  var form = document.getElementById("story-form");
  if (!form) return;
  var changed = document.querySelector(".conflict") !== null ||
    form.querySelector('[aria-invalid="true"]') !== null;
  form.addEventListener("input", function () { changed = true; });
  form.addEventListener("change", function () { changed = true; });
  form.addEventListener("submit", function () { changed = false; });
  window.addEventListener("beforeunload", function (event) {
    if (changed) { event.preventDefault(); event.returnValue = ""; }
  });
})();
