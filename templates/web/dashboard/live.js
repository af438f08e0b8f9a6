// The dashboard's live status: while something is in flight, fetch this page again every few
// seconds and put the fresh copy of each [data-live] element in place of the old one, except
// where an editor is typing or has changed a field (a form being edited is never reset).
// Without scripts the page simply stays as it is: reload it to see the news.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="live"]');
  if (!meta || !window.fetch || !window.DOMParser) { return; }
  var every = Math.max(1, parseInt(meta.content, 10) || 2) * 1000;

  function edited(el) {
    var active = document.activeElement;
    if (active && active !== document.body && el.contains(active) &&
        /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName)) { return true; }
    var fields = el.querySelectorAll("input, select, textarea");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden" || f.type === "submit") { continue; }
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if (f.value !== f.defaultValue) { return true; }
    }
    return false;
  }

  function tick() {
    fetch(window.location.href, {credentials: "same-origin", redirect: "manual",
                                 headers: {"X-Live-Refresh": "1"}})
      .then(function (answer) {
        if (answer.status !== 200) { throw new Error("status " + answer.status); }
        return answer.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var olds = document.querySelectorAll("[data-live][id]");
        for (var i = 0; i < olds.length; i++) {
          var now = fresh.getElementById(olds[i].id);
          if (now && !edited(olds[i])) { olds[i].replaceWith(document.importNode(now, true)); }
        }
        if (fresh.querySelector('meta[name="live"]')) { window.setTimeout(tick, every); }
        else { document.documentElement.setAttribute("data-live-done", "1"); }
      })
      .catch(function () { window.setTimeout(tick, every * 3); });
  }
  window.setTimeout(tick, every);
}());
