/* 回访: refresh the queues on "ticket.changed"; 用坐席拨打 (the operator's seat calls the
   citizen); 重新自动回访 for leads. */
(function () {
  "use strict";
  const REGION = "#followups-live";
  Hotline.live({refresh: REGION});
  // Delegated: the live region's rows are replaced on every refresh.
  document.addEventListener("click", async (ev) => {
    const dial = ev.target.closest("button[data-dial]");
    if (dial) {
      dial.disabled = true;
      try {
        const r = await Hotline.api("POST", "/api/cti/dial", {ticket_id: Number(dial.dataset.dial)});
        Hotline.toast(r.ok ? `正在从坐席 ${r.data.seat} 拨打，通话结束后请在受理工作台点就绪` : (r.data.message || "拨打失败"));
      } catch (e) { Hotline.toast("网络错误，请重试"); }
      dial.disabled = false;
      return;
    }
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
