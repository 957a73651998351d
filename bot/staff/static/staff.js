// The staff assist tool's pages (bot/staff/pages). Data is put into the page with
// textContent only: citizens' words never become markup.
"use strict";

const INTENT_LABELS = {
  ask_online: "オンラインでできるか", ask_documents: "必要なもの", ask_deadline: "期限",
  ask_fee: "手数料", ask_where: "窓口・場所", ask_proxy: "代理人", ask_overview: "手続きの概要",
  life_event: "できごとの手続き一覧", compute_deadline: "期限の計算", greet: "あいさつ",
  goodbye: "終わりのあいさつ", thanks: "お礼", affirm: "はい", deny: "いいえ",
  human_handoff: "職員と話したい", out_of_scope: "対象外", bot_challenge: "ボットか確認",
  answer_helpful: "役に立った", answer_unhelpful: "役に立たなかった", nlu_fallback: "理解できない",
};
const CHANNEL_LABELS = { widget: "Webチャット", line: "LINE", rest: "REST" };
const OVERRIDE_LABELS = { office: "窓口", hours: "受付時間", phone: "電話", fee: "手数料",
  online: "オンライン", url: "ページ" };
const STATUS_LABELS = { waiting: "待ち", claimed: "対応中", closed: "終了" };

let csrf = "";

function $(selector) { return document.querySelector(selector); }

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

