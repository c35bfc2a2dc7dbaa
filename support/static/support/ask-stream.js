/* Streams the answer into the ask and follow-up pages (progressive enhancement).
 *
 * A form marked data-stream is posted by fetch() to its own action with
 * "Accept: text/event-stream"; the view answers with Server-Sent Events (sources, delta...,
 * done; see support/streaming.py). The sources and the answer text are shown as they
 * arrive, then the question's page is opened (the view has already added the question to
 * this session, as it does before a redirect). Without fetch streams, or when the reply is
 * not an event stream (a form error, 429), the form is submitted the ordinary way. No
 * inline script or style: the Content-Security-Policy allows neither.
 */
(function () {
  "use strict";
  var panel = document.getElementById("streamed");
  if (!panel || !window.fetch || !window.TextDecoder || !window.ReadableStream) {
    return;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function showSources(sources) {
    var list = byId("streamed-sources").querySelector("ul");
    list.textContent = "";
    sources.forEach(function (source) {
      var item = document.createElement("li");
      var title = document.createElement(source.url && source.url.charAt(0) === "/" ? "a" : "span");
      if (title.tagName === "A") {
        title.href = source.url;
      }
      title.textContent = source.title;
      item.appendChild(title);
      list.appendChild(item);
    });
    byId("streamed-sources").hidden = sources.length === 0;
  }

  function handle(name, data, state) {
    if (name === "sources") {
      showSources(data);
      byId("streamed-status").textContent = panel.dataset.writing;
    } else if (name === "delta") {
      byId("streamed-answer").hidden = false;
      byId("streamed-text").textContent += data.text;
    } else if (name === "done") {
      state.done = data;
    }
  }

  function parseFrame(frame, state) {
    var name = "", data = "";
    frame.split("\n").forEach(function (line) {
      if (line.indexOf("event: ") === 0) {
        name = line.slice(7);
      } else if (line.indexOf("data: ") === 0) {
        data += line.slice(6);
      }
    });
    if (name && data) {
      handle(name, JSON.parse(data), state);
    }
  }

  async function stream(form) {
    var response;
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { Accept: "text/event-stream" },
        credentials: "same-origin",
      });
    } catch (error) {
      // Not re-posted: the server may have stored the question already.
      interrupted(form);
      return;
    }
    var type = response.headers.get("Content-Type") || "";
    if (!response.ok || type.indexOf("text/event-stream") !== 0 || !response.body) {
      // The server answered with a page (form errors, 429, 503): show it as without
      // JavaScript instead of posting again (a second post would count against the limit).
      var page = await response.text();
      document.open();
      document.write(page);
      document.close();
      // A written document's autofocus is not applied as on a load: focus the field with the
      // error (the view marks it autofocus), as the page does without JavaScript.
      var wrong = document.querySelector("[autofocus]");
      if (wrong) {
        wrong.focus();
      }
      return;
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var state = { done: null };
    try {
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) {
          break;
        }
        buffer += decoder.decode(chunk.value, { stream: true });
        var frames = buffer.split("\n\n");
        buffer = frames.pop();
        frames.forEach(function (frame) {
          parseFrame(frame, state);
        });
      }
    } catch (error) {
      state.done = null;
    }
    if (state.done && state.done.id) {
      byId("streamed-status").textContent = panel.dataset.opening;
      window.location.assign(panel.dataset.questionUrl.replace("/0/", "/" + state.done.id + "/"));
    } else {
      interrupted(form);
    }
  }

  /** Shown at once on sending: the question and "Looking through our help articles…" (a cold
   * start took 3 s to send the first byte, with nothing on screen but a dimmed button). */
  function begin(form) {
    var status = byId("streamed-status");
    if (!panel.dataset.looking) {
      panel.dataset.looking = status.textContent;
    }
    status.classList.remove("error");
    status.removeAttribute("role");
    status.textContent = panel.dataset.looking;
    byId("streamed-question").textContent = form.querySelector("textarea[name=question]").value.trim();
    byId("streamed-answer").hidden = true;
    byId("streamed-text").textContent = "";
    byId("streamed-sources").hidden = true;
    panel.hidden = false;
    // The question now stands in the panel: the form goes (it showed it twice), and the focus,
    // which was on its button, moves to the panel rather than drop to the page.
    form.hidden = true;
    panel.focus();
  }

  /** The answer did not arrive: said as an error, announced at once, and the form given back. */
  function interrupted(form) {
    var status = byId("streamed-status");
    status.classList.add("error");
    status.setAttribute("role", "alert");
    status.textContent = panel.dataset.interrupted;
    form.hidden = false;
    giveBack(form);
  }

  /** The form usable again, with the focus in its question box (where the customer asks again). */
  function giveBack(form) {
    form.querySelector("button[type=submit]").removeAttribute("aria-disabled");
    form.querySelector("textarea[name=question]").focus();
  }

  document.querySelectorAll("form[data-stream]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var button = form.querySelector("button[type=submit]");
      if (!form.querySelector("textarea[name=question]").value.trim()) {
        return;  // posted the ordinary way: the page comes back with the portal's message, no "looking" state
      }
      event.preventDefault();
      // Busy by aria-disabled, not disabled: a disabled button drops the focus to the page
      // until the answer starts arriving.
      if (button.getAttribute("aria-disabled") === "true") {
        return;
      }
      button.setAttribute("aria-disabled", "true");
      begin(form);
      stream(form);
    });
  });
})();
