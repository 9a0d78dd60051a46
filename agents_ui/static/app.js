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
      try {
        const r = await api("POST", "/api/tickets", body);
        if (r.ok) {
          const t = r.data;
          document.getElementById("created").innerHTML =
            `<p class="ok">已${t.status === "dispatched" ? "受理并派单" : "受理"}：<a href="/tickets/${t.id}">${t.number}</a></p>`;
          form.reset();
        } else showErrors(form, r.data);
      } catch (e) { showErrors(form, {message: "网络错误，草稿已保存，请重试"}); }
      finally { busy = false; button.disabled = false; }
    });
    document.addEventListener("keydown", (ev) => {
      if (!ev.altKey) return;
      if (ev.key === "s" || ev.key === "S") { ev.preventDefault(); form.requestSubmit(); }
      if (ev.key === "n" || ev.key === "N") { ev.preventDefault(); form.reset(); form.querySelector("#caller_phone").focus(); }
    });
  }

  window.Hotline = {api, live, bindActions, ticketForm, readForm, toast, refresh};
  // Pages that ask for nothing special still get the live connection (and units their
  // notices); pages that call Hotline.live themselves run first.
  window.addEventListener("load", () => live({}));
})();
