/* The pages' small client: JSON calls with the CSRF token, field errors, live updates,
   the operator's ticket form (draft kept in localStorage, one ticket per submit). */
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()},
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = {message: "服务器返回了无法识别的内容"}; }
    return {ok: resp.ok, status: resp.status, data};
  }

  // A DOM node: attrs "class", "text" (textContent), "on<event>" (listener), else attributes.
  // Children are nodes or strings (text); user text never goes through innerHTML.
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
    }
    node.append(...children);
    return node;
  }

  function toast(text) {
    const box = document.getElementById("toast");
    if (!box) return;
    box.textContent = text;
    box.classList.add("show");
    clearTimeout(box._t);
    box._t = setTimeout(() => box.classList.remove("show"), 4000);
  }

  /* Read a form into JSON: data-type says int / int-list / bool / datetime; names with a
     dot ("dispatch.lead_unit_id") become nested objects; empty values are left out. */
  function readForm(form) {
    const out = {};
    const set = (name, value) => {
      const parts = name.split(".");
      let node = out;
      for (const p of parts.slice(0, -1)) node = node[p] = node[p] || {};
      node[parts[parts.length - 1]] = value;
    };
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === "file") continue;
      const type = el.dataset.type || "";
      if (el.type === "radio") { if (el.checked) set(el.name, el.value === "true"); continue; }
      if (el.type === "checkbox") { set(el.name, el.checked); continue; }
      if (type === "int-list") {
        const values = [...el.selectedOptions].map(o => o.value).filter(Boolean).map(Number);
        if (values.length) set(el.name, values);
        continue;
      }
      const raw = el.value.trim();
      if (raw === "") continue;
      if (type === "int") set(el.name, /^\d+$/.test(raw) ? Number(raw) : raw);
      else if (type === "datetime") set(el.name, raw.length === 16 ? raw + ":00+08:00" : raw);
      else set(el.name, raw);
    }
    return out;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(p => { p.hidden = true; p.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(el => el.removeAttribute("aria-invalid"));
    const general = form.querySelector(".form-error");
    if (general) { general.hidden = true; general.textContent = ""; }
  }

  function showErrors(form, data) {
    const fields = (data && data.details && data.details.fields) || {};
    let placed = false, first = null;
    for (const [name, message] of Object.entries(fields)) {
      const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      if (!slot) continue;
      slot.textContent = message; slot.hidden = false; placed = true;
      const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    }
    const general = form.querySelector(".form-error");
    const rest = Object.entries(fields).filter(([n]) => !form.querySelector(`[data-error-for="${CSS.escape(n)}"]`));
    if (general && (!placed || rest.length)) {
      general.textContent = (data && data.message || "操作失败") +
        (rest.length ? "：" + rest.map(([, m]) => m).join("；") : "");
      general.hidden = false;
    }
    if (first) first.focus();
  }

  /* Re-render a region from a fresh copy of this page (no reload, form state elsewhere kept). */
  async function refresh(selector) {
    const resp = await fetch(location.href, {credentials: "same-origin"});
    if (!resp.ok) return;
    const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
    const fresh = doc.querySelector(selector), here = document.querySelector(selector);
    if (fresh && here) {
      here.innerHTML = fresh.innerHTML;
      bindActions(here);
    }
  }

  /* One refresh at a time: `now()` while one runs runs once more after it; `soon()` waits
     `ms`, so that a burst of live pushes makes one request. `run` handles its own errors. */
  function refresher(run, ms = 500) {
    let loading = false, again = false, timer = null;
    async function now() {
      if (loading) { again = true; return; }
      loading = true;
      try {
        await run();
      } finally {
        loading = false;
        if (again) { again = false; now(); }
      }
    }
    function soon() {
      if (!timer) timer = setTimeout(() => { timer = null; now(); }, ms);
    }
    return {now, soon};
  }

  function live(options) {
    if (typeof io === "undefined" || window.HotlineSocket) return;
    const socket = io("/live", {transports: ["websocket", "polling"]});
    const dot = document.getElementById("live-status");
    socket.on("connect", () => { if (dot) { dot.className = "live on"; dot.title = "实时更新已连接"; } });
    socket.on("disconnect", () => { if (dot) { dot.className = "live off"; dot.title = "实时更新已断开"; } });
    const NEWS = {dispatch: "新工单", reassign: "改派来的新工单", uphold: "退回未获同意，请签收",
                  remind: "催办", supervise: "督办", reopen: "重办", reject_reply: "回复被退回"};
    socket.on("ticket.changed", (msg) => {
      // Units hear about new work and pressure on any page; everything else stays quiet.
      if ((options.notify || window.HotlineNotify) && NEWS[msg.event]) {
        toast(`${NEWS[msg.event]}：工单 ${msg.number}`);
      }
      if (options.ticketId && msg.ticket_id !== options.ticketId) return;
      if (options.refresh) refresh(options.refresh);
    });
    window.HotlineSocket = socket;
  }

  /* Upload files one by one; on the first refusal show why next to the field and stop. */
  async function uploadAll(form, ticketId, files) {
    const ids = [];
    for (const file of files) {
      const data = new FormData();
      data.append("file", file, file.name);
      const resp = await fetch(`/api/tickets/${ticketId}/attachments`, {
        method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": csrf()}, body: data,
      });
      let payload = {};
      try { payload = await resp.json(); } catch (e) { payload = {message: "上传失败"}; }
      if (!resp.ok) {
        const fields = (payload.details && payload.details.fields) || {};
        showErrors(form, {message: `${file.name}：${payload.message || "上传失败"}`,
                          details: {fields: {file: `${file.name}：${fields.file || payload.message || "上传失败"}`}}});
        return null;
      }
      ids.push(payload.id);
    }
    return ids;
  }

  function bindActions(root) {
    root.querySelectorAll("form[data-action]").forEach(form => {
      if (form._bound) return;
      form._bound = true;
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearErrors(form);
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        try {
          const body = readForm(form);
          const files = form.querySelector("input[type=file]");
          if (files && files.files.length) {
            const ids = await uploadAll(form, form.dataset.ticketId, files.files);
            if (ids === null) return;
            body.attachment_ids = ids;
          }
          const r = await api("POST", `/api/tickets/${form.dataset.ticketId}/actions/${form.dataset.action}`, body);
          if (r.ok) { toast(`已${button.textContent}`); await refresh("#live-region"); }
          else showErrors(form, r.data);
        } catch (e) { showErrors(form, {message: "网络错误，请重试"}); }
        finally { button.disabled = false; }
      });
    });
  }

  function ticketForm(form) {
    const KEY = "hotline.ticket-draft";
    const token = () => form.dataset.clientToken || (form.dataset.clientToken =
      "form-" + (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/[^A-Za-z0-9-]/g, ""));
    const save = () => {
      const draft = {};
      for (const el of form.elements) if (el.name) draft[el.name] = el.type === "checkbox" ? el.checked : el.value;
      draft.__token = token();
      localStorage.setItem(KEY, JSON.stringify(draft));
    };
    const saved = localStorage.getItem(KEY);
    if (saved) {
      const draft = JSON.parse(saved);
      for (const el of form.elements) {
        if (!el.name || !(el.name in draft)) continue;
        if (el.type === "checkbox") el.checked = draft[el.name]; else el.value = draft[el.name];
      }
      if (draft.__token) form.dataset.clientToken = draft.__token;
      document.getElementById("draft-note").hidden = false;
    }
    form.addEventListener("input", save);
    form.addEventListener("change", save);
    form.addEventListener("reset", () => {
      localStorage.removeItem(KEY);
      delete form.dataset.clientToken;
      clearErrors(form);
      document.getElementById("draft-note").hidden = true;
    });
    // Screen pop: the caller's earlier tickets, as soon as a full number is typed.
    const phone = form.querySelector("#caller_phone");
    const pop = document.getElementById("screen-pop");
    let lastLooked = "";
    const lookUp = async () => {
      const number = phone.value.trim();
      if (!/^\+?[0-9][0-9-]{6,19}$/.test(number) || number === lastLooked || !pop) return;
      lastLooked = number;
      const r = await api("GET", `/api/tickets?caller_phone=${encodeURIComponent(number)}&per_page=5`);
      if (!r.ok) return;
      pop.replaceChildren();
      const head = document.createElement("p");
      head.textContent = r.data.total ? `该号码共有 ${r.data.total} 张历史工单：` : "该号码没有历史工单";
      pop.append(head);
      const list = document.createElement("ul");
      for (const t of r.data.items) {
        const li = document.createElement("li"), a = document.createElement("a");
        a.href = `/tickets/${t.id}`; a.target = "_blank"; a.textContent = `${t.number} ${t.title}`;
        li.append(a, ` · ${t.status_label}`);
        list.append(li);
      }
      pop.append(list);
    };
    phone.addEventListener("change", lookUp);
    phone.addEventListener("blur", lookUp);
    if (phone.value) lookUp();

    let busy = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (busy) return;  // a second click while the first is on its way does nothing
      busy = true;
      clearErrors(form);
      const button = form.querySelector("#submit-ticket");
      button.disabled = true;
      const body = readForm(form);
      body.client_token = token();
      if (body.dispatch && body.dispatch.lead_unit_id === "auto") { delete body.dispatch; body.auto_dispatch = true; }
      if (form.dataset.mergeInto) { delete body.dispatch; delete body.auto_dispatch; body.merge_into = Number(form.dataset.mergeInto); }
      try {
        const r = await api("POST", "/api/tickets", body);
        if (r.ok) {
          const t = r.data;
          const done = {dispatched: "受理并派单", merged: "受理并合并"}[t.status] || "受理";
          const out = document.getElementById("created");
          out.replaceChildren();
          const p = document.createElement("p"), a = document.createElement("a");
          p.className = "ok"; a.href = `/tickets/${t.id}`; a.textContent = t.number;
          p.append(`已${done}：`, a);
          out.append(p);
          if (form.dataset.callId) {
            api("POST", "/api/cti/link", {call_id: form.dataset.callId, ticket_id: t.id});
            delete form.dataset.callId;
          }
          if (t.routing) {
            const why = document.createElement("p");
            why.id = "auto-dispatch-result";
            why.className = t.routing.dispatch ? "ok" : "hint";
            why.textContent = t.routing.dispatch ? t.routing.reason : `未自动派单：${t.routing.reason}`;
            out.append(why);
          }
          form.dispatchEvent(new CustomEvent("ticket-created", {detail: t}));
          form.reset();
        } else showErrors(form, r.data);
      } catch (e) { showErrors(form, {message: "网络错误，草稿已保存，请重试"}); }
      finally { busy = false; button.disabled = false; delete form.dataset.mergeInto; }
    });
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey) return;
      if (ev.key === "s" || ev.key === "S") { ev.preventDefault(); form.requestSubmit(); }
      if (ev.key === "n" || ev.key === "N") { ev.preventDefault(); form.reset(); form.querySelector("#caller_phone").focus(); }
    });
  }

  // 派单建议: while the operator types, ask the router and show units, type, category,
  // locality and duplicates; empty fields take the top suggestion, a click takes any other.
  function routingAssist(form, panel, typeLabels) {
    const field = (name) => form.elements.namedItem(name);
    const watched = ["title", "content", "address", "caller_phone", "district_id", "street_id", "community_id"];
    let timer = null, seq = 0, lastKey = "";
    const pct = (x) => `${Math.round(x * 100)}%`;
    // Fill a field the operator left empty (or that we filled before) with a suggestion.
    const offer = (name, value) => {
      const input = field(name);
      if (!input || value == null) return;
      if (input.value === "" || input.dataset.suggested === "1") {
        input.value = String(value);
        input.dataset.suggested = "1";
      }
    };
    const take = (name, value) => {
      const input = field(name);
      input.value = String(value);
      delete input.dataset.suggested;
      input.dispatchEvent(new Event("change", {bubbles: true}));
    };
    for (const name of watched.concat(["request_type", "category"])) {
      const input = field(name);
      if (input) input.addEventListener("input", (ev) => { if (ev.isTrusted) delete input.dataset.suggested; });
    }
    const render = (d) => {
      panel.replaceChildren();
      const units = el("ol", {class: "suggest-units", id: "suggested-units"});
      for (const u of d.units) {
        const pick = el("button", {type: "button", class: "small", text: "选用",
          onclick: () => take("dispatch.lead_unit_id", u.unit_id)});
        if (u.unit_id == null) { pick.disabled = true; pick.title = "属地事项：请先填写地址或选择街道"; }
        units.append(el("li", {"data-unit-id": u.unit_id ?? ""},
          el("strong", {text: u.name}), " ",
          el("span", {class: "confidence", text: pct(u.confidence)}),
          el("meter", {min: "0", max: "1", value: String(u.confidence), "aria-label": "置信度"}), " ", pick,
          el("div", {class: "hint"}, `${u.reason}${u.words.length ? "；依据：" : ""}`,
            ...u.words.map((w) => el("mark", {text: w})))));
      }
      panel.append(el("h4", {text: "承办单位"}), units.childElementCount ? units : el("p", {class: "hint", text: "暂无建议"}));
      const auto = d.auto_dispatch;
      panel.append(el("p", {id: "auto-dispatch-preview", class: auto.dispatch ? "ok" : "hint",
        text: auto.dispatch ? `提交后将${auto.reason}` : auto.reason}));
      if (d.request_types.length) {
        const top = d.request_types[0];
        offer("request_type", top.value);
        panel.append(el("p", {id: "suggested-type"}, "诉求类型：",
          ...d.request_types.map((t) => el("button", {type: "button", class: "chip", text: `${typeLabels[t.value] || t.value} ${pct(t.confidence)}`,
            onclick: () => take("request_type", t.value)}))));
      }
      if (d.categories.length) {
        offer("category", d.categories[0].path);
        panel.append(el("div", {id: "suggested-category"}, el("span", {text: "事项分类："}),
          ...d.categories.map((c) => el("button", {type: "button", class: "chip", title: c.local ? "属地办理事项" : "",
            text: `${c.path}${c.local ? "（属地）" : ""} ${pct(c.confidence)}`, onclick: () => take("category", c.path)}))));
      }
      const loc = d.locality;
      const chain = [loc.district, loc.street, loc.community].map((x) => x ? x.name : "—").join(" › ");
      panel.append(el("p", {id: "suggested-locality"}, "属地：", el("strong", {text: loc.district ? chain : "未识别"}),
        loc.evidence.length ? el("span", {class: "hint", text: `（依据：${loc.evidence.join("、")}）`}) : ""));
      if (loc.district && !field("district_id").value && !field("street_id").value && !field("community_id").value) {
        offer("district_id", loc.district.id);
        if (loc.street) offer("street_id", loc.street.id);
        if (loc.community) offer("community_id", loc.community.id);
      }
      if (d.duplicates.length) {
        const list = el("ul", {id: "duplicates", class: "duplicates"});
        for (const t of d.duplicates) {
          const why = [t.same_caller ? "同一来电号码" : "", t.same_place === "community" ? "同一社区" : t.same_place === "street" ? "同一街道" : ""].filter(Boolean).join("、");
          list.append(el("li", {"data-ticket-id": t.id},
            el("a", {href: `/tickets/${t.id}`, target: "_blank", text: t.number}), ` ${t.title} `,
            el("span", {class: "hint", text: `相似度 ${pct(t.similarity)}；${why}`}), " ",
            el("button", {type: "button", class: "small merge", text: "合并到此工单", onclick: () => {
              form.dataset.mergeInto = String(t.id);
              form.requestSubmit();
            }})));
        }
        panel.append(el("h4", {class: "warn", text: `疑似重复工单（${d.duplicates.length}）`}), list);
      }
      panel.append(el("p", {class: "hint small", text: `模型 ${d.model_version ? "v" + d.model_version : "派单目录（冷启动）"} · ${d.elapsed_ms} ms`}));
    };
    const ask = async () => {
      const body = readForm(form);
      const draft = {title: body.title || "", content: body.content || ""};
      for (const k of ["address", "caller_phone", "district_id", "street_id", "community_id"]) if (body[k] !== undefined) draft[k] = body[k];
      for (const k of ["district_id", "street_id", "community_id"]) if (field(k).dataset.suggested === "1") delete draft[k];
      const key = JSON.stringify(draft);
      if (key === lastKey) return;
      lastKey = key;
      if (!(draft.title + draft.content).trim()) {
        panel.replaceChildren(el("p", {class: "hint", text: "输入标题或诉求内容后显示派单建议。"}));
        return;
      }
      const mine = ++seq;
      const r = await api("POST", "/api/routing/suggest", draft);
      if (mine !== seq) return;  // a newer request is on its way
      if (r.ok) render(r.data);
      else panel.replaceChildren(el("p", {class: "hint", id: "suggest-error", text: (r.data && r.data.message) || "暂时无法给出派单建议"}));
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(() => ask().catch(() => {}), 350); };
    for (const name of watched) {
      const input = field(name);
      if (input) { input.addEventListener("input", later); input.addEventListener("change", later); }
    }
    form.addEventListener("reset", () => {
      lastKey = "";
      for (const name of ["request_type", "category", "district_id", "street_id", "community_id"]) delete field(name).dataset.suggested;
      setTimeout(() => panel.replaceChildren(el("p", {class: "hint", text: "输入标题或诉求内容后显示派单建议。"})), 0);
    });
    if (field("title").value || field("content").value) later();
  }

  // 坐席: sign in to a seat, set the agent state, and hear of the calls the ACD gives it.
  function seatPanel(panel, form) {
    const stateText = panel.querySelector("#seat-state");
    const buttons = panel.querySelectorAll("button[data-state]");
    const LABEL = {ready: "就绪", not_ready: "示忙", ringing: "振铃", talking: "通话中", wrap_up: "话后整理", offline: "未签入"};
    const REASON = {break: "小休", meal: "就餐", training: "培训", after_call_work: "话后整理", missed: "未接来电", supervisor: "班长设置"};
    const show = (me) => {
      const on = Boolean(me.seat) && me.state !== "offline";
      stateText.textContent = on
        ? `坐席 ${me.seat}：${LABEL[me.state] || me.state}${me.reason ? "（" + (REASON[me.reason] || me.reason) + "）" : ""}`
        : "未签入坐席";
      stateText.dataset.state = on ? me.state : "offline";
      buttons.forEach((b) => { b.disabled = !on; });
      panel.querySelectorAll("[data-call], #dtmf, #transfer-target").forEach((b) => { b.disabled = !on; });
    };
    panel.querySelectorAll("button[data-call]").forEach((b) => b.addEventListener("click", async () => {
      const body = {action: b.dataset.call};
      if (body.action === "dtmf") body.digits = panel.querySelector("#dtmf").value.trim();
      if (body.action === "transfer" || body.action === "conference") {
        body.target = panel.querySelector("#transfer-target").value;
      }
      const r = await api("POST", "/api/cti/call", body);
      if (!r.ok) toast(r.data.message || "操作失败");
      else if (body.target) callEvent(`${b.textContent} ${body.target}：正在呼叫…`);
    }));
    const report = (r) => { if (r.ok) show(r.data); else toast(r.data.message || "操作失败"); };
    api("GET", "/api/cti/me").then((r) => { if (r.ok) show(r.data); });
    panel.querySelector("#seat-login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const seat = panel.querySelector("#seat-name").value.trim();
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(seat)) { toast("坐席号只能包含字母、数字、- 和 _"); return; }
      report(await api("POST", "/api/cti/seat", {seat}));
    });
    buttons.forEach((b) => b.addEventListener("click", async () => {
      const body = {state: b.dataset.state};
      if (b.dataset.reason) body.reason = b.dataset.reason;
      report(await api("POST", "/api/cti/state", body));
    }));
    const callEvent = (text) => { panel.querySelector("#call-event").textContent = text; };
    const socket = window.HotlineSocket;
    if (!socket) return;
    socket.on("call.event", (msg) => {
      // what the softphone did on the operator's behalf: 转接, 三方通话, 监听
      const text = `${msg.text}${msg.detail ? "（" + msg.detail + "）" : ""}`;
      callEvent(text);
      toast(text);
    });
    socket.on("call.offered", (msg) => {
      form.dataset.callId = msg.call_id;  // a ticket accepted now is linked to this call
      const box = document.getElementById("incoming");
      box.hidden = false;
      box.replaceChildren();
      const strong = document.createElement("strong");
      strong.textContent = `来电 ${msg.number}`;
      box.append(strong, ` ${[msg.location, msg.carrier].filter(Boolean).join(" ")}`);
      const phone = form.querySelector("#caller_phone");
      phone.value = msg.number;
      phone.dispatchEvent(new Event("change", {bubbles: true}));
      stateText.textContent = stateText.textContent.replace(/：.*/, "：振铃");
      toast(`来电 ${msg.number}`);
    });
    socket.on("call.state", (msg) => {
      const words = {talking: "通话中", ended: "通话结束，话后整理", abandoned: "来电已挂断"};
      stateText.textContent = stateText.textContent.replace(/：.*/, `：${words[msg.state] || msg.state}`);
      if (msg.state !== "talking") api("GET", "/api/cti/me").then((r) => { if (r.ok) show(r.data); });
    });
  }

  window.Hotline = {api, el, live, bindActions, ticketForm, routingAssist, seatPanel, readForm, toast, refresh,
                    refresher};
  // Pages that ask for nothing special still get the live connection (and units their
  // notices); pages that call Hotline.live themselves run first.
  window.addEventListener("load", () => live({}));
})();
