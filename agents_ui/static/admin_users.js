// 系统管理 → 用户: the unit field follows the role (admin.js: resets ask first).
(function () {
  "use strict";
  // The unit only matters for liaisons: hide (and do not send) it for other roles.
  const role = document.getElementById("role"), field = document.getElementById("unit-field");
  const unit = document.getElementById("unit");
  if (role && field && unit) {
    const sync = () => { const on = role.value === "liaison"; field.hidden = !on; unit.disabled = !on; };
    role.addEventListener("change", sync);
    sync();
  }
})();
