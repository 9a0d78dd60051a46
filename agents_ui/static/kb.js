/* 知识库 in the console and on the ticket page: the articles that match what the operator
   types, 引用 (cite) them for the ticket, or answer with one and resolve the ticket at once.
   Article text is only ever set as text: matched words become <mark> nodes, never HTML. */
(function () {
  "use strict";
  const H = window.Hotline;
  const IDLE = "输入标题或诉求内容后，这里显示匹配的知识。";

  const el = H.el;

  // The text with each of the words in <mark>, longest word first.
  function marked(text, words) {
    const frag = document.createDocumentFragment();
    const found = [...new Set((words || []).filter((w) => w && w.trim()))].sort((a, b) => b.length - a.length);
    if (!found.length) { frag.append(text); return frag; }
    const pattern = new RegExp(found.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      if (m.index > at) frag.append(text.slice(at, m.index));
      frag.append(el("mark", {text: m[0]}));
      at = m.index + m[0].length;
    }
    frag.append(text.slice(at));
    return frag;
  }

  function hitItem(hit, buttons) {
    const head = el("div", {class: "kb-hit-head"},
      el("a", {href: `/kb/articles/${hit.id}`, target: "_blank", rel: "noopener"}, marked(hit.title, hit.words)),
      " ", el("span", {class: "kb-kind", text: hit.kind_label}),
      ...hit.flags.map((f) => el("span", {class: `kb-flag kb-flag-${f.code}`, text: f.label})));
    return el("li", {"data-article-id": String(hit.id)}, head,
      el("p", {class: "kb-snippet"}, marked(hit.snippet || "", hit.words)),
      el("div", {class: "kb-actions"}, ...buttons));
  }

  function message(r, fallback) {
    return (r && r.data && r.data.message) || fallback;
  }

  // 受理工作台: matching articles while the operator types; 引用 and 引用并直接办结.
  function kbAssist(form, panel) {
    const field = (name) => form.elements.namedItem(name);
    const query = panel.querySelector("#kb-query");
    const status = panel.querySelector("#kb-status");
    const hits = panel.querySelector("#kb-hits");
    const cited = panel.querySelector("#kb-cited");
    const chips = cited.querySelector("ul");
    const submit = form.querySelector("#submit-ticket");
    const titles = new Map();  // article id → title, for the chips and the answer
    let timer = null, seq = 0, lastQuery = "", resolving = null;

    const say = (text, cls = "hint") => { status.className = cls; status.textContent = text; };
    const report = (text, cls, id) => {
      const out = document.getElementById("created");
      if (out) out.append(el("p", {class: cls, id, text}));
    };

    // The cited articles live on the form (data-kb-articles="3,7") until the ticket exists.
    const chosen = () => (form.dataset.kbArticles || "").split(",").filter(Boolean).map(Number);
    const drawChips = () => {
      const ids = chosen();
      chips.replaceChildren(...ids.map((id) => {
        const title = titles.get(id) || `知识 ${id}`;
        return el("li", {class: "kb-chip", "data-article-id": String(id)}, el("span", {text: title}),
          el("button", {type: "button", class: "kb-unchip", text: "×", title: "取消引用",
            "aria-label": `取消引用《${title}》`, onclick: () => setChosen(chosen().filter((x) => x !== id))}));
      }));
      cited.hidden = !ids.length;
      hits.querySelectorAll("li[data-article-id]").forEach((li) => {
        const button = li.querySelector(".kb-cite");
        const on = ids.includes(Number(li.dataset.articleId));
        button.textContent = on ? "已引用" : "引用";
        button.disabled = on;
      });
    };
    const setChosen = (ids) => {
      if (ids.length) form.dataset.kbArticles = ids.join(","); else delete form.dataset.kbArticles;
      drawChips();
    };
    const cite = (hit) => {
      titles.set(hit.id, hit.title);
      if (!chosen().includes(hit.id)) setChosen([...chosen(), hit.id]);
    };

    // 引用并直接办结: accept the ticket without dispatching it, then answer with the article.
    const resolveWith = (hit) => {
      if (submit.disabled) return;  // a submission is already on its way
      cite(hit);
      resolving = {id: hit.id, title: hit.title};
      form.dataset.resolving = "1";  // the console says 已受理, not 未派单: it is being resolved
      const target = field("dispatch.lead_unit_id");
      if (target) { target.value = ""; target.dispatchEvent(new Event("change", {bubbles: true})); }
      say(`正在受理，并依据《${hit.title}》直接办结…`);
      // When the submit button comes back without a ticket made, the form was refused.
      const watch = new MutationObserver(() => {
        if (submit.disabled) return;
        watch.disconnect();
        delete form.dataset.resolving;
        if (resolving) {
          resolving = null;
          say("工单未能提交，未直接办结。请按表单中的提示修改后，再点「引用并直接办结」。", "error");
        }
      });
      watch.observe(submit, {attributes: true, attributeFilter: ["disabled"]});
      form.requestSubmit();
    };

    const render = (data) => {
      hits.replaceChildren();
      if (!data.items.length) { say("未找到匹配的知识"); return; }
      say(`找到 ${data.items.length} 条相关知识`);
      for (const hit of data.items) {
        titles.set(hit.id, hit.title);
        hits.append(hitItem(hit, [
          el("button", {type: "button", class: "small kb-cite", text: "引用",
            "aria-label": `引用《${hit.title}》`, onclick: () => cite(hit)}),
          el("button", {type: "button", class: "small kb-resolve", text: "引用并直接办结",
            "aria-label": `引用《${hit.title}》并直接办结`, onclick: () => resolveWith(hit)}),
        ]));
      }
      drawChips();
    };

    const wanted = () => query.value.trim() ||
      `${field("title").value.trim()} ${field("content").value.trim().slice(0, 200)}`.trim();
    const ask = async () => {
      const q = wanted();
      if (q === lastQuery) return;
      lastQuery = q;
      const mine = ++seq;
      if (!q) { hits.replaceChildren(); say(IDLE); return; }
      const params = new URLSearchParams({q, k: "5"});
      if (form.dataset.clientToken) params.set("draft", form.dataset.clientToken);
      let r = null;
      try { r = await H.api("GET", `/api/kb/search?${params}`); } catch (e) { r = null; }
      if (mine !== seq) return;  // a newer search is on its way
      if (r && r.ok) render(r.data);
      else {
        lastQuery = "";  // let the next keystroke try again
        hits.replaceChildren();
        say(`暂时无法查询知识库：${message(r, "网络错误，请稍后重试")}`, "error");
      }
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(() => ask().catch(() => {}), 350); };
    for (const name of ["title", "content"]) field(name).addEventListener("input", later);
    query.addEventListener("input", later);
    query.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { ev.preventDefault(); clearTimeout(timer); ask().catch(() => {}); }
    });

    // The ticket exists: record the cited articles as used, then answer with one if asked.
    const afterCreated = async (t, ids, resolve) => {
      const linked = await H.api("POST", "/api/kb/links", {ticket_id: t.id, article_ids: ids});
      if (linked.ok) report(`已引用知识 ${linked.data.items.length} 篇`, "ok", "kb-linked-result");
      else report(`知识引用未保存：${message(linked, "请在工单页面重新引用")}`, "error", "kb-linked-result");
      if (!resolve) return;
      const article = await H.api("GET", `/api/kb/articles/${resolve.id}`);
      if (!article.ok) {
        report(`未能读取知识《${resolve.title}》，工单已受理但未办结：${message(article, "")}`, "error", "kb-resolve-result");
        return;
      }
      const answer = `依据知识《${article.data.title}》答复：` + article.data.body.slice(0, 19000);
      const url = `/api/tickets/${t.id}/actions/resolve_directly`;
      const done = await H.api("POST", url, {answer}, H.actionKey(t, url));
      if (done.ok) report(`已直接办结：依据知识《${article.data.title}》答复`, "ok", "kb-resolve-result");
      else report(`直接办结未成功：${message(done, "请在工单页面办结")}（工单已受理）`, "error", "kb-resolve-result");
    };
    form.addEventListener("ticket-created", (ev) => {
      const ids = chosen(), resolve = resolving;
      resolving = null;
      if (!ids.length) return;
      afterCreated(ev.detail, ids, resolve)
        .catch(() => report("网络错误：知识引用可能未保存，请在工单页面查看", "error", "kb-linked-result"));
    });
    form.addEventListener("reset", () => {
      clearTimeout(timer);
      seq++;
      lastQuery = "";
      resolving = null;
      query.value = "";
      hits.replaceChildren();
      setChosen([]);
      say(IDLE);
    });
    if (wanted()) later();  // a restored draft
  }

  // 工单页面: the ticket's cited articles, and (for the hotline) find and cite one more.
  function kbTicket(section, ticketId) {
    const list = section.querySelector("#kb-linked");
    const empty = section.querySelector("#kb-linked-empty");
    const search = section.querySelector("#kb-ticket-search");
    if (!search) return;
    const input = search.querySelector("#kb-ticket-query");
    const status = section.querySelector("#kb-status");
    const hits = section.querySelector("#kb-hits");
    let seq = 0;
    const say = (text, cls = "hint") => { status.className = cls; status.textContent = text; };
    const linkedIds = () => [...list.querySelectorAll("li[data-article-id]")].map((li) => Number(li.dataset.articleId));
    const showLinked = (items) => {
      list.replaceChildren(...items.map((a) => el("li", {"data-article-id": String(a.article_id)},
        el("a", {href: `/kb/articles/${a.article_id}`, text: a.title}), " ",
        el("span", {class: "kb-kind", text: a.kind_label}),
        a.version ? el("small", {text: ` 第${a.version}版`}) : "")));
      empty.hidden = items.length > 0;
      markCited();
    };
    const markCited = () => {
      const ids = linkedIds();
      hits.querySelectorAll("li[data-article-id]").forEach((li) => {
        const on = ids.includes(Number(li.dataset.articleId));
        const button = li.querySelector(".kb-cite");
        button.textContent = on ? "已引用" : "引用";
        button.disabled = on;
      });
    };
    const cite = async (hit, button) => {
      button.disabled = true;
      const r = await H.api("POST", "/api/kb/links", {ticket_id: ticketId, article_ids: [hit.id]});
      if (r.ok) { showLinked(r.data.items); say(`已引用《${hit.title}》`, "ok"); }
      else { button.disabled = false; say(`未能引用：${message(r, "请稍后重试")}`, "error"); }
    };
    search.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const q = input.value.trim();
      if (!q) { hits.replaceChildren(); say("请输入要查找的内容"); return; }
      const mine = ++seq;
      let r = null;
      try {
        r = await H.api("GET", `/api/kb/search?${new URLSearchParams({q, k: "5", ticket_id: String(ticketId)})}`);
      } catch (e) { r = null; }
      if (mine !== seq) return;
      hits.replaceChildren();
      if (!r || !r.ok) { say(`暂时无法查询知识库：${message(r, "网络错误，请稍后重试")}`, "error"); return; }
      if (!r.data.items.length) { say("未找到匹配的知识"); return; }
      say(`找到 ${r.data.items.length} 条相关知识`);
      for (const hit of r.data.items) {
        const button = el("button", {type: "button", class: "small kb-cite", text: "引用",
          "aria-label": `引用《${hit.title}》`});
        button.addEventListener("click", () => cite(hit, button).catch(() => say("网络错误，请重试", "error")));
        hits.append(hitItem(hit, [button]));
      }
      markCited();
    });
  }

  Object.assign(H, {kbAssist, kbTicket});
})();
