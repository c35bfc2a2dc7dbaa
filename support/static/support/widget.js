/*
 * Support widget: one line on any page adds a help button and a chat panel.
 *
 *   <script src="https://SUPPORT-HOST/widget.js" defer
 *           data-lang="ko|en" data-position="right|left" data-accent="#2f5bd3"></script>
 *
 * The panel lives in a shadow DOM (the host page's CSS does not reach it, its CSS does
 * not leak out) and talks to the portal's JSON API on the script's own origin, without
 * cookies (credentials: 'omit'). The site must be in the portal's PORTAL_WIDGET_ORIGINS
 * allow-list (CORS); otherwise the browser withholds every answer and the widget says so
 * in the console. Everything shown from the API is set as text, never as HTML.
 *
 * The panel holds one conversation: follow-ups carry its conversation_id and token, and
 * the thread is kept in this tab's sessionStorage (one per support host), so reloading the
 * page keeps it. Answers stream in when the portal sends Server-Sent Events.
 *
 * Layout of this file: strings, API calls (one function per call), the stored thread,
 * rendering, start-up.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__supportWidgetLoaded) return;
  window.__supportWidgetLoaded = true;

  var API_BASE = new URL(script.src, document.baseURI).origin;

  // --- strings ---------------------------------------------------------------------------
  var STRINGS = {
    en: {
      open: "Help", close: "Close", title: "Help centre", newConversation: "New conversation",
      intro: "Ask in Korean or English. We answer from our help articles and show where each answer comes from.",
      placeholder: "Type your question", send: "Ask", thinking: "Looking through our help articles…",
      sources: "Sources", excerpt: "This is an excerpt from our help articles. Please check the source.",
      fromArticleIn: { ko: "This excerpt comes from an article in Korean.", en: "This excerpt comes from an article in English." },
      notSure: "We are not sure about this one, so we would rather not guess. Our support team can answer it by email.",
      notPrepared: "We could not prepare an answer right now. Our support team can answer it by email.",
      tooLong: "Questions are limited to {limit} characters; yours has {count}.",
      empty: "Please type a question.", newTab: "Opens in a new tab.",
      nothingFound: "We could not find anything about this in our help articles. Our support team can answer it by email.",
      escalateOffer: "Not what you needed? Send it to our support team",
      email: "Your email address", details: "Anything else we should know? (optional)",
      escalate: "Send to our support team", ticketSent: "Sent. Your ticket reference is {ref}. We will reply by email.",
      ticketExists: "You already sent this question: ticket {ref}.",
      addedToTicket: "What you wrote was added to it.",
      ackNotSent: "We did not send a confirmation email this time, but our support team has your question.",
      helpful: "Did this answer your question?", yes: "Yes", no: "No",
      thanks: "Thank you for your feedback.", sorry: "Thank you for telling us. Sorry the answer did not help.",
      comment: "Anything to add? (optional)", sendComment: "Send comment", commentSent: "Thank you, we read every comment.",
      restarted: "Your earlier conversation is no longer available, so this question starts a new one.",
      gone: "This conversation is no longer available. Choose New conversation and ask your question again.",
      interrupted: "The answer was interrupted. Please ask again.",
      tooMany: "Too many requests. Please try again in {s} seconds.",
      busy: "The service is unavailable for a moment. Please try again in a few seconds.",
      unavailable: "The help service is not available on this site right now.",
      invalid: "Please check what you typed.",
    },
    ko: {
      open: "도움말", close: "닫기", title: "고객센터", newConversation: "새 대화",
      intro: "한국어나 영어로 질문하세요. 도움말 문서에서 답을 찾아 출처와 함께 보여 드립니다.",
      placeholder: "질문을 입력하세요", send: "질문하기", thinking: "도움말 문서를 찾아보는 중…",
      sources: "출처", excerpt: "도움말 문서에서 발췌한 내용입니다. 출처를 확인해 주세요.",
      fromArticleIn: { ko: "이 발췌문은 한국어 문서에서 가져왔습니다.", en: "이 발췌문은 영어 문서에서 가져왔습니다." },
      notSure: "이 질문은 확실하지 않아 추측하지 않겠습니다. 고객센터가 이메일로 답해 드릴 수 있습니다.",
      notPrepared: "지금은 답변을 준비하지 못했습니다. 고객센터가 이메일로 답해 드릴 수 있습니다.",
      tooLong: "질문은 {limit}자까지 입력할 수 있습니다. 입력하신 질문은 {count}자입니다.",
      empty: "질문을 입력해 주세요.", newTab: "새 탭에서 열립니다.",
      nothingFound: "도움말 문서에서 이 내용에 관한 정보를 찾지 못했습니다. 고객센터가 이메일로 답해 드릴 수 있습니다.",
      escalateOffer: "원하던 답이 아닌가요? 고객센터에 보내기",
      email: "이메일 주소", details: "더 알려 주실 내용이 있나요? (선택)",
      escalate: "고객센터에 보내기", ticketSent: "보냈습니다. 문의 번호는 {ref}입니다. 이메일로 답해 드리겠습니다.",
      ticketExists: "이미 보낸 질문입니다: 문의 {ref}.",
      addedToTicket: "작성하신 내용을 그 문의에 추가했습니다.",
      ackNotSent: "이번에는 확인 이메일을 보내지 않았지만, 고객센터가 질문을 받았습니다.",
      helpful: "답변이 도움이 되었나요?", yes: "예", no: "아니요",
      thanks: "피드백을 보내 주셔서 감사합니다.", sorry: "알려 주셔서 감사합니다. 답변이 도움이 되지 않아 죄송합니다.",
      comment: "덧붙일 말씀이 있나요? (선택)", sendComment: "의견 보내기", commentSent: "감사합니다. 보내 주신 의견은 모두 읽습니다.",
      restarted: "이전 대화를 더 이상 이어갈 수 없어 이 질문으로 새 대화를 시작합니다.",
      gone: "이 대화를 더 이상 이어갈 수 없습니다. ‘새 대화’를 누르고 다시 질문해 주세요.",
      interrupted: "답변이 중간에 끊겼습니다. 다시 질문해 주세요.",
      tooMany: "요청이 너무 많습니다. {s}초 뒤에 다시 시도해 주세요.",
      busy: "지금은 잠시 서비스를 이용할 수 없습니다. 몇 초 뒤에 다시 시도해 주세요.",
      unavailable: "지금 이 사이트에서는 도움말 서비스를 사용할 수 없습니다.",
      invalid: "입력한 내용을 확인해 주세요.",
    },
  };

  function pickLanguage() {
    var wanted = (script.dataset.lang || document.documentElement.lang || navigator.language || "en").toLowerCase();
    return wanted.indexOf("ko") === 0 ? "ko" : "en";
  }
  var LANG = pickLanguage();
  var T = STRINGS[LANG];
  var MAX_QUESTION_CHARS = 1000;  // the portal's QUESTION_MAX_CHARS (its 400 says the same)
  function t(key, values) {
    return T[key].replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }

  // --- API calls: one function each; they resolve to {status, data, retryAfter} ---------
  function ApiUnavailable(message) { this.message = message; }
  function StreamBroken(message) { this.message = message; }

  /** Server-Sent Events from a fetch body, read as they arrive: events are separated by a
   *  blank line, `event:` names one, its `data:` lines are joined with "\n" and parsed as
   *  JSON. Calls onEvent(name, data) for each event but `done`, whose data (the normal JSON
   *  response) the promise resolves to; rejects with StreamBroken if the stream ends first. */
  function readEvents(body, onEvent) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    var result = null;

    function dispatch(block) {
      var name = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;  // a comment (keep-alive)
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (!data.length) return;
      var parsed = JSON.parse(data.join("\n"));
      if (name === "done") result = parsed;
      else onEvent(name, parsed);
    }

    function pump() {
      return reader.read().then(function (chunk) {
        // CRLF and CR end lines too; a CR at the end of a chunk waits for a possible LF.
        buffer = (buffer + decoder.decode(chunk.value || new Uint8Array(0), { stream: !chunk.done }))
          .replace(/\r\n|\r(?!$)/g, "\n");
        if (chunk.done) buffer = buffer.replace(/\r$/, "\n") + "\n\n";
        var blocks = buffer.split("\n\n");
        buffer = blocks.pop();
        for (var i = 0; i < blocks.length && result === null; i++) dispatch(blocks[i]);
        if (result !== null) {
          reader.cancel().catch(function () {});  // `done` is the last word: stop reading
          return result;
        }
        if (chunk.done) throw new StreamBroken("the stream ended without a done event");
        return pump();
      });
    }

    return pump().catch(function (error) {
      reader.cancel().catch(function () {});
      throw error instanceof StreamBroken ? error : new StreamBroken(String(error));
    });
  }

  /** POST a JSON body. With onEvent the request also accepts a stream: a text/event-stream
   *  response is read by readEvents; any other response is read as JSON, as before. */
  function postJson(path, body, onEvent) {
    return fetch(API_BASE + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",  // never the host site's cookies, and the portal needs none
      headers: {
        "Content-Type": "application/json",
        "Accept": onEvent ? "text/event-stream, application/json" : "application/json",
        "Accept-Language": LANG,
      },
      body: JSON.stringify(body),
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var streamed = Boolean(onEvent && response.body && type.indexOf("text/event-stream") === 0);
      var reading = streamed ? readEvents(response.body, onEvent) : response.json().catch(function () { return {}; });
      return reading.then(function (data) {
        // A stream answers 200 with the created question in `done`: the same as the JSON 201.
        var status = streamed && response.status === 200 ? 201 : response.status;
        return { status: status, data: data, retryAfter: response.headers.get("Retry-After") };
      });
    }, function (error) {
      // A CORS refusal looks like a network error to scripts: say what to do about it.
      console.error(
        "[support widget] " + API_BASE + " did not answer this site (" + window.location.origin + "). " +
        "If it is the portal's CORS allow-list, add this origin to PORTAL_WIDGET_ORIGINS. (" + error + ")"
      );
      throw new ApiUnavailable(String(error));
    });
  }

  /** POST /api/v1/questions/ {question[, conversation_id, token]} -> 201 {id, conversation_id, token,
   *  answer, answer_kind, answer_span, answer_span_start, confidence, escalation_recommended, status,
   *  sources: [{title, url, excerpt, score, language}]} | 404 (the conversation is unknown or not this token's) | 400 {question: [..]}.
   *  Streamed (text/event-stream): `sources` (the list), `delta` ({text}) ..., then `done` (the object). */
  function askQuestion(question, conversation, onEvent) {
    var body = { question: question };
    if (conversation) {
      body.conversation_id = conversation.id;
      body.token = conversation.token;
    }
    return postJson("/api/v1/questions/", body, onEvent);
  }

  /** POST /api/v1/tickets/ {question_id, token, email, details} -> 201 {reference, status, reason,
   *  acknowledgement} | 409 {detail, reference, status, added} | 404 | 400 {field: [messages]}. */
  function createTicket(questionId, token, email, details) {
    return postJson("/api/v1/tickets/", { question_id: questionId, token: token, email: email, details: details });
  }

  /** POST /api/v1/questions/<id>/feedback/ {token, helpful, comment} -> 201 (first) | 200 (replaced)
   *  | 404 | 409 (the answer was withheld) | 400 {comment: [..]}. */
  function sendFeedback(questionId, token, helpful, comment) {
    return postJson("/api/v1/questions/" + encodeURIComponent(questionId) + "/feedback/",
                    { token: token, helpful: helpful, comment: comment });
  }

  // --- the thread: {conversationId, token, entries}, kept for this tab per support host ------
  // entries: {type: "question", text} | {type: "answer", answer, feedback: null|true|false}
  //        | {type: "ticket", reference, existing, added, ackNotSent} | {type: "notice", key}
  var STORAGE_KEY = "support-widget:" + API_BASE;

  function emptyThread() { return { version: 1, conversationId: null, token: "", entries: [] }; }

  function loadThread() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.version === 1 && Array.isArray(saved.entries)) return saved;
    } catch (error) { /* storage blocked or a damaged value: start afresh */ }
    return emptyThread();
  }

  function saveThread(thread) {
    try { window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(thread)); }
    catch (error) { /* storage blocked or full: the thread lasts until the page is left */ }
  }

  /** The question's language as the portal detects it (knowledge.analysis.detect_language):
   *  Korean when Hangul syllables are at least a third of its letters, read composed as the
   *  portal reads it (Korean typed on macOS arrives decomposed). */
  function questionLanguage(text) {
    var composed = (text || "").normalize("NFC");
    var hangul = (composed.match(/[\uac00-\ud7a3]/g) || []).length;
    var letters = (composed.match(/\p{L}/gu) || []).length;
    return hangul && hangul * 3 >= letters ? "ko" : "en";
  }

  function storedAnswer(data, question) {  // what the thread needs of a question's response
    return {
      id: data.id, token: data.token, answer: data.answer || "", answer_kind: data.answer_kind || "",
      answer_span: data.answer_span || "", answer_span_start: typeof data.answer_span_start === "number" ? data.answer_span_start : null,
      asked_in: questionLanguage(question),
      escalation_recommended: !!data.escalation_recommended, status: data.status || "",
      sources: (data.sources || []).map(function (s) { return { title: s.title, url: s.url, language: s.language || "" }; }),
    };
  }

  // --- rendering ---------------------------------------------------------------------------
  var STYLESHEET = [
    ":host { all: initial; }",
    "* { box-sizing: border-box; font-family: system-ui, -apple-system, 'Segoe UI', 'Noto Sans KR', sans-serif; }",
    ".launcher { position: fixed; bottom: 20px; z-index: 2147483000; border: 0; border-radius: 999px;",
    "  padding: 12px 20px; font-size: 16px; font-weight: 600; color: #fff; background: var(--accent);",
    "  box-shadow: 0 4px 14px rgba(0,0,0,.25); cursor: pointer; }",
    ".right { right: 20px; } .left { left: 20px; }",
    ".launcher:focus-visible, button:focus-visible, textarea:focus-visible, input:focus-visible, a:focus-visible",
    "  { outline: 3px solid var(--accent); outline-offset: 2px; }",
    "header button:focus-visible { outline-color: #fff; }",
    ".panel { position: fixed; bottom: 84px; z-index: 2147483000; width: 380px; max-height: min(640px, calc(100vh - 104px));",
    "  display: flex; flex-direction: column; background: #fff; color: #1b1f24; border-radius: 12px;",
    "  box-shadow: 0 10px 40px rgba(0,0,0,.3); font-size: 15px; line-height: 1.5; overflow: hidden; }",
    ".panel[hidden] { display: none; } .panel:focus { outline: none; }",
    "header { display: flex; align-items: center; justify-content: space-between; gap: 8px; padding: 12px 16px;",
    "  background: var(--accent); color: #fff; }",
    "header h2 { margin: 0; font-size: 17px; } header div { display: flex; gap: 6px; }",
    "header button { background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.7);",
    "  border-radius: 6px; padding: 4px 10px; font-size: 14px; cursor: pointer; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px 16px; display: flex; flex-direction: column; gap: 10px; }",
    ".msg { padding: 10px 12px; border-radius: 10px; max-width: 92%; word-wrap: break-word; }",
    ".msg > p:first-child { white-space: pre-wrap; }",
    ".msg mark { background: #fff3b0; color: inherit; padding: 0 .1em; border-radius: 2px; }",
    ".msg p { margin: 0 0 4px; } .msg p:last-child { margin-bottom: 0; }",
    ".me { align-self: flex-end; background: #e8eefc; }",
    ".bot { align-self: flex-start; background: #f3f4f6; }",
    ".warn { background: #fff4e0; } .error { background: #fde8e8; }",
    ".notice { align-self: center; background: transparent; color: #555c66; font-size: 13px; text-align: center; }",
    ".muted { color: #555c66; font-size: 13px; margin: 4px 0; }",
    ".sources { margin: 6px 0 0; padding-left: 18px; } .sources a { color: #1d4ed8; }",
    ".feedback { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin-top: 8px; }",
    ".feedback p { margin: 0; flex-basis: 100%; }",
    ".choice { border: 1px solid var(--accent); border-radius: 6px; background: #fff; color: #1b1f24;",
    "  padding: 4px 14px; font-size: 14px; cursor: pointer; }",
    "form { display: flex; flex-direction: column; gap: 6px; padding: 12px 16px; border-top: 1px solid #e5e7eb; }",
    ".msg form { padding: 8px 0 0; border: 0; }",
    "label { font-size: 13px; font-weight: 600; }",
    "textarea, input { width: 100%; font-size: 15px; padding: 8px; border: 1px solid #b6bcc6; border-radius: 6px; }",
    "textarea { resize: vertical; min-height: 44px; }",
    "form button, .link { align-self: flex-start; border: 0; border-radius: 6px; padding: 8px 14px;",
    "  font-size: 15px; color: #fff; background: var(--accent); cursor: pointer; }",
    ".link { background: transparent; color: #1d4ed8; padding: 4px 0; text-decoration: underline; text-align: left; }",
    "button[aria-disabled=true] { opacity: .6; cursor: wait; }",
    ".field-error { margin: 0; color: #b42318; font-size: 13px; }",
    // A small or short window (a phone, or a laptop at 200% zoom) gets the whole screen, modal.
    "@media (max-width: 480px), (max-height: 480px) {",
    "  .panel { left: 0; right: 0; bottom: 0; width: 100%; max-height: 100%; height: 100%; border-radius: 0; }",
    "}",
    // Shorter still (a laptop at 400% zoom: 256 px), the fixed header and form left the answers
    // 37 px: the whole panel scrolls instead, the conversation at its full height.
    "@media (max-height: 360px) {",
    "  .panel { overflow-y: auto; } .log { flex: none; overflow: visible; } header { padding: 6px 12px; }",
    "}",
  ].join("\n");

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function adoptStyles(root) {
    // Constructed stylesheets are not inline <style>: a host page with a strict CSP keeps it.
    if ("adoptedStyleSheets" in Document.prototype && "replaceSync" in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLESHEET);
      root.adoptedStyleSheets = [sheet];
    } else {  // older browsers: works where the host page allows inline styles
      root.appendChild(el("style", { text: STYLESHEET }));
    }
  }

  function accentColour() {
    var wanted = script.dataset.accent || "";
    return window.CSS && CSS.supports && CSS.supports("color", wanted) ? wanted : "#2f5bd3";
  }

  function bubble(kind, text, children) {
    // The customer's own words carry their language, for screen readers (a Korean question in
    // an English widget was read with English rules).
    var attrs = kind === "me" ? { text: text, lang: questionLanguage(text) } : { text: text };
    return el("div", { class: "msg " + kind }, [text ? el("p", attrs) : null].concat(children || []));
  }

  /** The answer's text with its span marked (`answer_span` at `answer_span_start`, counted in code
   *  points as the API counts them), as the answer page marks it; plain text when the span is
   *  missing or does not stand there. */
  function answerText(answer) {
    var chars = Array.from(answer.answer), span = Array.from(answer.answer_span || ""), at = answer.answer_span_start;
    var first = answer.sources[0];  // an excerpt is in its article's language (screen readers)
    var attrs = answer.answer_kind === "extractive" && first && first.language ? { lang: first.language } : {};
    if (!span.length || typeof at !== "number" || chars.slice(at, at + span.length).join("") !== span.join("")) {
      return el("p", Object.assign({ text: answer.answer }, attrs));
    }
    return el("p", attrs, [
      document.createTextNode(chars.slice(0, at).join("")),
      el("mark", { class: "answer-span", text: span.join("") }),
      document.createTextNode(chars.slice(at + span.length).join("")),
    ]);
  }

  /** Runs `start()` (a promise) with `buttons` marked busy: aria-disabled rather than disabled,
   *  so a focused button keeps the focus (a disabled one drops it to the page, where Tab and
   *  Escape no longer reach the panel). Nothing happens while they are busy already. */
  function whileBusy(buttons, start) {
    if (buttons.some(function (b) { return b.getAttribute("aria-disabled") === "true"; })) return;
    buttons.forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
    start().then(function () { buttons.forEach(function (b) { b.removeAttribute("aria-disabled"); }); });
  }

  function sourceList(sources) {
    return el("ul", { class: "sources" }, sources.map(function (source) {
      var href = new URL(source.url, API_BASE);
      var safe = href.origin === API_BASE;  // links only to the portal's own article pages
      var lang = source.language ? { lang: source.language } : {};
      return el("li", {}, [safe
        ? el("a", Object.assign({ href: href.href, target: "_blank", rel: "noopener", text: source.title,
                                  "aria-describedby": "support-new-tab" }, lang))
        : el("span", Object.assign({ text: source.title }, lang))]);
    }));
  }

  function Widget() {
    var host = el("div", { "data-support-widget": "" });
    document.body.appendChild(host);
    this.root = host.attachShadow({ mode: "open" });
    adoptStyles(this.root);
    host.style.setProperty("--accent", accentColour());
    var side = script.dataset.position === "left" ? "left" : "right";

    this.launcher = el("button", {
      class: "launcher " + side, type: "button", "aria-expanded": "false", "aria-controls": "support-panel", text: T.open,
    });
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite" });
    // No maxlength: it cut a longer paste silently; ask() says the limit at the box instead.
    this.input = el("textarea", { id: "support-question", name: "question", rows: "2", placeholder: T.placeholder,
                                  required: "" });
    // role=alert: the focus is already in the box when its message appears, so nothing else reads it out.
    this.inputError = el("p", { id: "support-question-error", class: "field-error", role: "alert", hidden: "" });
    this.sendButton = el("button", { type: "submit", text: T.send });
    // novalidate: ask() says an empty box at the box; the browser's "fill out this field" bubble
    // had taken the focus from "Ask" on a second Enter while the first question was on its way.
    this.form = el("form", { novalidate: "" }, [
      el("label", { for: "support-question", text: T.placeholder }), this.input, this.inputError, this.sendButton,
    ]);
    this.newButton = el("button", { type: "button", class: "new-conversation", text: T.newConversation });
    this.closeButton = el("button", { type: "button", class: "close", text: T.close });
    this.panel = el("section", {
      id: "support-panel", class: "panel " + side, role: "dialog", "aria-labelledby": "support-title", hidden: "",
      lang: LANG, tabindex: "-1",  // a click on its text focuses the panel, not the page beneath
    }, [
      el("header", {}, [el("h2", { id: "support-title", text: T.title }), el("div", {}, [this.newButton, this.closeButton])]),
      this.log, this.form,
      el("span", { id: "support-new-tab", hidden: "", text: T.newTab }),  // the sources' links say so (aria-describedby)
    ]);
    this.root.appendChild(this.launcher);
    this.root.appendChild(this.panel);
    this.busy = false;
    this.thread = loadThread();
    try {
      this.render();
    } catch (error) {  // a stored thread this version cannot show: start afresh rather than not at all
      this.thread = emptyThread();
      saveThread(this.thread);
      this.render();
    }

    var self = this;
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.newButton.addEventListener("click", function () { self.startOver(); });
    // On the document, not the panel: with the focus outside it (a click on the page beneath a
    // full-screen panel), Tab and Escape must still reach it.
    document.addEventListener("keydown", function (event) {
      if (self.panel.hidden) return;
      var modal = window.matchMedia(FULL_SCREEN).matches;
      var fromPanel = event.composedPath().indexOf(self.panel) >= 0;
      if (event.key === "Escape" && (fromPanel || modal)) self.close();
      else if (event.key === "Tab" && modal) self.keepFocusInside(event);
    });
    window.matchMedia(FULL_SCREEN).addEventListener("change", function () { self.markModal(); });
    this.input.addEventListener("keydown", function (event) {
      // Enter that ends a Korean (IME) composition only commits the syllable: sending then
      // left the last syllable behind in the emptied box (keyCode 229: Safari's composing Enter).
      if (event.isComposing || event.keyCode === 229) return;
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); self.form.requestSubmit(); }
    });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.ask(); });
  }

  // The panel fills the screen on a phone or a short window: it is then modal, and Tab cycles
  // inside it (focus had moved to the page hidden underneath).
  var FULL_SCREEN = "(max-width: 480px), (max-height: 480px)";

  /** Tab (`event`) while the panel is modal: from its last control (or from outside it) to its
   *  first, Shift-Tab the other way round. */
  Widget.prototype.keepFocusInside = function (event) {
    var focusable = Array.prototype.filter.call(
      this.panel.querySelectorAll("button, textarea, input, a[href]"),
      function (node) { return !node.disabled && node.getClientRects().length > 0; }
    );
    if (!focusable.length) return;
    var first = focusable[0], last = focusable[focusable.length - 1], active = this.root.activeElement;
    var inside = active !== null && active !== this.panel && this.panel.contains(active);
    if (event.shiftKey && (active === first || !inside)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || (!inside && active !== this.panel))) {
      event.preventDefault();  // from the panel itself, Tab goes on to its first control unaided
      first.focus();
    }
  };

  /** `aria-modal` while the panel fills the screen: set on opening and when the window's size
   *  crosses the limit (it had stayed as it was when opened). */
  Widget.prototype.markModal = function () {
    if (!this.panel.hidden && window.matchMedia(FULL_SCREEN).matches) this.panel.setAttribute("aria-modal", "true");
    else this.panel.removeAttribute("aria-modal");
  };

  Widget.prototype.toggle = function () { if (this.panel.hidden) this.open(); else this.close(); };
  Widget.prototype.open = function () {
    this.panel.hidden = false;
    this.markModal();
    this.launcher.setAttribute("aria-expanded", "true");
    this.log.scrollTop = this.log.scrollHeight;
    this.input.focus();
  };
  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
  };

  Widget.prototype.say = function (kind, text, children) {
    var message = bubble(kind, text, children);
    this.log.appendChild(message);
    message.scrollIntoView({ block: "nearest" });
    return message;
  };

  Widget.prototype.sayFailure = function (result) {
    if (result instanceof ApiUnavailable) return this.say("bot error", T.unavailable);
    if (result instanceof StreamBroken) return this.say("bot error", T.interrupted);
    if (result.status === 429) return this.say("bot error", t("tooMany", { s: result.retryAfter || 60 }));
    if (result.status >= 500) return this.say("bot error", T.busy);
    // 404: the conversation's question is gone or its token no longer matches; the portal's
    // detail is English for integrators, the customer gets a way forward in their language.
    if (result.status === 404) return this.say("bot error", T.gone);
    var messages = [];
    Object.keys(result.data || {}).forEach(function (field) {
      messages = messages.concat(result.data[field]);
    });
    return this.say("bot error", messages.length ? messages.join(" ") : T.invalid);
  };

  // The thread: every change is saved, then shown.
  Widget.prototype.record = function (entry) {
    this.thread.entries.push(entry);
    saveThread(this.thread);
    var message = this.entryMessage(entry, true);
    this.log.appendChild(message);
    message.scrollIntoView({ block: "nearest" });
    return message;
  };

  Widget.prototype.render = function () {
    this.log.textContent = "";
    this.log.appendChild(bubble("bot", T.intro));
    var entries = this.thread.entries;
    for (var i = 0; i < entries.length; i++) this.log.appendChild(this.entryMessage(entries[i], i === entries.length - 1));
  };

  /** The message for one entry; `last` offers escalation under an answer that ends the thread. */
  Widget.prototype.entryMessage = function (entry, last) {
    if (entry.type === "question") return bubble("me", entry.text);
    if (entry.type === "notice") return bubble("notice", T[entry.key]);
    if (entry.type === "ticket") {
      return entry.existing
        ? bubble("bot", t("ticketExists", { ref: entry.reference }),
                 entry.added ? [el("p", { class: "muted", text: T.addedToTicket })] : [])
        : bubble("bot", t("ticketSent", { ref: entry.reference }),
                 entry.ackNotSent ? [el("p", { class: "muted", text: T.ackNotSent })] : []);
    }
    return this.answerMessage(entry, last);
  };

  Widget.prototype.answerMessage = function (entry, last) {
    var answer = entry.answer;
    if (answer.escalation_recommended) {
      // As the answer page: the chat model failing or nothing found is not "not sure".
      var why = { model_error: T.notPrepared, no_sources: T.nothingFound }[answer.status] || T.notSure;
      return bubble("bot warn reply", why, [last ? this.escalationForm() : null]);
    }
    var children = [];
    if (answer.answer_kind === "extractive") children.push(el("p", { class: "muted", text: T.excerpt }));
    // An excerpt quotes its article as written: say so when that is not in the question's
    // language, as the answer page does.
    var first = answer.sources[0];
    // Not when the excerpt is in the widget's language: its reader needs no such note.
    if (answer.answer_kind === "extractive" && first && first.language && answer.asked_in &&
        first.language !== answer.asked_in && first.language !== LANG && T.fromArticleIn[first.language]) {
      children.push(el("p", { class: "muted other-language", text: T.fromArticleIn[first.language] }));
    }
    if (answer.sources.length) children.push(el("p", { class: "muted", text: T.sources }), sourceList(answer.sources));
    children.push(this.feedbackPart(entry));
    var offer = last ? el("button", { type: "button", class: "link offer", text: T.escalateOffer }) : null;
    children.push(offer);
    var message = bubble("bot reply", "", [answerText(answer)].concat(children));
    var self = this;
    if (offer) offer.addEventListener("click", function () { self.openEscalation(message); });
    return message;
  };

  /** "Did this answer your question?" yes / no; then thanks and an optional comment. "No" opens the
   *  escalation form at once. The verdict is kept in the thread; the comment form only until reload. */
  Widget.prototype.feedbackPart = function (entry) {
    var answer = entry.answer;
    if (entry.feedback !== null && entry.feedback !== undefined) {
      return el("p", { class: "muted feedback-done", text: entry.feedback ? T.thanks : T.sorry });
    }
    var promptId = "support-helpful-" + answer.id;
    var yes = el("button", { type: "button", class: "choice", "data-helpful": "true", text: T.yes });
    var no = el("button", { type: "button", class: "choice", "data-helpful": "false", text: T.no });
    var part = el("div", { class: "feedback", role: "group", "aria-labelledby": promptId }, [
      el("p", { id: promptId, class: "muted", text: T.helpful }), yes, no,
    ]);
    var self = this;
    function rate(helpful) {
      whileBusy([yes, no], function () { return sendFeedback(answer.id, answer.token, helpful, "").then(function (result) {
        if (result.status !== 200 && result.status !== 201) return self.sayFailure(result);
        entry.feedback = helpful;
        saveThread(self.thread);
        var form = self.commentForm(answer, helpful);
        var message = part.parentNode;
        part.replaceWith(el("p", { class: "muted feedback-done", text: helpful ? T.thanks : T.sorry }), form);
        if (helpful) form.querySelector("textarea").focus();  // the buttons are gone: focus what follows
        else self.openEscalation(message);
      }, function (error) { self.sayFailure(error); }); });
    }
    yes.addEventListener("click", function () { rate(true); });
    no.addEventListener("click", function () { rate(false); });
    return part;
  };

  Widget.prototype.commentForm = function (answer, helpful) {
    var id = "support-comment-" + answer.id;
    var comment = el("textarea", { id: id, name: "comment", rows: "2", maxlength: "2000" });
    var button = el("button", { type: "submit", text: T.sendComment });
    var form = el("form", { class: "comment" }, [el("label", { for: id, text: T.comment }), comment, button]);
    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (!comment.value.trim()) return;
      // The same verdict again, with the comment: the portal keeps one feedback per question, the latest.
      whileBusy([button], function () { return sendFeedback(answer.id, answer.token, helpful, comment.value).then(function (result) {
        if (result.status !== 200 && result.status !== 201) return self.sayFailure(result);
        form.replaceWith(el("p", { class: "muted", text: T.commentSent }));
        self.input.focus();
      }, function (error) { self.sayFailure(error); }); });
    });
    return form;
  };

  /** The escalation form under `message` (one open at a time), focused. */
  Widget.prototype.openEscalation = function (message) {
    this.clearOffers();
    var form = this.escalationForm();
    message.appendChild(form);
    form.querySelector("input").focus();
  };

  Widget.prototype.clearOffers = function () {
    Array.prototype.forEach.call(this.log.querySelectorAll(".offer, form.escalate"), function (node) { node.remove(); });
  };

  Widget.prototype.latestAnswer = function () {
    for (var i = this.thread.entries.length - 1; i >= 0; i--) {
      if (this.thread.entries[i].type === "answer") return this.thread.entries[i].answer;
    }
    return null;
  };

  /** Escalates the conversation's latest question (the portal attaches the turns before it). */
  Widget.prototype.escalationForm = function () {
    var id = "support-email-" + this.thread.entries.length;
    var email = el("input", { id: id, type: "email", name: "email", required: "", maxlength: "254",
                              autocomplete: "email" });
    var details = el("textarea", { id: id + "-details", name: "details", rows: "2", maxlength: "5000" });
    var button = el("button", { type: "submit", text: T.escalate });
    var errors = { email: el("p", { id: id + "-error", class: "field-error", hidden: "" }),
                   details: el("p", { id: id + "-details-error", class: "field-error", hidden: "" }) };
    // novalidate: the portal's message, in the widget's language, not the browser's bubble
    // (in the browser's own language: English on a Korean page).
    var form = el("form", { class: "escalate", novalidate: "" }, [
      el("label", { for: id, text: T.email }), email, errors.email,
      el("label", { for: id + "-details", text: T.details }), details, errors.details, button,
    ]);
    var fields = { email: email, details: details };
    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var answer = self.latestAnswer();
      if (!answer) return;
      whileBusy([button], function () { return createTicket(answer.id, answer.token, email.value.trim(), details.value).then(function (result) {
        if (result.status === 201 || result.status === 409) {
          form.remove();
          self.clearOffers();
          self.record({ type: "ticket", reference: result.data.reference, existing: result.status === 409,
                        added: result.status === 409 && result.data.added === true,
                        ackNotSent: result.data.acknowledgement === "not_sent" });
          self.input.focus();  // the form (and the focused button) is gone: back to the question box
        } else if (!showFieldErrors(fields, errors, result)) {
          self.sayFailure(result);
        }
      }, function (error) { self.sayFailure(error); }); });
    });
    return form;
  };

  /** A 400's messages beside the fields they are about (`fields`, `errors`: name → input and
   *  its message paragraph), tied to them for screen readers, focus on the first; false when
   *  the reply names none of the fields (the caller says it in the log). */
  function showFieldErrors(fields, errors, result) {
    var first = null;
    Object.keys(fields).forEach(function (name) {
      var messages = result.status === 400 && result.data ? result.data[name] : null;
      var field = fields[name], error = errors[name];
      if (messages && messages.length) {
        error.textContent = [].concat(messages).join(" ");
        error.hidden = false;
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", error.id);
        first = first || field;
      } else {
        error.hidden = true;
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
      }
    });
    if (first) first.focus();
    return first !== null;
  }

  Widget.prototype.startOver = function () {
    if (this.busy) return;  // the answer on its way belongs to the old conversation
    this.thread = emptyThread();
    saveThread(this.thread);
    this.render();
    this.input.focus();
  };

  Widget.prototype.ask = function () {
    var question = this.input.value.trim();
    if (this.busy) return;  // a second Enter while the first question is on its way (the box is empty)
    // Empty, or over the portal's QUESTION_MAX_CHARS counted as it counts (NFC code points):
    // said at the box with the text kept, as the page does (an empty box had done nothing).
    var count = Array.from(question.normalize("NFC")).length;
    var refused = !question ? [T.empty]
      : count > MAX_QUESTION_CHARS ? [t("tooLong", { limit: MAX_QUESTION_CHARS.toLocaleString("en"), count: count.toLocaleString("en") })]
      : null;
    var check = refused ? { status: 400, data: { question: refused } } : { status: 0 };
    if (showFieldErrors({ question: this.input }, { question: this.inputError }, check)) return;
    var self = this;
    this.clearOffers();
    this.say("me", question);
    this.input.value = "";
    this.busy = true;
    this.sendButton.setAttribute("aria-disabled", "true");
    this.send(question).then(function () {
      self.busy = false;
      self.sendButton.removeAttribute("aria-disabled");
    });
  };

  /** Asks `question` (already shown) in the thread's conversation and keeps it with its answer.
   *  A conversation the portal no longer knows (404: gone, or not this token's) is dropped
   *  and the question asked again in a new one, saying so. */
  Widget.prototype.send = function (question) {
    var self = this;
    var thread = this.thread;
    var conversation = thread.conversationId ? { id: thread.conversationId, token: thread.token } : null;
    var pending = new PendingAnswer(this);
    return askQuestion(question, conversation, pending.onEvent).then(function (result) {
      pending.remove();
      if (result.status === 404 && conversation) {
        self.thread = emptyThread();
        self.thread.entries.push({ type: "notice", key: "restarted" });
        saveThread(self.thread);
        self.render();
        self.say("me", question);
        return self.send(question);
      }
      if (result.status !== 201) return self.sayFailure(result);  // not kept: the question can be asked again
      self.thread.conversationId = result.data.conversation_id;
      self.thread.token = result.data.token;
      self.thread.entries.push({ type: "question", text: question });
      self.record({ type: "answer", answer: storedAnswer(result.data, question), feedback: null });
    }, function (error) {
      pending.remove();
      self.sayFailure(error);
    });
  };

  /** The answer on its way: "thinking", then (when streamed) the sources and the text as it
   *  arrives. The log is aria-busy meanwhile, so screen readers read the finished answer once. */
  function PendingAnswer(widget) {
    var log = widget.log;
    var message = widget.say("bot muted", T.thinking);
    var text = null;
    this.onEvent = function (name, data) {
      if (text === null) {  // the first event: "thinking" becomes the answer
        log.setAttribute("aria-busy", "true");
        message.className = "msg bot streaming";
        message.textContent = "";
        text = el("p", { class: "answer" });
        message.appendChild(text);
      }
      if (name === "sources" && Array.isArray(data) && data.length) {
        message.appendChild(el("p", { class: "muted", text: T.sources }));
        message.appendChild(sourceList(data));
      } else if (name === "delta" && data && typeof data.text === "string") {
        text.appendChild(document.createTextNode(data.text));
      }
      message.scrollIntoView({ block: "nearest" });
    };
    this.remove = function () {
      message.remove();
      log.removeAttribute("aria-busy");
    };
  }

  // --- start-up ----------------------------------------------------------------------------
  function start() { window.supportWidget = new Widget(); }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
