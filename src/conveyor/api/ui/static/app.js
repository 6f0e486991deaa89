// Conveyor's UI behaviour. The page's Content-Security-Policy forbids inline scripts, so
// every handler lives here, attached once to the document.
(function () {
  "use strict";

  function dialog() { return document.getElementById("dialog"); }

  function flash(message, kind) {
    var area = document.getElementById("flash");
    if (!area) { return; }
    var note = document.createElement("div");
    note.className = "flash flash-" + kind;
    note.setAttribute("role", kind === "error" ? "alert" : "status");
    note.textContent = message;
    area.replaceChildren(note);
  }

  function errorText(xhr) {
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.message) { return body.message; }
    } catch (ignored) { /* not JSON */ }
    return xhr.responseText || ("the server answered " + xhr.status);
  }

  // A dialog's content arrives by htmx (Sync, Delete): show it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var box = dialog();
    if (event.detail.target === box && box.innerHTML.trim() && !box.open) {
      box.showModal();
      var field = box.querySelector("input:not([type=hidden]):not([type=checkbox])");
      if (field) { field.focus(); }
    }
  });

  // A form in the dialog did its work: close the dialog.
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = dialog();
    if (box && box.open && box.contains(event.detail.elt) && event.detail.successful &&
        event.detail.requestConfig.verb !== "get") {
      box.close();
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    flash(errorText(event.detail.xhr), "error");
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-dialog]")) { dialog().close(); }
    var tab = event.target.closest(".tabs a");
    if (tab) {
      tab.parentElement.querySelectorAll("a").forEach(function (a) {
        a.classList.toggle("active", a === tab);
        if (a === tab) { a.setAttribute("aria-current", "page"); } else { a.removeAttribute("aria-current"); }
      });
    }
  });

  // Delete asks for the app's name: the button wakes up once it is typed (the server checks too).
  document.addEventListener("input", function (event) {
    var input = event.target.closest("[data-confirm-name]");
    if (input) {
      input.form.querySelector("button[type=submit]").disabled = input.value.trim() !== input.dataset.confirmName;
    }
  });

  // Filters apply as soon as they change.
  document.addEventListener("change", function (event) {
    var form = event.target.closest("form[data-autosubmit]");
    if (form) { form.requestSubmit(); }
  });

  // Logs follow their end, unless the reader scrolled up.
  document.addEventListener("htmx:sseBeforeMessage", function (event) {
    var view = event.target;
    if (view.id === "log-view") {
      view.dataset.follow = view.scrollHeight - view.scrollTop - view.clientHeight < 40 ? "1" : "";
    }
  });
  document.addEventListener("htmx:sseMessage", function (event) {
    var view = event.target;
    if (view.id === "log-view" && view.dataset.follow) { view.scrollTop = view.scrollHeight; }
  });
})();
