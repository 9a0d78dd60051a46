/* The pages' small client: JSON calls with the CSRF token, field errors, live updates,
   the operator's ticket form (draft kept in localStorage, one ticket per submit). */
(function () {
  "use strict";
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body, headers = {}) {
    const resp = await fetch(url, {
      method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf(), ...headers},
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
    // Parsed into an inert <template>: a DOMParser document takes this page's CSP, and the
    // fresh copy's <style> blocks carry another response's nonce (a console error each).
    const inert = document.createElement("template");
    inert.innerHTML = await resp.text();
    const fresh = inert.content.querySelector(selector), here = document.querySelector(selector);
    if (fresh && here) {
      const kept = keepInput(here);
      here.innerHTML = fresh.innerHTML;
      restoreInput(here, kept);
      bindActions(here);
    }
  }

  /* What the person is in the middle of in a region's action forms: open panels, fields
     changed from the page's own values, chosen files. A live update (often the echo of
     their own last action) must not wipe a half-filled 回访 or 回复. */
  function changed(el) {
    if (el.type === "file") return el.files && el.files.length > 0;
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") return [...el.options].some((o) => o.selected !== o.defaultSelected);
    return "defaultValue" in el && el.value !== el.defaultValue;
  }
  function keepInput(root) {
    const open = new Set([...root.querySelectorAll("details[data-panel][open]")].map((d) => d.dataset.panel));
    const forms = {};
    root.querySelectorAll("form[data-action]").forEach((form) => {
      const fields = [...form.elements].filter((el) => el.name && changed(el));
      if (fields.length) forms[form.dataset.action] = fields;
    });
    return {open, forms};
  }
  function restoreInput(root, kept) {
    const panels = root.querySelectorAll("details[data-panel]");
    if ([...panels].some((d) => kept.open.has(d.dataset.panel))) {
      panels.forEach((d) => { d.open = kept.open.has(d.dataset.panel); });
    }
    for (const [action, fields] of Object.entries(kept.forms)) {
      const form = root.querySelector(`form[data-action="${CSS.escape(action)}"]`);
      if (!form) continue;
      for (const old of fields) {
        const same = [...form.elements].filter((el) => el.name === old.name && el.type === old.type);
        if (old.type === "file") { if (same[0]) same[0].replaceWith(old); continue; }
        if (old.type === "radio" || old.type === "checkbox") {
          const twin = same.find((el) => el.value === old.value);
          if (twin) twin.checked = old.checked;
        } else if (same[0]) same[0].value = old.value;
      }
      const names = form.querySelector(".file-names"), files = form.querySelector("input[type=file]");
      if (names && files && files.files.length) names.textContent = [...files.files].map((f) => f.name).join("、");
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

  // 待派单 in the nav: how many tickets wait for a unit, kept live.
  function pendingCount() {
    const badge = document.getElementById("pending-count");
    if (!badge) return null;
    const load = refresher(async () => {
      try {
        const r = await api("GET", "/api/dispatch-queue/count");
        if (!r.ok) return;
        badge.textContent = r.data.total ? String(r.data.total) : "";
        badge.dataset.count = String(r.data.total);
      } catch (e) { /* the next change tries again */ }
    }, 800);
    load.now();
    return load;
  }

  function live(options) {
    if (typeof io === "undefined" || window.HotlineSocket) return;
    const counter = pendingCount();
    const again = options.refresh ? refresher(() => refresh(options.refresh).catch(() => {}), 300) : null;
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
      if (counter) counter.soon();
      if (options.ticketId && msg.ticket_id !== options.ticketId) return;
      if (again) again.soon();
    });
    window.HotlineSocket = socket;
  }

  /* 回复 with its files: one request, so that the reply and its files succeed or fail
     together (a refused reply keeps no file, and trying again adds none twice). */
  // A ticket action's Idempotency-Key (docs/api.md): one per user action. Sending the same
  // request again (after a network error lost the answer) reuses its key, so an action that
  // did succeed is answered, not refused; any other request gets a fresh key.
  function actionKey(holder, request) {
    if (!holder._idem || holder._idem.request !== request) {
      const id = crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + String(Math.random());
      holder._idem = {request, key: "act-" + id.replace(/[^A-Za-z0-9-]/g, "")};
    }
    return {"Idempotency-Key": holder._idem.key};
  }

  async function postWithFiles(url, body, files, headers = {}) {
    const data = new FormData();
    for (const [k, v] of Object.entries(body)) if (v !== null && typeof v !== "object") data.append(k, String(v));
    for (const file of files) data.append("files", file, file.name);
    const resp = await fetch(url, {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": csrf(), ...headers}, body: data});
    let payload = {};
    try { payload = await resp.json(); } catch (e) {
      payload = {message: resp.status === 413 ? "附件总大小超过上限，请分次上传或压缩后重试" : "提交失败"};
    }
    return {ok: resp.ok, status: resp.status, data: payload};
  }

  // Chosen files by name, next to the picker (the browser's own words may not be Chinese).
  document.addEventListener("change", (ev) => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    const names = input.closest(".file-pick") && input.closest(".file-pick").querySelector(".file-names");
    if (names) names.textContent = input.files.length ? [...input.files].map((f) => f.name).join("、") : "未选择文件";
  });

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
          const url = `/api/tickets/${form.dataset.ticketId}/actions/${form.dataset.action}`;
          const chosen = files ? [...files.files] : [];
          const request = JSON.stringify([url, body, chosen.map((f) => [f.name, f.size, f.lastModified])]);
          const key = actionKey(form, request);
          const r = chosen.length ? await postWithFiles(url, body, chosen, key)
            : await api("POST", url, body, key);
          form._idem = null;  // answered: the next action is a new one
          if (r.ok) { form.reset(); toast(`已${button.textContent}`); await refresh("#live-region"); }
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
      form.dispatchEvent(new CustomEvent("caller-history", {detail: {total: r.data.total}}));
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

    // Title and content: say how long they are before the server has to refuse them.
    form.querySelectorAll("[data-count-for]").forEach((counter) => {
      const input = form.querySelector(`[name="${counter.dataset.countFor}"]`);
      const max = Number(counter.dataset.max);
      const count = () => {
        const n = Array.from(input.value).length;
        counter.textContent = n > max ? `${n} / ${max}，超出 ${n - max} 字，请删减` : `${n} / ${max}`;
        counter.classList.toggle("over", n > max);
        if (n > max) input.setAttribute("aria-invalid", "true"); else if (!form.querySelector(`[data-error-for="${input.name}"]:not([hidden])`)) input.removeAttribute("aria-invalid");
      };
      input.addEventListener("input", count);
      form.addEventListener("reset", () => setTimeout(count, 0));
      count();
    });

    // After submit: the number, and whether it went to a unit. A ticket that did not is
    // unmistakable, and its suggested unit is one key (Alt+D) away.
    const out = document.getElementById("created");
    const dispatchTo = async (t, unitId, unitName, button) => {
      button.disabled = true;
      const url = `/api/tickets/${t.id}/actions/dispatch`;
      let r;
      try {
        r = await api("POST", url, {lead_unit_id: unitId}, actionKey(button, `${url}:${unitId}`));
        button._idem = null;  // answered: another click is a new action
      } catch (e) {
        r = {ok: false, data: {message: "网络错误，请重试"}};  // the same click again reuses the key
      }
      if (r.ok) {
        out.replaceChildren(el("p", {class: "created-ok", id: "dispatched-now"}, `已派单：`,
          el("a", {href: `/tickets/${t.id}`, text: t.number}), ` → ${unitName}`));
      } else {
        button.disabled = false;
        out.querySelector(".not-dispatched").append(el("p", {class: "error", role: "alert", text: r.data.message || "派单失败"}));
      }
    };
    const showCreated = (t) => {
      out.replaceChildren();
      const link = el("a", {href: `/tickets/${t.id}`, text: t.number});
      if (form.dataset.resolving) {  // 引用并直接办结: kb.js reports the outcome below
        out.append(el("p", {class: "created-ok"}, "已受理：", link));
        return;
      }
      if (t.status === "dispatched" || t.status === "merged") {
        const done = t.status === "dispatched" ? `已受理并派单至 ${(t.lead_unit && t.lead_unit.name) || ""}` : "已受理并合并";
        out.append(el("p", {class: "created-ok"}, `${done}：`, link));
        if (t.routing && t.routing.dispatch) out.append(el("p", {id: "auto-dispatch-result", class: "hint", text: t.routing.reason}));
        return;
      }
      const box = el("div", {class: "not-dispatched", id: "not-dispatched", role: "alert"},
        el("p", {}, el("strong", {text: "未派单"}), "：工单 ", link, " 已受理，尚未交给任何单位，已进入待派单队列。"));
      if (t.routing) box.append(el("p", {id: "auto-dispatch-result", class: "hint", text: t.routing.reason}));
      const routing = t.routing || {};
      if (routing.unit_id && routing.unit_name) {
        const button = el("button", {type: "button", class: "primary", id: "dispatch-suggested",
          text: `派给 ${routing.unit_name}（Alt+D）`});
        button.addEventListener("click", () => dispatchTo(t, routing.unit_id, routing.unit_name, button));
        box.append(button);
      }
      box.append(el("a", {class: "button", href: `/tickets/${t.id}`, text: "选择其他单位"}));
      out.append(box);
      const button = box.querySelector("#dispatch-suggested");
      if (button) button.focus({preventScroll: true});
    };
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey || (ev.key !== "d" && ev.key !== "D")) return;
      const button = document.getElementById("dispatch-suggested");
      if (button && !button.disabled) { ev.preventDefault(); button.click(); }
    });

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
          showCreated(r.data);
          window.scrollTo({top: 0});  // the outcome shows above the form, under the call bar
          if (form.dataset.callId) {
            api("POST", "/api/cti/link", {call_id: form.dataset.callId, ticket_id: r.data.id});
            delete form.dataset.callId;
          }
          form.dispatchEvent(new CustomEvent("ticket-created", {detail: r.data}));
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
      if (!d.model_version) panel.append(el("p", {class: "hint small", text: "尚无历史工单训练的模型，建议按派单目录给出"}));
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

  // 坐席: sign in to a seat, set the agent state, hear of the calls the ACD gives it, keep the
  // seat alive while this page is open, and let the buttons follow the call.
  function seatPanel(panel, form) {
    const stateText = panel.querySelector("#seat-state");
    const stateButtons = panel.querySelectorAll("button[data-state]");
    const incoming = panel.querySelector("#incoming");
    const answerButton = incoming.querySelector("button[data-call=answer]");
    const LABEL = {ready: "就绪", not_ready: "示忙", ringing: "振铃", talking: "通话中", wrap_up: "话后整理", offline: "未签入"};
    const REASON = {break: "小休", meal: "就餐", training: "培训", after_call_work: "话后整理", missed: "未接来电", supervisor: "班长设置", unreachable: "话机未连通", headset: "耳机断开"};
    const OFFLINE = {console_lost: "工作台断开过久，坐席已离线，请重新签入", signed_out: "已退出登录", seat_lost: "话机断开，请重新签入"};
    // What the softphone can do now: the buttons follow it.
    const call = {state: "none", held: false, muted: false, conference: false, id: null};
    let me = {seat: null, state: "offline", reason: "", grace_seconds: 20};
    const title = document.title;
    let blink = null;

    // An incoming call is heard: a two-tone ring from the page itself (WebAudio), which the
    // sign-in click unlocks (browsers only play sound after a gesture on the page).
    let audio = null, ringTimer = null;
    const unlockAudio = () => {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      if (!audio) audio = new Ctx();
      if (audio.state === "suspended") audio.resume();
    };
    document.addEventListener("pointerdown", unlockAudio, {once: true});
    document.addEventListener("keydown", unlockAudio, {once: true});
    const beep = () => {
      if (!audio || audio.state !== "running") return;
      const gain = audio.createGain();
      gain.gain.value = 0.08;
      gain.connect(audio.destination);
      for (const hz of [440, 480]) {
        const osc = audio.createOscillator();
        osc.frequency.value = hz;
        osc.connect(gain);
        osc.start();
        osc.stop(audio.currentTime + 1);
      }
    };
    const startRinging = () => {
      if (ringTimer) return;
      beep();
      ringTimer = setInterval(beep, 3000);
      let on = false;
      blink = setInterval(() => { on = !on; document.title = on ? "【来电】" + title : title; }, 700);
    };
    const stopRinging = () => {
      clearInterval(ringTimer); ringTimer = null;
      clearInterval(blink); blink = null;
      document.title = title;
    };

    const signedIn = () => Boolean(me.seat) && me.state !== "offline";
    const targetSelect = panel.querySelector("#transfer-target");
    // 转接号码: the hall changes (who is signed in, which lead is on duty): asked again when a
    // call comes and whenever the list is opened
    const refreshTargets = async () => {
      const r = await api("GET", "/api/cti/targets");
      if (!r.ok) return;
      const keep = targetSelect.value;
      const groups = new Map();
      targetSelect.replaceChildren();
      for (const t of r.data.targets) {
        if (!groups.has(t.group)) {
          const g = document.createElement("optgroup");
          g.label = t.group;
          groups.set(t.group, g);
          targetSelect.append(g);
        }
        const option = document.createElement("option");
        option.value = t.number;
        option.textContent = /^[0-9]+$/.test(t.number) ? `${t.name} ${t.number}` : t.name;
        groups.get(t.group).append(option);
      }
      if ([...targetSelect.options].some((o) => o.value === keep)) targetSelect.value = keep;
      enable();
    };
    targetSelect.addEventListener("focus", refreshTargets);
    targetSelect.addEventListener("change", () => enable());
    const enable = () => {
      const on = signedIn(), st = call.state;
      const inCall = st === "talking";
      const can = {
        answer: on && st === "ringing",
        hangup: on && inCall,
        hold: on && inCall && !call.held,
        unhold: on && inCall && call.held,
        mute: on && inCall && !call.muted,
        unmute: on && inCall && call.muted,
        dtmf: on && inCall && !call.held,
        transfer: on && inCall && !call.held && !call.conference,
        // a seat or the team lead on duty takes a transfer, not a three-way call
        conference: on && inCall && !call.held && !call.conference && /^[0-9]+$/.test(targetSelect.value),
        conference_end: on && inCall && call.conference,
      };
      panel.querySelectorAll("button[data-call]").forEach((b) => { b.disabled = !can[b.dataset.call]; });
      panel.querySelector("#dtmf").disabled = !can.dtmf;
      targetSelect.disabled = !can.transfer;
      const busy = st === "ringing" || st === "talking";
      stateButtons.forEach((b) => { b.disabled = !on || busy; });
    };
    const show = (data) => {
      me = Object.assign(me, data);
      const on = signedIn();
      let text = "未签入坐席";
      if (on) {
        text = `坐席 ${me.seat}：${LABEL[me.state] || me.state}${me.reason && REASON[me.reason] ? "（" + REASON[me.reason] + "）" : ""}`;
      } else if (OFFLINE[me.reason]) {
        text = OFFLINE[me.reason];
      }
      stateText.textContent = text;
      stateText.dataset.state = on ? me.state : "offline";
      stateText.classList.toggle("lost", !on && Boolean(OFFLINE[me.reason]));
      if (window.HotlineHeadset) window.HotlineHeadset.follow(me);
      if (!on || (me.state !== "ringing" && me.state !== "talking")) {
        if (call.state !== "none") endCall();
      } else if (me.state === "talking" && call.state === "none") {
        call.state = "talking";  // a page reloaded during a call
      }
      enable();
    };
    const endCall = () => {
      Object.assign(call, {state: "none", held: false, muted: false, conference: false, id: null});
      stopRinging();
      incoming.hidden = true;
      enable();
    };
    const callEvent = (text) => { panel.querySelector("#call-event").textContent = text; };

    const command = async (action, extra = {}) => {
      const body = Object.assign({action}, extra);
      const r = await api("POST", "/api/cti/call", body);
      if (!r.ok) { toast(r.data.message || "操作失败"); return false; }
      return true;
    };
    panel.querySelectorAll("button[data-call]").forEach((b) => b.addEventListener("click", async () => {
      const action = b.dataset.call, extra = {};
      if (action === "dtmf") extra.digits = panel.querySelector("#dtmf").value.trim();
      if (action === "transfer" || action === "conference") extra.target = targetSelect.value;
      if (action === "answer") stopRinging();
      if (!(await command(action, extra))) return;
      if (action === "hold" || action === "unhold") call.held = action === "hold";
      if (action === "mute" || action === "unmute") call.muted = action === "mute";
      if (extra.target) {
        const chosen = targetSelect.selectedOptions[0];
        callEvent(`${b.textContent} ${chosen ? chosen.textContent : extra.target}：正在呼叫…`);
      }
      enable();
    }));
    const report = (r) => { if (r.ok) show(r.data); else toast(r.data.message || "操作失败"); };
    const headsetText = panel.querySelector("#headset-state");
    if (window.HotlineHeadset && headsetText) {
      window.HotlineHeadset.init(api, (state, text) => {
        headsetText.textContent = text;
        headsetText.dataset.state = state;
        headsetText.hidden = !text;
      });
    }
    api("GET", "/api/cti/me").then((r) => { if (r.ok) show(r.data); });
    panel.querySelector("#seat-login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      unlockAudio();
      const seat = panel.querySelector("#seat-name").value.trim();
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(seat)) { toast("坐席号只能包含字母、数字、- 和 _"); return; }
      report(await api("POST", "/api/cti/seat", {seat}));
    });
    stateButtons.forEach((b) => b.addEventListener("click", async () => {
      const body = {state: b.dataset.state};
      if (b.dataset.reason) body.reason = b.dataset.reason;
      report(await api("POST", "/api/cti/state", body));
    }));

    // Keys: Enter on the focused 接听, Alt+A anywhere answers; Alt+H hangs up.
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
      const key = ev.key.toLowerCase();
      const target = key === "a" ? "answer" : key === "h" ? "hangup" : null;
      if (!target) return;
      ev.preventDefault();
      const button = panel.querySelector(`.softphone button[data-call=${target}]`);
      if (target === "answer" && !answerButton.disabled) answerButton.click();
      else if (button && !button.disabled) button.click();
    });

    const socket = window.HotlineSocket;
    if (!socket) return;
    // The seat takes calls only while this page keeps it alive (telephony.console_grace_seconds).
    const alive = () => {
      if (!me.seat || !socket.connected) return;
      socket.emit("seat_alive", {}, (data) => { if (data) show(data); });
    };
    setInterval(alive, Math.max(2, (me.grace_seconds || 20) / 4) * 1000);
    socket.on("connect", alive);
    socket.on("call.event", (msg) => {
      // what the softphone did on the operator's behalf: 转接, 三方通话, 监听
      const text = `${msg.text}${msg.detail ? "（" + msg.detail + "）" : ""}`;
      if (msg.event === "conference_up") call.conference = true;
      if (msg.event === "conference_down" || msg.event === "conference_failed") call.conference = false;
      enable();
      callEvent(text);
      toast(text);
    });
    socket.on("call.offered", (msg) => {
      refreshTargets();
      form.dataset.callId = msg.call_id;  // a ticket accepted now is linked to this call
      Object.assign(call, {state: "ringing", held: false, muted: false, conference: false, id: msg.call_id});
      me.state = "ringing";
      incoming.hidden = false;
      incoming.dataset.state = "ringing";
      answerButton.hidden = false;
      panel.querySelector("#incoming-number").textContent = `来电 ${msg.number}`;
      panel.querySelector("#incoming-history").textContent = "";
      panel.querySelector("#incoming-where").textContent = [msg.location, msg.carrier].filter(Boolean).join(" ");
      const line = panel.querySelector("#incoming-line");
      line.textContent = [
        msg.transferred_from ? `转接自：${msg.transferred_from}` : "",
        msg.line ? `来电线路：${msg.line}` : "",
      ].filter(Boolean).join(" · ");
      line.hidden = !line.textContent;
      const phone = form.querySelector("#caller_phone");
      phone.value = msg.number;
      phone.dispatchEvent(new Event("change", {bubbles: true}));
      stateText.textContent = `坐席 ${me.seat}：振铃`;
      stateText.dataset.state = "ringing";
      enable();
      answerButton.focus();
      startRinging();
    });
    form.addEventListener("caller-history", (ev) => {
      if (call.state === "none") return;
      const n = ev.detail.total;
      panel.querySelector("#incoming-history").textContent = n ? `· 历史工单 ${n} 张（见下方）` : "· 无历史工单";
    });
    socket.on("call.state", (msg) => {
      if (msg.call_id && call.id && msg.call_id !== call.id) return;
      if (msg.state === "talking") {
        call.state = "talking";
        me.state = "talking";
        stopRinging();
        incoming.dataset.state = "talking";
        answerButton.disabled = true;
        answerButton.hidden = true;
        stateText.textContent = `坐席 ${me.seat}：通话中`;
        stateText.dataset.state = "talking";
        enable();
        form.querySelector("#title").focus();
        return;
      }
      if (msg.reason === "supervisor_reset") callEvent("班长已复位本坐席，通话记录已结束");
      else if (msg.state === "abandoned") callEvent("来电已挂断（未接通）");
      endCall();
      api("GET", "/api/cti/me").then((r) => { if (r.ok) show(r.data); });
    });
  }

  // 单位看到的内容: the draft as the unit will read it once dispatched. The server masks it
  // (POST /api/tickets/unit-preview), by the same rules as the unit's own ticket view.
  function unitPreview(form, panel) {
    const body = panel.querySelector(".unit-preview-body");
    const sent = ["title", "content", "address", "citizen_name", "caller_phone", "contact_phone",
      "confidential", "disclosure_allowed"];
    const empty = () => el("p", {class: "hint", text: "输入诉求人、标题或诉求内容后，这里显示派单后承办单位看到的样子。"});
    let timer = null, seq = 0, lastKey = "";
    const fact = (label, value) => [el("dt", {text: label}), el("dd", {text: value || "—"})];
    const render = (d) => {
      body.replaceChildren(
        el("p", {class: "hint", text: d.identity_masked
          ? "承办单位看不到诉求人身份：姓名、电话、身份证号和银行卡号在正文中也已遮蔽。"
          : "诉求人已同意向承办单位公开身份：承办单位看到原文。"}),
        el("dl", {class: "facts"}, ...fact("诉求人", d.citizen_name), ...fact("来电号码", d.caller_phone),
          ...fact("联系电话", d.contact_phone), ...fact("地址", d.address), ...fact("标题", d.title)),
        el("p", {class: "content", id: "unit-preview-content", text: d.content || ""}));
    };
    const ask = async () => {
      const data = readForm(form), draft = {title: "", content: ""};
      for (const k of sent) if (data[k] !== undefined) draft[k] = data[k];
      const key = JSON.stringify(draft);
      if (key === lastKey) return;
      lastKey = key;
      if (!(draft.title + draft.content + (draft.citizen_name || "")).trim()) { body.replaceChildren(empty()); return; }
      const mine = ++seq;
      const r = await api("POST", "/api/tickets/unit-preview", draft);
      if (mine !== seq) return;  // a newer draft is on its way
      if (r.ok) render(r.data);
      else body.replaceChildren(el("p", {class: "hint", text: (r.data && r.data.message) || "暂时无法显示"}));
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(() => ask().catch(() => {}), 350); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("reset", () => { lastKey = ""; setTimeout(() => body.replaceChildren(empty()), 0); });
    later();
  }
  document.addEventListener("DOMContentLoaded", () => {
    const panel = document.querySelector("aside #unit-preview"), form = document.getElementById("ticket-form");
    if (panel && form) unitPreview(form, panel);
  });

  window.Hotline = {api, actionKey, el, live, bindActions, ticketForm, routingAssist, seatPanel, unitPreview, readForm, toast, refresh,
                    refresher};
  // Pages that ask for nothing special still get the live connection (and units their
  // notices); pages that call Hotline.live themselves run first.
  window.addEventListener("load", () => live({}));
})();
