// 网上诉求: small helps on top of a form that works without them — a character counter,
// "use my location", a photo preview with a size check, one submit only, and copying the link.
(function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  var text = $("description"), counter = $("counter");
  if (text && counter) {
    var count = function () { counter.textContent = String(Array.from(text.value).length); };
    text.addEventListener("input", count);
    count();
  }

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

  // Back to a page the browser kept: let the form be sent again.
  window.addEventListener("pageshow", function (event) {
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
