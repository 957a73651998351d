/*
 * Citizen chat widget. Embed with one line:
 *   <script src="https://<web app>/widget/widget.js" data-bot-url="https://<bot>"
 *           data-title="手続きチャット" data-color="#1d4f91" data-initial="こんにちは" defer></script>
 *
 * Everything shown is inserted as text (never as HTML); links are made from http(s)
 * addresses only and open with rel="noopener noreferrer". The session id, the history,
 * unsent messages and the draft live in the browser's storage, so a reload or a server
 * restart continues the same conversation.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var options = {
    botUrl: script.dataset.botUrl || window.location.origin,
    title: script.dataset.title || "手続きチャット",
    color: script.dataset.color || "#1d4f91",
    initial: script.dataset.initial || ""
  };
  var base = script.src.replace(/widget\.js(\?.*)?$/, "");
  var KEY = "gyosei-chat:";
  var store = {
    get: function (name, fallback) {
      try { var v = window.localStorage.getItem(KEY + name); return v === null ? fallback : JSON.parse(v); }
      catch (e) { return fallback; }
    },
    set: function (name, value) {
      try { window.localStorage.setItem(KEY + name, JSON.stringify(value)); } catch (e) { /* storage full or off */ }
    }
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function newSessionId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID().replace(/-/g, ""); }
    return String(Date.now()) + Math.random().toString(16).slice(2);
  }

  // --- DOM -------------------------------------------------------------------------
  var css = el("link", { rel: "stylesheet", href: base + "widget.css" });
  document.head.appendChild(css);
  var root = el("div", { "class": "gc-root" });
  root.style.setProperty("--gc-color", options.color);
  var launcher = el("button", { type: "button", "class": "gc-launcher", "aria-expanded": "false",
    "aria-controls": "gc-panel" }, options.title);
  var panel = el("section", { id: "gc-panel", "class": "gc-panel", role: "dialog",
    "aria-labelledby": "gc-title", hidden: "" });
  var header = el("div", { "class": "gc-header" });
  var title = el("h2", { id: "gc-title", "class": "gc-title" }, options.title);
  var close = el("button", { type: "button", "class": "gc-close" }, "閉じる");
  header.appendChild(title); header.appendChild(close);
  var log = el("div", { "class": "gc-log", role: "log", "aria-live": "polite", "aria-label": "会話", tabindex: "0" });
  var status = el("p", { "class": "gc-status", role: "status" });
  var form = el("form", { "class": "gc-form" });
  var label = el("label", { "for": "gc-input", "class": "gc-visually-hidden" }, "質問を入力(Enterで送信、Shift+Enterで改行)");
  var input = el("textarea", { id: "gc-input", rows: "2", maxlength: "2000",
    placeholder: "例:転入届はネットでできますか" });
  var send = el("button", { type: "submit", "class": "gc-send" }, "送信");
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  panel.appendChild(header); panel.appendChild(log); panel.appendChild(status); panel.appendChild(form);
  root.appendChild(launcher); root.appendChild(panel);
  document.body.appendChild(root);

  // --- rendering -------------------------------------------------------------------
  var URL_PATTERN = /https?:\/\/[^\s<>"'()()、。]+/g;

  function textWithLinks(node, text) {
    var last = 0;
    text.replace(URL_PATTERN, function (url, index) {
      node.appendChild(document.createTextNode(text.slice(last, index)));
      var a = el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, url);
      node.appendChild(a);
      last = index + url.length;
      return url;
    });
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderCard(card) {
    if (!card || card.type !== "procedure_card" || !card.procedure) { return null; }
    var p = card.procedure;
    var box = el("section", { "class": "gc-card", "aria-label": p.name + "の要点" });
    box.appendChild(el("h3", {}, p.name));
    var dl = el("dl");
    function row(term, value) {
      dl.appendChild(el("dt", {}, term));
      var dd = el("dd");
      if (value && value.nodeType) { dd.appendChild(value); } else { dd.textContent = value || "未確認"; }
      dl.appendChild(dd);
    }
    row("オンライン", p.online ? p.online.status + ":" + p.online.text : "");
    row("必要なもの", (p.documents || []).join("、"));
    row("期限", p.deadline ? p.deadline.text + (p.deadline.basis ? "(" + p.deadline.basis + ")" : "") : "");
    if (p.sources && p.sources.length) {
      var link = el("a", { href: p.sources[0].url, target: "_blank", rel: "noopener noreferrer" },
        p.sources[0].title);
      if (/^https?:\/\//.test(p.sources[0].url)) { row("出典", link); }
    }
    box.appendChild(dl);
    return box;
  }

  function render(entry) {
    if (entry.text) {
      var bubble = el("p", { "class": "gc-msg " + (entry.from === "user" ? "gc-user" : "gc-bot") });
      if (entry.from === "user") {
        bubble.appendChild(el("span", { "class": "gc-visually-hidden" }, "あなた:"));
      }
      textWithLinks(bubble, entry.text);
      if (entry.pending) {
        bubble.classList.add("gc-pending");
        bubble.appendChild(document.createTextNode("(送信待ち)"));
      }
      log.appendChild(bubble);
    }
    if (entry.buttons && entry.buttons.length) {
      var group = el("div", { "class": "gc-buttons", role: "group", "aria-label": "選択肢" });
      entry.buttons.forEach(function (b) {
        var button = el("button", { type: "button" }, b.title);
        button.addEventListener("click", function () { submit(b.payload, b.title); });
        group.appendChild(button);
      });
      log.appendChild(group);
    }
    var card = renderCard(entry.custom);
    if (card) { log.appendChild(card); }
    if (entry.feedback && entry.feedback.length && !entry.rated) {
      var rating = el("div", { "class": "gc-buttons gc-feedback", role: "group",
        "aria-label": "この回答は役に立ちましたか" });
      entry.feedback.forEach(function (b) {
        var choice = el("button", { type: "button" }, b.title);
        choice.addEventListener("click", function () {
          entry.rated = true;
          store.set("history", history);
          rating.remove();
          input.focus(); // the pressed button is gone: keep keyboard users in the panel
          submit(b.payload, b.title);
        });
        rating.appendChild(choice);
      });
      log.appendChild(rating);
    }
    log.scrollTop = log.scrollHeight;
  }

  var history = store.get("history", []);
  function remember(entry) {
    history.push(entry);
    history = history.slice(-200);
    store.set("history", history);
    render(entry);
  }
  function redraw() {
    log.textContent = "";
    history.forEach(render);
  }

  // --- connection ------------------------------------------------------------------
  var sessionId = store.get("session", null) || newSessionId();
  store.set("session", sessionId);
  var socket = null;
  var connected = false;

  function setStatus(text) { status.textContent = text; }

  function flushPending() {
    var pending = history.filter(function (e) { return e.pending; });
    pending.forEach(function (entry) {
      socket.emit("user_uttered", { message: entry.payload || entry.text, session_id: sessionId });
      delete entry.pending;
    });
    if (pending.length) { store.set("history", history); redraw(); }
  }

  function connect() {
    if (socket || typeof window.io !== "function") { return; }
    socket = window.io(options.botUrl, { path: "/socket.io", transports: ["polling"],
      reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 5000 });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", function () {
      connected = true;
      setStatus("");
      flushPending();
      if (!history.length && options.initial) { submit(options.initial, null); }
    });
    socket.on("disconnect", function () {
      connected = false;
      setStatus("接続が切れました。自動で再接続しています。入力した内容は、つながったら送信されます。");
    });
    socket.on("connect_error", function () {
      connected = false;
      setStatus("チャットのサーバーにつながりません。しばらくしてからもう一度お試しください。");
    });
    socket.on("bot_uttered", function (message) {
      if (!message || typeof message !== "object") { return; }
      remember({ from: "bot", text: typeof message.text === "string" ? message.text : "",
        buttons: Array.isArray(message.buttons) ? message.buttons : [],
        custom: message.custom || null,
        feedback: Array.isArray(message.feedback) ? message.feedback : [] });
    });
  }

  function submit(payload, shown) {
    var text = (payload || "").trim();
    if (!text) { return; }
    var entry = { from: "user", text: shown === null ? "" : (shown || text) };
    if (connected) {
      socket.emit("user_uttered", { message: text, session_id: sessionId });
    } else {
      entry.pending = true;
      entry.payload = text;
      if (!entry.text) { entry.text = text; }
    }
    if (entry.text || entry.pending) { remember(entry); }
  }

  // --- input -----------------------------------------------------------------------
  var composing = false;
  input.value = store.get("draft", "");
  input.addEventListener("compositionstart", function () { composing = true; });
  input.addEventListener("compositionend", function () { composing = false; });
  input.addEventListener("input", function () { store.set("draft", input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey) { return; }
    // Enter while converting kana to kanji (IME composition) confirms the conversion.
    if (composing || event.isComposing || event.keyCode === 229) { return; }
    event.preventDefault();
    form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) { return; }
    submit(text);
    input.value = "";
    store.set("draft", "");
  });

  // --- open / close ----------------------------------------------------------------
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    store.set("open", true);
    connect();
    input.focus();
  }
  function shut() {
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    store.set("open", false);
    launcher.focus();
  }
  launcher.addEventListener("click", open);
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape") { shut(); } });

  var io = document.createElement("script");
  io.src = base + "vendor/socket.io.min.js";
  io.onload = function () { if (!panel.hidden) { connect(); } };
  io.onerror = function () { setStatus("チャットを読み込めませんでした。ページを再読み込みしてください。"); };
  document.head.appendChild(io);

  redraw();
  if (store.get("open", false)) { open(); }
}());
