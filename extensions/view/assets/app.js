// Small enhancements for the embedded pages; they work without it.
(function () {
  "use strict";

  // Each action's token is single-use: a second click would only earn an "action expired"
  // page. Let a form submit once, and show that it is on its way.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("data-sent")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sent", "1");
    var button = form.querySelector("button[type=submit]");
    if (button) {
      button.setAttribute("aria-disabled", "true");
    }
  });
  // Coming back with the browser's Back button shows the page as it was left: re-arm it.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) {
      return;
    }
    document.querySelectorAll("form[data-sent]").forEach(function (form) {
      form.removeAttribute("data-sent");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.removeAttribute("aria-disabled");
      }
    });
  });

  // The server writes times in UTC; show them in the viewer's own time zone.
  var format;
  try {
    format = new Intl.DateTimeFormat(document.documentElement.lang || "en", {
      dateStyle: "medium",
      timeStyle: "short"
    });
  } catch (e) {
    return;
  }
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      el.title = el.textContent;
      el.textContent = format.format(when);
    }
  });
})();
