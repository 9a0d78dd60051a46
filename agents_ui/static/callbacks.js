/* 漏接回拨: draw the call-back tasks from GET /api/callbacks, again on `callback.changed`
   (at most every half second) and every 30 s; 认领, 回拨 (the operator's own seat dials),
   记录结果, 取消 (team leads and above). Everything from the API goes in as text. */
(function () {
  "use strict";
  const root = document.getElementById("callbacks");
  if (!root) return;
  const $ = (sel) => document.querySelector(sel);
  const me = Number(root.dataset.me);
  const mayCancel = root.dataset.mayCancel === "true";
  const tz = root.dataset.timezone || "Asia/Shanghai";
  const {api, el, toast} = window.Hotline;
  let filter = "open,claimed";

  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  });
  function local(iso) {
    if (!iso) return "—";
    const p = Object.fromEntries(parts.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  function say(text, alert) {
    const box = $("#cb-message");
    box.textContent = text || "";
    box.hidden = !text;
    box.classList.toggle("alert", Boolean(alert));
  }

  function button(text, action, task, label) {
    return el("button", {type: "button", text, "data-action": action, "data-task": String(task.id),
                         "aria-label": `${label || text} ${task.caller}`});
  }

  function actions(t) {
    const cell = el("td", {class: "actions"});
    if (t.status !== "open" && t.status !== "claimed") return cell;
    const mine = t.claimed_by && t.claimed_by.id === me;
    if (t.status === "open") cell.append(button("认领", "claim", t));
    if (t.status === "open" || mine) {
      cell.append(button("回拨", "dial", t), button("记录结果", "done", t));
    }
    if (mayCancel) cell.append(button("取消", "cancel", t, "取消回拨"));
    return cell;
  }

  function row(t) {
    const who = t.claimed_by ? t.claimed_by.name : (t.done_by ? t.done_by.name : "—");
    const record = [t.result_label, t.ticket_id ? `工单 ${t.ticket_id}` : ""].filter(Boolean).join(" · ");
    return el("tr", {"data-task-id": String(t.id), "data-status": t.status},
      el("td", {}, el("strong", {text: t.caller})),
      el("td", {}, el("span", {class: `reason ${t.reason}`, text: t.reason_label})),
      el("td", {text: String(t.missed_calls)}),
      el("td", {text: local(t.first_missed_at)}),
      el("td", {text: local(t.last_missed_at)}),
      el("td", {class: "task-status", text: t.status_label}),
      el("td", {class: "claimed-by", text: who}),
      el("td", {text: String(t.attempts)}),
      el("td", {}, record ? el("div", {text: record}) : "", t.note ? el("div", {class: "note", text: t.note}) : ""),
      actions(t));
  }

  function render(data) {
    const body = $("#callbacks-table tbody");
    body.replaceChildren(...data.items.map(row));
    $("#cb-empty").hidden = data.items.length > 0;
    $("#cb-open-count").textContent = `待回拨 ${data.open_count} 个`;
    tasks = new Map(data.items.map((t) => [t.id, t]));
  }
  let tasks = new Map();

  const refresh = window.Hotline.refresher(async () => {
    try {
      const r = await api("GET", `/api/callbacks?status=${encodeURIComponent(filter)}&per_page=100`);
      if (r.ok) render(r.data);
    } catch (e) {
      /* the next change or the timer tries again */
    }
  });
  const load = refresh.now, loadSoon = refresh.soon;

  render(JSON.parse(document.getElementById("callbacks-data").textContent));
  setInterval(load, 30000);
  window.Hotline.live({});
  if (window.HotlineSocket) {
    window.HotlineSocket.on("callback.changed", loadSoon);
    window.HotlineSocket.on("connect", loadSoon);  // changes missed while disconnected
  }

  root.querySelectorAll("button[data-filter]").forEach((b) => b.addEventListener("click", () => {
    filter = b.dataset.filter;
    root.querySelectorAll("button[data-filter]").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
    load();
  }));

  // ------------------------------------------------------------ 记录结果

  const dialog = $("#result-dialog");
  const form = $("#result-form");
  let resultFor = null;
  function clearErrors() {
    form.querySelectorAll("[data-error-for], .form-error").forEach((p) => { p.hidden = true; p.textContent = ""; });
  }
  function openResult(task) {
    resultFor = task;
    form.reset();
    clearErrors();
    $("#result-number").textContent = task.caller;
    dialog.showModal();
  }
  $("#result-cancel").addEventListener("click", () => dialog.close());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!resultFor) return;
    clearErrors();
    const body = {result: form.querySelector("input[name=result]:checked").value,
                  note: form.elements.namedItem("note").value.trim()};
    const ticket = form.elements.namedItem("ticket_id").value.trim();
    if (ticket) body.ticket_id = /^\d+$/.test(ticket) ? Number(ticket) : ticket;
    const save = $("#result-save");
    save.disabled = true;
    try {
      const r = await api("POST", `/api/callbacks/${resultFor.id}/done`, body);
      if (r.ok) {
        dialog.close();
        say(`${r.data.caller}：${r.data.result_label}${r.data.status === "open" ? "，任务保留待再次回拨" : ""}`);
        load();
      } else {
        const fields = (r.data.details && r.data.details.fields) || {};
        let placed = false;
        for (const [name, message] of Object.entries(fields)) {
          const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
          if (slot) { slot.textContent = message; slot.hidden = false; placed = true; }
        }
        if (!placed) {
          const general = form.querySelector(".form-error");
          general.textContent = r.data.message || "操作失败";
          general.hidden = false;
        }
      }
    } catch (e) {
      const general = form.querySelector(".form-error");
      general.textContent = "网络错误，请重试";
      general.hidden = false;
    } finally {
      save.disabled = false;
    }
  });

  // ------------------------------------------------------------ row buttons

  root.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const task = tasks.get(Number(b.dataset.task));
    if (!task) return;
    const action = b.dataset.action;
    if (action === "done") { openResult(task); return; }
    let body;
    if (action === "cancel") {
      const why = window.prompt(`取消 ${task.caller} 的回拨任务？可填写原因：`, "");
      if (why === null) return;
      body = {note: why.trim()};
    }
    b.disabled = true;
    try {
      const r = await api("POST", `/api/callbacks/${task.id}/${action}`, body);
      if (r.ok) {
        const words = {claim: "已认领", dial: "正在从坐席拨打", cancel: "已取消回拨任务"};
        say(`${words[action]}：${task.caller}${action === "dial" ? "（回拨结束后请在受理工作台点就绪）" : ""}`);
        load();
      } else {
        say(`${task.caller}：${(r.data && r.data.message) || "操作失败"}`, true);
        toast((r.data && r.data.message) || "操作失败");
        load();
      }
    } catch (e) {
      say("网络错误，请重试", true);
    } finally {
      b.disabled = false;
    }
  });
})();
