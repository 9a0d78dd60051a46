// 网上诉求: small helps on top of a form that works without them — a character counter,
// "use my location", a photo preview with a size check, one submit only, and copying the link.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  // How long the text is, before the server has to refuse it (nothing is cut off silently).
  Array.prototype.forEach.call(document.querySelectorAll("[data-count-for]"), function (counter) {
    var input = $(counter.dataset.countFor), max = Number(counter.dataset.max);
    var min = Number(counter.dataset.min || 0);
    if (!input) return;
    var count = function () {
      var n = Array.from(input.value).length;
      var over = n > max;
      counter.textContent = n + " / " + max + " 字" + (over ? "，超出 " + (n - max) + " 字，请删减" : (min ? "，至少 " + min + " 字" : ""));
      counter.classList.toggle("over", over);
    };
    input.addEventListener("input", count);
    count();
  });

  var locate = $("locate"), clear = $("clear-location"), status = $("location-status");
  var lat = $("latitude"), lng = $("longitude");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = "正在获取位置…";
      locate.disabled = true;
      navigator.geolocation.getCurrentPosition(function (pos) {
        lat.value = pos.coords.latitude.toFixed(6);
        lng.value = pos.coords.longitude.toFixed(6);
        status.textContent = "已获取位置（" + lat.value + ", " + lng.value + "）";
        locate.disabled = false;
        clear.hidden = false;
      }, function () {
        status.textContent = "未能获取位置，请在上方填写地址。";
        locate.disabled = false;
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }
  if (clear) {
    clear.addEventListener("click", function () {
      lat.value = ""; lng.value = "";
      status.textContent = "已清除位置。";
      clear.hidden = true;
    });
  }

  var form = $("intake-form"), photo = $("photo"), preview = $("photo-preview");

  // One request, one ticket — also after 返回: the browser fetches the form again with a new
  // key, and would send the same request as a second ticket. Coming back through the
  // history, the form takes this tab's last key again, and the server answers with the
  // ticket it made the first time. A form opened afresh (a link, 再提交一件) gets a new one.
  var KEY = "hotline.intake.form-token";
  var tokenField = form ? form.querySelector("input[name=form_token]") : null;
  function cameBack(event) {
    if (event && event.persisted) return true;
    var nav = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
    return Boolean(nav && nav.type === "back_forward");
  }
  function keepOneKey(event) {
    if (!tokenField) return;
    var stored = null;
    try { stored = sessionStorage.getItem(KEY); } catch (e) { return; }
    if (stored && cameBack(event)) tokenField.value = stored;
    else try { sessionStorage.setItem(KEY, tokenField.value); } catch (e) { /* private mode */ }
  }
  keepOneKey(null);
  var photoError = $("photo-client-error");
  function photoProblem() {
    var file = photo && photo.files && photo.files[0];
    if (!file) return "";
    var max = Number(form.dataset.maxBytes || 0);
    if (max && file.size > max) {
      return "照片太大（" + (file.size / 1048576).toFixed(1) + " MB），不能超过 " +
        Math.floor(max / 1048576) + " MB，请压缩或换一张。";
    }
    if (file.type && !/^image\/(jpeg|png)$/.test(file.type)) return "只接受 JPG、PNG 图片。";
    return "";
  }
  if (photo) {
    photo.addEventListener("change", function () {
      var name = $("photo-name"), chosen = photo.files && photo.files[0];
      if (name) name.textContent = chosen ? chosen.name : "未选择照片";
      var problem = photoProblem();
      photoError.textContent = problem;
      photoError.hidden = !problem;
      photo.setAttribute("aria-invalid", problem ? "true" : "false");
      if (preview.src) URL.revokeObjectURL(preview.src);
      var file = photo.files && photo.files[0];
      if (file && !problem) {
        preview.src = URL.createObjectURL(file);
        preview.hidden = false;
      } else {
        preview.removeAttribute("src");
        preview.hidden = true;
      }
    });
  }
  if (form) {
    form.addEventListener("submit", function (event) {
      var long = form.querySelector(".counter.over");
      if (long) {  // say it here rather than after a round trip
        event.preventDefault();
        $(long.dataset.countFor).focus();
        return;
      }
      var problem = photoProblem();
      if (problem) {
        event.preventDefault();
        photoError.textContent = problem;
        photoError.hidden = false;
        photo.focus();
        return;
      }
      if (form.dataset.sent) { event.preventDefault(); return; }  // one ticket per form
      form.dataset.sent = "1";
      var button = $("submit");
      button.disabled = true;
      button.textContent = "正在提交…";
    });
  }

  // Back to a page the browser kept: let the form be sent again (with its one key).
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) keepOneKey(event);
    if (event.persisted && form && form.dataset.sent) {
      delete form.dataset.sent;
      $("submit").disabled = false;
      $("submit").textContent = "提交诉求";
    }
  });

  var copy = $("copy");
  if (copy) {
    var field = $(copy.dataset.copy), said = $("copy-status");
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var done = function () { said.textContent = "已复制查询链接"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(done, function () {
          field.select(); said.textContent = "请长按链接手动复制";
        });
      } else {
        field.select();
        try { document.execCommand("copy"); done(); } catch (e) { said.textContent = "请长按链接手动复制"; }
      }
    });
  }
})();
