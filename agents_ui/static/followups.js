/* 回访: refresh the queues on "ticket.changed"; 重新自动回访 for leads. */
(function () {
  "use strict";
  const REGION = "#followups-live";
  Hotline.live({refresh: REGION});
  // Delegated: the live region's rows are replaced on every refresh.
  document.addEventListener("click", async (ev) => {
    const button = ev.target.closest("button[data-retry]");
    if (!button) return;
    button.disabled = true;
    try {
      const r = await Hotline.api("POST", `/api/followups/${button.dataset.retry}/retry`);
      if (r.ok) { Hotline.toast("已重新发起自动回访"); await Hotline.refresh(REGION); }
      else { Hotline.toast(r.data.message || "操作失败"); button.disabled = false; }
    } catch (e) { Hotline.toast("网络错误，请重试"); button.disabled = false; }
  });
})();
