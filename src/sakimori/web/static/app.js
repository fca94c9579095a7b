// Progressive enhancement only: every page works without this file.
// 1. The inventory upload shows its progress (the form still posts normally without it).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("upload-form");
  var bar = document.getElementById("upload-progress");
  if (!form || !bar || !window.XMLHttpRequest || !window.FormData) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    bar.hidden = false;
    request.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        bar.textContent = bar.value + " %";
      }
    });
    request.addEventListener("load", function () {
      var page = new DOMParser().parseFromString(request.responseText, "text/html");
      document.title = page.title;
      document.body.replaceWith(document.adoptNode(page.body));
      var main = document.getElementById("main");
      if (main) { main.focus(); }
      // Scripts in the replaced page do not run again: re-attach to the new form.
      document.dispatchEvent(new Event("DOMContentLoaded"));
    });
    request.addEventListener("error", function () { form.submit(); });
    request.send(new FormData(form));
  });
});
