/* The language switcher (header form.lang) reloads the page in the other language: what the
 * customer had typed into a box of the page (a question, an email address, a message) is kept
 * for that one reload in sessionStorage and put back into the same box, if it is empty. Typed
 * text had been lost on every switch. Nothing is kept past the next page. */
(function () {
  "use strict";
  var KEY = "portal.typed";

  function boxes() {
    return document.querySelectorAll(
      "main textarea[name]:not([readonly]), main input[name][type=email], main input[name][type=text]"
    );
  }

  function key(box) {
    return (box.form ? box.form.getAttribute("action") || "" : "") + "|" + box.name;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
      sessionStorage.removeItem(KEY);
    } catch (e) {
      saved = null; /* storage off (private mode): nothing kept, nothing lost beyond before */
    }
    if (saved && saved.path === location.pathname && saved.values) {
      boxes().forEach(function (box) {
        var value = saved.values[key(box)];
        if (!box.value && typeof value === "string") box.value = value;
      });
    }
    var switcher = document.querySelector("header form.lang");
    if (!switcher) return;
    switcher.addEventListener("submit", function () {
      var values = {};
      var any = false;
      boxes().forEach(function (box) {
        if (box.value) {
          values[key(box)] = box.value;
          any = true;
        }
      });
      if (!any) return;
      var next = switcher.querySelector("input[name=next]");
      var path = new URL(next ? next.value : location.href, location.href).pathname;
      try {
        sessionStorage.setItem(KEY, JSON.stringify({ path: path, values: values }));
      } catch (e) {
        /* storage full or off: the switch goes on without it */
      }
    });
  });
})();
