// 系统管理: forms that ask before they act (停用、重置), and the 复制 button beside a secret shown once.
(function () {
  "use strict";
  document.querySelectorAll("form[data-confirm]").forEach(form => {
    form.addEventListener("submit", ev => { if (!confirm(form.dataset.confirm)) ev.preventDefault(); });
  });
  const copy = document.getElementById("copy-key");
  if (copy) copy.addEventListener("click", async () => {
    const secret = document.getElementById(copy.dataset.copy);
    const said = document.getElementById("copy-key-status");
    try {
      await navigator.clipboard.writeText(secret.textContent.trim());
      said.textContent = "已复制到剪贴板";
    } catch (e) {
      // No clipboard (plain http on a host name): select it for Ctrl+C instead.
      const range = document.createRange();
      range.selectNodeContents(secret);
      getSelection().removeAllRanges(); getSelection().addRange(range);
      said.textContent = "已选中" + (copy.dataset.what || "内容") + "，请按 Ctrl+C 复制";
    }
  });
})();
