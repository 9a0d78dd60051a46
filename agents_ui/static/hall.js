/* 坐席监控: draw the hall from GET /api/cti/hall, again on `hall.changed` (at most every
   half second) and every 5 s; 强制示忙, 复位, 监听/耳语/强插 on a seat; the leaders' duty schedule.
   Everything from the API is put in the page as text, never as HTML. */
(function () {
  "use strict";
  const root = document.getElementById("hall");
  if (!root) return;
  const initial = JSON.parse(document.getElementById("hall-data").textContent);
  const tz = root.dataset.timezone || "Asia/Shanghai";
  const $ = (sel) => document.querySelector(sel);
  const SPY = {monitor: "监听", whisper: "耳语", barge: "强插"};

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("data-") || k.startsWith("aria-") || k === "class" || k === "type" || k === "title") node.setAttribute(k, v);
      else node[k] = v;
    }
    node.append(...children);
    return node;
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m)}:${two(r)}` : `${two(m)}:${two(r)}`;
  }

  const parts = new Intl.DateTimeFormat("zh-CN", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function local(iso, withSeconds) {
    const p = Object.fromEntries(parts.formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
    return withSeconds ? `${p.hour}:${p.minute}:${p.second}`
      : `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`;
  }

  // ------------------------------------------------------------ messages

  function say(id, text) {
    const box = $(id);
    box.textContent = text || "";
    box.hidden = !text;
  }
  const notice = (text) => { say("#hall-alert", ""); say("#hall-notice", text); };

  // 正在监听 s02 [退出]: the supervisor's own softphone stays in that call until they leave;
  // the line stays while other notices come and go.
  function spying(target, word) {
    say("#hall-alert", "");
    const line = $("#hall-spy");
    const leave = el("button", {type: "button", text: "退出", "aria-label": `退出${word} ${target}`});
    leave.addEventListener("click", async () => {
      leave.disabled = true;
      try {
        const r = await Hotline.api("POST", "/api/cti/spy", {seat: target, mode: "end"});
        if (r.ok) { say("#hall-spy", ""); notice(`已退出${word} ${target}`); return; }
        say("#hall-alert", `退出${word} ${target}：${(r.data && r.data.message) || "操作失败"}`);
      } catch (e) {
        say("#hall-alert", "网络错误，请重试");
      }
      leave.disabled = false;
    });
    line.replaceChildren(`正在${word} ${target} `, leave);
    line.hidden = false;
  }
  const alarm = (text) => { say("#hall-notice", ""); say("#hall-alert", text); };

  // ------------------------------------------------------------ the hall

  let fetchedAt = Date.now();

  function seatRow(s) {
    const busy = s.state === "talking";
    const actions = el("td", {class: "seat-actions"});
    const forced = s.not_ready_pending || (s.state === "not_ready" && s.reason === "supervisor");
    actions.append(el("button", {
      type: "button", "data-action": "not_ready", "data-seat": s.seat,
      "aria-label": `强制示忙 ${s.seat}`, text: "强制示忙",
      disabled: s.state === "offline" || forced,
    }));
    if (busy || s.state === "ringing") {
      // 复位: for a seat the ACD believes in a call when it is not (the end was never reported)
      actions.append(el("button", {
        type: "button", "data-action": "reset", "data-seat": s.seat,
        "aria-label": `复位 ${s.seat}`, text: "复位",
      }));
    }
    if (busy) {
      for (const [mode, word] of Object.entries(SPY)) {
        actions.append(el("button", {
          type: "button", "data-action": "spy", "data-mode": mode, "data-seat": s.seat,
          "aria-label": `${word} ${s.seat}`, text: word,
        }));
      }
    }
    const state = el("td", {"data-col": "state"},
      el("span", {class: `agent-state ${s.state}`, text: s.state_label}));
    if (s.not_ready_pending) state.append(el("span", {class: "pending", text: "通话结束后示忙"}));
    if (s.offline_pending) state.append(el("span", {class: "pending", text: "话务员已退出，通话结束后离线"}));
    return el("tr", {"data-seat": s.seat, "data-state": s.state},
      el("th", {scope: "row", text: s.seat}),
      el("td", {"data-col": "agent", text: s.agent_name || "—"}),
      state,
      el("td", {"data-col": "time", "data-base": s.seconds_in_state ?? "", text: duration(s.seconds_in_state)}),
      el("td", {"data-col": "caller", text: s.caller || "—"}),
      actions,
    );
  }

  function queueRow(q) {
    return el("tr", {"data-call-id": q.call_id},
      el("td", {text: String(q.position)}),
      el("td", {"data-col": "caller", text: q.caller || "—"}),
      el("td", {"data-col": "time", "data-base": q.wait_seconds ?? "", text: duration(q.wait_seconds)}),
    );
  }

  function render(hall) {
    fetchedAt = Date.now();
    // Keep the keyboard where it was: the rows are rebuilt on every refresh.
    const active = document.activeElement;
    const focus = active && active.closest && active.closest("#hall-seats")
      ? {seat: active.dataset.seat, action: active.dataset.action, mode: active.dataset.mode || ""}
      : null;
    $("#hall-as-of").textContent = `更新于 ${local(hall.as_of, true)}`;
    for (const [key, value] of Object.entries(hall.counts)) {
      const dd = root.querySelector(`[data-count="${key}"]`);
      if (dd) dd.textContent = key === "longest_wait" ? duration(value) : String(value ?? "—");
    }
    $("#hall-seats tbody").replaceChildren(...hall.seats.map(seatRow));
    $("#no-seats").hidden = hall.seats.length > 0;
    $("#hall-queue tbody").replaceChildren(...hall.queue.map(queueRow));
    $("#hall-queue").hidden = hall.queue.length === 0;
    $("#no-queue").hidden = hall.queue.length > 0;
    if (focus) {
      const again = [...root.querySelectorAll("#hall-seats button")].find((b) =>
        b.dataset.seat === focus.seat && b.dataset.action === focus.action && (b.dataset.mode || "") === focus.mode);
      if (again && !again.disabled) again.focus();
    }
  }

  // Times in state and waits go on between fetches.
  setInterval(() => {
    const elapsed = (Date.now() - fetchedAt) / 1000;
    root.querySelectorAll('[data-col="time"]').forEach((td) => {
      if (td.dataset.base !== "") td.textContent = duration(Number(td.dataset.base) + elapsed);
    });
  }, 1000);

  const refresh = Hotline.refresher(async () => {
    try {
      const r = await Hotline.api("GET", "/api/cti/hall");
      if (r.ok) { render(r.data); say("#hall-stale", ""); }
      else say("#hall-stale", `实时数据未更新：${(r.data && r.data.message) || "请稍后重试"}`);
    } catch (e) {
      say("#hall-stale", "实时数据未更新：网络错误，正在重试");
    }
  });
  const load = refresh.now, loadSoon = refresh.soon;

  if (initial.hall) render(initial.hall);
  else say("#hall-stale", "话务服务暂不可用（无法连接 Redis），正在重试");
  setInterval(load, 5000);
  Hotline.live({});
  if (window.HotlineSocket) {
    window.HotlineSocket.on("hall.changed", loadSoon);
    window.HotlineSocket.on("connect", loadSoon);  // changes missed while disconnected
  }

  root.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button) return;
    const seat = button.dataset.seat;
    if (button.dataset.action === "reset" && !window.confirm(
      `确定复位坐席 ${seat} 吗？\n\n复位会结束该坐席在系统中的当前通话记录，并释放坐席（置为示忙，话务员可再点就绪）。` +
      "只在坐席状态卡在振铃或通话中、实际已无通话时使用；不会挂断话机上正在进行的通话。")) return;
    button.disabled = true;
    try {
      if (button.dataset.action === "reset") {
        const r = await Hotline.api("POST", `/api/cti/seats/${encodeURIComponent(seat)}/reset`);
        if (r.ok) notice(`坐席 ${seat} 已复位：通话记录已结束，坐席已${r.data.state === "offline" ? "离线" : "示忙"}`);
        else alarm(`复位 ${seat}：${(r.data && r.data.message) || "操作失败"}`);
      } else if (button.dataset.action === "not_ready") {
        const r = await Hotline.api("POST", `/api/cti/seats/${encodeURIComponent(seat)}/not_ready`);
        if (r.ok) {
          notice(r.data.outcome === "pending" ? `坐席 ${seat} 正在通话，通话结束后示忙` : `坐席 ${seat} 已示忙`);
        } else {
          alarm(`强制示忙 ${seat}：${(r.data && r.data.message) || "操作失败"}`);
        }
      } else {
        const mode = button.dataset.mode, word = SPY[mode];
        const r = await Hotline.api("POST", "/api/cti/spy", {seat, mode});
        if (r.ok) spying(r.data.target || seat, word);
        else alarm(`${word} ${seat}：${(r.data && r.data.message) || "操作失败"}`);
      }
    } catch (e) {
      alarm("网络错误，请重试");
    } finally {
      button.disabled = false;
      load();
    }
  });

  // ------------------------------------------------------------ leader duty

  const manages = Boolean(initial.manages_duties);

  function dutyRow(d) {
    const row = el("tr", {"data-duty-id": String(d.id)},
      el("th", {scope: "row", text: d.leader}),
      el("td", {text: local(d.starts_at)}),
      el("td", {text: local(d.ends_at)}),
      el("td", {text: d.note || "—"}),
      el("td", {text: d.on_duty ? "值班中" : "待开始"}),
    );
    if (manages) {
      row.append(el("td", {}, el("button", {
        type: "button", "data-delete-duty": String(d.id), text: "删除",
        "aria-label": `删除 ${d.leader} ${local(d.starts_at)} 的值班`,
      })));
    }
    return row;
  }

  function renderDuties(items) {
    $("#duty-list tbody").replaceChildren(...items.map(dutyRow));
    $("#duty-list").hidden = items.length === 0;
    $("#no-duties").hidden = items.length > 0;
  }

  async function loadDuties() {
    const r = await Hotline.api("GET", "/api/cti/duties");
    if (r.ok) renderDuties(r.data.items);
  }

  renderDuties(initial.duties || []);

  const form = document.getElementById("duty-form");
  if (form) {
    const clear = () => {
      form.querySelectorAll("[data-error-for]").forEach((p) => { p.hidden = true; p.textContent = ""; });
      form.querySelectorAll("[aria-invalid]").forEach((x) => x.removeAttribute("aria-invalid"));
      const general = form.querySelector(".form-error");
      general.hidden = true; general.textContent = "";
    };
    const show = (data) => {
      const fields = (data && data.details && data.details.fields) || {};
      const rest = [];
      for (const [name, message] of Object.entries(fields)) {
        const slot = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
        if (!slot) { rest.push(message); continue; }
        slot.textContent = message; slot.hidden = false;
        const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
      }
      const general = form.querySelector(".form-error");
      general.textContent = ((data && data.message) || "操作失败") + (rest.length ? "：" + rest.join("；") : "");
      general.hidden = false;
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clear();
      const submit = form.querySelector('button[type="submit"]');
      submit.disabled = true;
      try {
        const r = await Hotline.api("POST", "/api/cti/duties", Hotline.readForm(form));
        if (r.ok) {
          form.reset();
          notice(`已安排 ${r.data.leader} 值班：${local(r.data.starts_at)} 至 ${local(r.data.ends_at)}`);
          await loadDuties();
        } else {
          show(r.data);
        }
      } catch (e) {
        show({message: "网络错误，请重试"});
      } finally {
        submit.disabled = false;
      }
    });
  }

  document.getElementById("duties").addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-delete-duty]");
    if (!button) return;
    if (!window.confirm("确定删除这条值班安排吗？")) return;
    button.disabled = true;
    const r = await Hotline.api("DELETE", `/api/cti/duties/${button.dataset.deleteDuty}`);
    if (r.ok) notice("已删除值班安排");
    else alarm(`删除值班：${(r.data && r.data.message) || "操作失败"}`);
    await loadDuties();
  });
})();