async function api(method, url, body) {
  const options = { method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  if (response.status === 401 && document.body.dataset.page !== "login") {
    location.href = "/staff/login?next=" + encodeURIComponent(location.pathname);
    throw new Error("login required");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || "エラー(" + response.status + ")");
  return data;
}

function minutes(seconds) {
  if (seconds < 60) return seconds + "秒";
  return Math.floor(seconds / 60) + "分";
}

function localTime(unix) {
  return new Date(unix * 1000).toLocaleString("ja-JP", { dateStyle: "short", timeStyle: "short" });
}

// --- the procedure card, shared by assist and search -----------------------------------

function renderCard(card) {
  const slot = $("#card-slot");
  slot.replaceChildren();
  if (!card) return;
  const view = $("#card-template").content.cloneNode(true);
  const set = (selector, text) => { view.querySelector(selector).textContent = text || "—"; };
  const list = (selector, items) => {
    const target = view.querySelector(selector);
    items.forEach((item) => target.append(element("li", item)));
    if (!items.length) target.append(element("li", "—"));
  };
  set(".card-name", card.name);
  set(".card-online", card.online.status + (card.online.channels.length
    ? "(" + card.online.channels.join("・") + ")" : "") + " " + card.online.text);
  set(".card-office", card.office);
  list(".card-documents", card.documents.map((d) => d.name + (d.condition ? "(" + d.condition + ")" : "")));
  set(".card-deadline", card.deadline
    ? card.deadline.text + (card.deadline.basis ? "【根拠】" + card.deadline.basis : "") : "なし");
  set(".card-fee", card.fee && card.fee.text);
  set(".card-proxy", card.proxy);
  const local = card.municipality;
  const overrides = local ? Object.entries(local.overrides).map(([k, v]) => (OVERRIDE_LABELS[k] || k) + ":" + v) : [];
  set(".card-local", local ? local.name + (local.sample ? "(サンプル)" : "") + " "
    + (overrides.length ? overrides.join(" / ") : "自治体独自の情報は登録されていません(全国共通の内容です)") : "");
  list(".card-notes", card.notes);
  const sources = view.querySelector(".card-sources");
  card.sources.forEach((source) => {
    const item = element("li");
    const link = element("a", source.title);
    link.href = source.url;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    item.append(link, element("span", "(" + source.checked + " 確認)", "muted"));
    sources.append(item);
  });
  slot.append(view);
}

// A list of buttons, one per item; an empty list says so.
function renderChoices(target, items, { label, note, key, onPick, empty }) {
  target.replaceChildren();
  items.forEach((item) => {
    const row = element("li");
    const button = element("button", label(item), "link");
    button.type = "button";
    button.dataset[key] = item.id;
    button.addEventListener("click", () => onPick(item.id));
    row.append(button, element("span", " " + note(item), "muted"));
    target.append(row);
  });
  if (!items.length) target.append(element("li", empty, "muted"));
}

function renderHits(target, hits, onPick) {
  renderChoices(target, hits, { label: (hit) => hit.name, note: (hit) => hit.online + " · " + hit.score,
    key: "procedure", onPick, empty: "該当する手続きが見つかりません。" });
}

// Q&A entries: the specific questions the bot answers, with their answer on a click.
function renderEntries(target, entries) {
  renderChoices(target, entries, { label: (entry) => entry.question,
    note: (entry) => (entry.scope === "local" ? "自治体による" : "全国共通"),
    key: "entry", onPick: showEntry, empty: "該当する質問と回答がありません。" });
}

async function showEntry(id) {
  const data = await api("GET", "/staff/api/entries/" + encodeURIComponent(id));
  showAnswer(data);
}

async function showProcedure(id) {
  const data = await api("GET", "/staff/api/procedures/" + encodeURIComponent(id));
  showAnswer(data);
}

function showAnswer(data) {
  renderCard(data.card);
  $("#answer").textContent = data.answer || "";
  const copy = $("#copy-answer");
  if (copy) copy.disabled = !data.answer;
  const deadline = $("#deadline-button");
  if (deadline) {
    deadline.disabled = !(data.card && data.card.deadline && data.card.deadline.computable);
    deadline.dataset.procedure = data.card ? data.card.id : "";
  }
}

// --- pages -----------------------------------------------------------------------------

const pages = {
  login() {
    $("#login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      $("#login-error").textContent = "";
      try {
        await api("POST", "/staff/api/login", {
          username: $("#username").value, password: $("#password").value });
        const next = new URLSearchParams(location.search).get("next") || "/staff/";
        location.href = next.startsWith("/staff/") ? next : "/staff/";
      } catch (error) {
        $("#login-error").textContent = error.message;
      }
    });
  },

  assist() {
    let timer = null;
    let asked = "";
    const run = async () => {
      const text = $("#caller").value.trim();
      if (!text || text === asked) return;
      asked = text;
      const data = await api("POST", "/staff/api/assist", { text });
      if (asked !== text) return; // a newer sentence is on its way
      $("#assist-problem").textContent = data.problem || "";
      const intents = $("#intents");
      intents.replaceChildren();
      data.intents.forEach((intent) => {
        const item = element("li");
        const bar = element("span", "", "bar");
        bar.style.width = Math.round(intent.confidence * 100) + "%";
        item.append(element("span", INTENT_LABELS[intent.name] || intent.name, "label"),
          bar, element("span", Math.round(intent.confidence * 100) + "%", "value"));
        intents.append(item);
      });
      $("#entities").textContent = data.procedures.length
        ? "手続き:" + data.procedures.map((p) => p.text + "(" + Math.round(p.confidence * 100) + "%)").join("、")
        : "手続きの名前は聞き取れていません。";
      renderHits($("#candidates"), data.search, showProcedure);
      renderEntries($("#entry-candidates"), data.entries);
      showAnswer(data);
    };
    $("#assist-form").addEventListener("submit", (event) => { event.preventDefault(); run(); });
    $("#caller").addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(run, 300); });
    $("#copy-answer").addEventListener("click", async () => {
      await navigator.clipboard.writeText($("#answer").textContent);
      $("#copy-status").textContent = "コピーしました";
      setTimeout(() => { $("#copy-status").textContent = ""; }, 3000);
    });
    $("#deadline-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const data = await api("POST", "/staff/api/deadline", {
          procedure_id: $("#deadline-button").dataset.procedure, event_date: $("#event-date").value });
        $("#deadline-result").textContent = data.text + "\n【根拠】" + data.basis;
      } catch (error) {
        $("#deadline-result").textContent = error.message;
      }
    });
  },

  async search() {
    const filters = await api("GET", "/staff/api/filters");
    filters.life_events.forEach((e) => { const o = element("option", e.name); o.value = e.id; $("#life-event").append(o); });
    filters.channels.forEach((c) => { const o = element("option", c.name); o.value = c.id; $("#channel").append(o); });
    const run = async () => {
      const query = new URLSearchParams({ q: $("#query").value,
        life_event: $("#life-event").value, channel: $("#channel").value });
      const data = await api("GET", "/staff/api/search?" + query);
      renderHits($("#results"), data.hits, showProcedure);
      renderEntries($("#entry-results"), data.entries);
    };
    $("#search-form").addEventListener("submit", (event) => { event.preventDefault(); run(); });
    ["#life-event", "#channel"].forEach((s) => $(s).addEventListener("change", run));
  },

  handoffs() {
    let current = null;
    let lastLine = 0;
    const showProblem = (error) => { $("#conversation-problem").textContent = error ? error.message : ""; };
    const refreshQueue = async () => {
      const data = await api("GET", "/staff/api/handoffs");
      const body = $("#queue tbody");
      body.replaceChildren();
      data.handoffs.forEach((h) => {
        const row = element("tr");
        const open = element("button", h.id === (current && current.id) ? "表示中" : "開く", "link");
        open.type = "button";
        open.dataset.handoff = h.id;
        open.addEventListener("click", () => openConversation(h.id));
        const action = element("td");
        action.append(open);
        row.append(element("td", CHANNEL_LABELS[h.channel] || h.channel),
          element("td", minutes(h.waiting_seconds)),
          element("td", STATUS_LABELS[h.status] + (h.claimed_by ? "(" + h.claimed_by + ")" : "")), action);
        body.append(row);
      });
      $("#queue-empty").hidden = data.handoffs.length > 0;
    };
    const addLines = (lines) => {
      lines.forEach((line) => {
        const who = line.speaker === "citizen" ? "お客さま" : line.speaker === "staff" ? "職員(" + line.staff + ")" : "ボット";
        const item = element("li", "", "line " + line.speaker);
        item.append(element("span", who + " " + localTime(line.at), "meta"), element("p", line.text));
        $("#transcript").append(item);
        lastLine = Math.max(lastLine, line.id);
      });
      if (lines.length) $("#transcript").lastElementChild.scrollIntoView({ block: "nearest" });
    };
    const showState = (handoff) => {
      current = handoff;
      $("#conversation-title").textContent = (CHANNEL_LABELS[handoff.channel] || handoff.channel)
        + "の会話(" + STATUS_LABELS[handoff.status] + ")";
      $("#claim-button").hidden = handoff.status !== "waiting";
      $("#reply-button").disabled = handoff.status !== "claimed";
      $("#release-button").hidden = handoff.status === "closed";
    };
    const openConversation = async (id) => {
      const data = await api("GET", "/staff/api/handoffs/" + id);
      $("#conversation").hidden = false;
      $("#transcript").replaceChildren();
      lastLine = 0;
      showState(data.handoff);
      addLines(data.lines);
      refreshQueue();
    };
    const poll = async () => {
      if (!current) return;
      const data = await api("GET", "/staff/api/handoffs/" + current.id + "?after=" + lastLine);
      showState(data.handoff);
      addLines(data.lines);
    };
    const act = async (action, body) => {
      showProblem(null);
      try {
        const data = await api("POST", "/staff/api/handoffs/" + current.id + "/" + action, body);
        showState(data.handoff);
        await poll();
        await refreshQueue();
      } catch (error) { showProblem(error); }
    };
    $("#claim-button").addEventListener("click", () => act("claim"));
    $("#release-button").addEventListener("click", () => act("release"));
    $("#reply-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = $("#reply").value.trim();
      if (!text) return;
      await act("reply", { text });
      if (!$("#conversation-problem").textContent) $("#reply").value = "";
    });
    refreshQueue();
    setInterval(() => { refreshQueue().catch(() => {}); poll().catch(() => {}); }, 2000);
  },

  async unanswered() {
    const filters = await api("GET", "/staff/api/filters");
    const data = await api("GET", "/staff/api/unanswered");
    const body = $("#groups tbody");
    data.groups.forEach((group) => {
      const row = element("tr");
      const question = element("td");
      question.append(element("strong", group.text));
      group.examples.filter((e) => e !== group.text).forEach((e) => question.append(element("div", e, "muted")));
      const select = element("select");
      select.setAttribute("aria-label", "「" + group.text + "」に該当する手続き");
      select.dataset.group = group.id;
      select.append(element("option", "(未設定)"));
      select.firstChild.value = "";
      filters.procedures.forEach((p) => {
        const option = element("option", p.name);
        option.value = p.id;
        option.selected = group.procedure && group.procedure.id === p.id;
        select.append(option);
      });
      const status = element("span", "", "muted");
      status.setAttribute("role", "status");
      select.addEventListener("change", async () => {
        try {
          await api("POST", "/staff/api/unanswered/" + group.id + "/link", { procedure_id: select.value || null });
          status.textContent = "保存しました";
        } catch (error) { status.textContent = error.message; }
      });
      const link = element("td");
      link.append(select, status);
      row.append(question, element("td", group.count),
        element("td", group.reasons.map((r) => r.label + " " + r.count).join("、")),
        element("td", localTime(group.first_seen) + " / " + localTime(group.last_seen)), link);
      body.append(row);
    });
    $("#groups-empty").hidden = data.groups.length > 0;
  },
};

async function start() {
  const page = document.body.dataset.page;
  const session = await api("GET", "/staff/api/session");
  csrf = session.csrf;
  const current = document.querySelector('[data-nav="' + page + '"]');
  if (current) current.setAttribute("aria-current", "page");
  const logout = $("#logout");
  logout.addEventListener("click", async () => {
    await api("POST", "/staff/api/logout");
    location.href = "/staff/login";
  });
  await pages[page]();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", () => { start().catch((error) => console.error(error)); });
