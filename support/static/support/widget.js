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
 * Layout of this file: strings, API calls (one function per call), rendering, start-up.
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
      open: "Help", close: "Close", title: "Help centre",
      intro: "Ask in Korean or English. We answer from our help articles and show where each answer comes from.",
      placeholder: "Type your question", send: "Ask", thinking: "Looking through our help articles…",
      sources: "Sources", excerpt: "This is an excerpt from our help articles. Please check the source.",
      notSure: "We are not sure about this one, so we would rather not guess. Our support team can answer it by email.",
      escalateOffer: "Not what you needed? Send it to our support team",
      email: "Your email address", details: "Anything else we should know? (optional)",
      escalate: "Send to our support team", ticketSent: "Sent. Your ticket reference is {ref}. We will reply by email.",
      ticketExists: "You already sent this question: ticket {ref}.",
      ackNotSent: "We did not send a confirmation email this time, but our support team has your question.",
      tooMany: "Too many requests. Please try again in {s} seconds.",
      busy: "The service is busy. Please try again in a few seconds.",
      unavailable: "The help service is not available on this site right now.",
      invalid: "Please check what you typed.",
    },
    ko: {
      open: "도움말", close: "닫기", title: "고객센터",
      intro: "한국어나 영어로 질문하세요. 도움말 문서에서 답을 찾아 출처와 함께 보여 드립니다.",
      placeholder: "질문을 입력하세요", send: "질문하기", thinking: "도움말 문서를 찾아보는 중…",
      sources: "출처", excerpt: "도움말 문서에서 발췌한 내용입니다. 출처를 확인해 주세요.",
      notSure: "이 질문은 확실하지 않아 추측하지 않겠습니다. 고객지원팀이 이메일로 답해 드릴 수 있습니다.",
      escalateOffer: "원하던 답이 아닌가요? 고객지원팀에 보내기",
      email: "이메일 주소", details: "더 알려 주실 내용이 있나요? (선택)",
      escalate: "고객지원팀에 보내기", ticketSent: "보냈습니다. 문의 번호는 {ref}입니다. 이메일로 답해 드리겠습니다.",
      ticketExists: "이미 보낸 질문입니다: 문의 {ref}.",
      ackNotSent: "이번에는 확인 이메일을 보내지 않았지만, 고객지원팀이 질문을 받았습니다.",
      tooMany: "요청이 너무 많습니다. {s}초 뒤에 다시 시도해 주세요.",
      busy: "지금은 요청이 많습니다. 몇 초 뒤에 다시 시도해 주세요.",
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
  function t(key, values) {
    return T[key].replace(/\{(\w+)\}/g, function (_, name) { return String(values[name]); });
  }

  // --- API calls: one function each; they resolve to {status, data, retryAfter} ---------
  function ApiUnavailable(message) { this.message = message; }

  function postJson(path, body) {
    return fetch(API_BASE + path, {
      method: "POST",
      mode: "cors",
      credentials: "omit",  // never the host site's cookies, and the portal needs none
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Accept-Language": LANG },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data, retryAfter: response.headers.get("Retry-After") };
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

  /** POST /api/v1/questions/ {question} -> 201 {id, token, answer, answer_kind, confidence,
   *  escalation_recommended, status, sources: [{title, url, excerpt, score, language}]}. */
  function askQuestion(question) {
    return postJson("/api/v1/questions/", { question: question });
  }

  /** POST /api/v1/tickets/ {question_id, token, email, details} -> 201 {reference, status, reason,
   *  acknowledgement} | 409 {detail, reference, status} | 404 | 400 {field: [messages]}. */
  function createTicket(questionId, token, email, details) {
    return postJson("/api/v1/tickets/", { question_id: questionId, token: token, email: email, details: details });
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
    ".panel { position: fixed; bottom: 84px; z-index: 2147483000; width: 380px; max-height: min(640px, 80vh);",
    "  display: flex; flex-direction: column; background: #fff; color: #1b1f24; border-radius: 12px;",
    "  box-shadow: 0 10px 40px rgba(0,0,0,.3); font-size: 15px; line-height: 1.5; overflow: hidden; }",
    ".panel[hidden] { display: none; }",
    "header { display: flex; align-items: center; justify-content: space-between; padding: 12px 16px;",
    "  background: var(--accent); color: #fff; }",
    "header h2 { margin: 0; font-size: 17px; }",
    "header button { background: transparent; color: #fff; border: 1px solid rgba(255,255,255,.7);",
    "  border-radius: 6px; padding: 4px 10px; font-size: 14px; cursor: pointer; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px 16px; display: flex; flex-direction: column; gap: 10px; }",
    ".msg { padding: 10px 12px; border-radius: 10px; max-width: 92%; word-wrap: break-word; }",
    ".msg > p:first-child { white-space: pre-wrap; }",
    ".msg p { margin: 0 0 4px; } .msg p:last-child { margin-bottom: 0; }",
    ".me { align-self: flex-end; background: #e8eefc; }",
    ".bot { align-self: flex-start; background: #f3f4f6; }",
    ".warn { background: #fff4e0; } .error { background: #fde8e8; }",
    ".muted { color: #555c66; font-size: 13px; margin: 4px 0; }",
    ".sources { margin: 6px 0 0; padding-left: 18px; } .sources a { color: #1d4ed8; }",
    "form { display: flex; flex-direction: column; gap: 6px; padding: 12px 16px; border-top: 1px solid #e5e7eb; }",
    ".msg form { padding: 8px 0 0; border: 0; }",
    "label { font-size: 13px; font-weight: 600; }",
    "textarea, input { width: 100%; font-size: 15px; padding: 8px; border: 1px solid #b6bcc6; border-radius: 6px; }",
    "textarea { resize: vertical; min-height: 44px; }",
    "form button, .link { align-self: flex-start; border: 0; border-radius: 6px; padding: 8px 14px;",
    "  font-size: 15px; color: #fff; background: var(--accent); cursor: pointer; }",
    ".link { background: transparent; color: #1d4ed8; padding: 4px 0; text-decoration: underline; }",
    "button[disabled] { opacity: .6; cursor: wait; }",
    "@media (max-width: 480px) {",
    "  .panel { left: 0; right: 0; bottom: 0; width: 100%; max-height: 100%; height: 100%; border-radius: 0; }",
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
    this.log = el("div", { class: "log", role: "log", "aria-live": "polite" }, [
      el("p", { class: "msg bot", text: T.intro }),
    ]);
    this.input = el("textarea", { id: "support-question", name: "question", rows: "2", placeholder: T.placeholder,
                                  maxlength: "1000", required: "" });
    this.sendButton = el("button", { type: "submit", text: T.send });
    this.form = el("form", {}, [
      el("label", { for: "support-question", text: T.placeholder }), this.input, this.sendButton,
    ]);
    this.closeButton = el("button", { type: "button", text: T.close });
    this.panel = el("section", {
      id: "support-panel", class: "panel " + side, role: "dialog", "aria-labelledby": "support-title", hidden: "",
      lang: LANG,
    }, [
      el("header", {}, [el("h2", { id: "support-title", text: T.title }), this.closeButton]),
      this.log, this.form,
    ]);
    this.root.appendChild(this.launcher);
    this.root.appendChild(this.panel);

    var self = this;
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.close(); });
    this.panel.addEventListener("keydown", function (event) { if (event.key === "Escape") self.close(); });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); self.form.requestSubmit(); }
    });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.ask(); });
  }

  Widget.prototype.toggle = function () { if (this.panel.hidden) this.open(); else this.close(); };
  Widget.prototype.open = function () {
    this.panel.hidden = false;
    this.launcher.setAttribute("aria-expanded", "true");
    this.input.focus();
  };
  Widget.prototype.close = function () {
    this.panel.hidden = true;
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.focus();
  };

  Widget.prototype.say = function (kind, text, children) {
    var message = el("div", { class: "msg " + kind }, [text ? el("p", { text: text }) : null].concat(children || []));
    this.log.appendChild(message);
    message.scrollIntoView({ block: "nearest" });
    return message;
  };

  Widget.prototype.sayFailure = function (result) {
    if (result instanceof ApiUnavailable) return this.say("bot error", T.unavailable);
    if (result.status === 429) return this.say("bot error", t("tooMany", { s: result.retryAfter || 60 }));
    if (result.status >= 500) return this.say("bot error", T.busy);
    var messages = [];
    Object.keys(result.data || {}).forEach(function (field) {
      messages = messages.concat(result.data[field]);
    });
    return this.say("bot error", messages.length ? messages.join(" ") : T.invalid);
  };

  Widget.prototype.ask = function () {
    var question = this.input.value.trim();
    if (!question) return;
    var self = this;
    this.say("me", question);
    this.input.value = "";
    this.sendButton.disabled = true;
    var waiting = this.say("bot muted", T.thinking);
    askQuestion(question).then(function (result) {
      waiting.remove();
      if (result.status === 201) self.showAnswer(result.data);
      else self.sayFailure(result);
    }, function (error) {
      waiting.remove();
      self.sayFailure(error);
    }).then(function () { self.sendButton.disabled = false; });
  };

  Widget.prototype.showAnswer = function (answer) {
    var children = [];
    if (answer.escalation_recommended) {
      var message = this.say("bot warn", T.notSure);
      message.appendChild(this.escalationForm(answer));
      return;
    }
    if (answer.answer_kind === "extractive") children.push(el("p", { class: "muted", text: T.excerpt }));
    if (answer.sources && answer.sources.length) {
      children.push(el("p", { class: "muted", text: T.sources }));
      children.push(el("ul", { class: "sources" }, answer.sources.map(function (source) {
        var href = new URL(source.url, API_BASE);
        var safe = href.origin === API_BASE;  // links only to the portal's own article pages
        return el("li", {}, [safe
          ? el("a", { href: href.href, target: "_blank", rel: "noopener", text: source.title })
          : el("span", { text: source.title })]);
      })));
    }
    var offer = el("button", { type: "button", class: "link", text: T.escalateOffer });
    children.push(offer);
    var shown = this.say("bot", answer.answer, children);
    var self = this;
    offer.addEventListener("click", function () {
      offer.remove();
      var form = self.escalationForm(answer);
      shown.appendChild(form);
      form.querySelector("input").focus();
    });
  };

  Widget.prototype.escalationForm = function (answer) {
    var id = "support-email-" + answer.id;
    var email = el("input", { id: id, type: "email", name: "email", required: "", maxlength: "254",
                              autocomplete: "email" });
    var details = el("textarea", { id: id + "-details", name: "details", rows: "2", maxlength: "5000" });
    var button = el("button", { type: "submit", text: T.escalate });
    var form = el("form", { class: "escalate" }, [
      el("label", { for: id, text: T.email }), email,
      el("label", { for: id + "-details", text: T.details }), details, button,
    ]);
    var self = this;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      createTicket(answer.id, answer.token, email.value.trim(), details.value).then(function (result) {
        if (result.status === 201) {
          form.remove();
          self.say("bot", t("ticketSent", { ref: result.data.reference }),
                   result.data.acknowledgement === "not_sent" ? [el("p", { class: "muted", text: T.ackNotSent })] : []);
          self.input.focus();  // the form (and the focused button) is gone: back to the question box
        } else if (result.status === 409) {
          form.remove();
          self.say("bot", t("ticketExists", { ref: result.data.reference }));
          self.input.focus();
        } else {
          self.sayFailure(result);
        }
      }, function (error) { self.sayFailure(error); }).then(function () { button.disabled = false; });
    });
    return form;
  };

  // --- start-up ----------------------------------------------------------------------------
  function start() { window.supportWidget = new Widget(); }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
