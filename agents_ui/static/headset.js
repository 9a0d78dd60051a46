// The operator's headset in the console: a WebRTC phone (JsSIP, bundled at install) that
// registers at the SIP edge's WebSocket as hs-SEAT. It places no calls. Once registered it
// asks its seat's softphone to call it; it answers that one call (the agent leg) and keeps it
// for the shift: every citizen's call is mixed into it at the seat, so the operator hears the
// caller and the caller the operator's microphone. Losing it takes the seat out of the queue.
(function () {
  "use strict";

  const H = {
    state: "off",  // off, connecting, registered, up, failed
    text: "",
    seat: null,
    ua: null,
    session: null,
    mic: null,
    remote: null,
    audio: null,
    analyser: null,
    context: null,
    api: null,
    onchange: null,
    retry: null,
  };

  const set = (state, text) => {
    H.state = state;
    H.text = text;
    if (H.onchange) H.onchange(state, text);
  };

  const lost = () => { if (H.api && H.seat) H.api("POST", "/api/cti/headset/lost"); };

  // Ask the seat to call; ask again while no call has come (a lost request, a seat that was
  // restarting), every 8 s.
  const ring = () => {
    clearTimeout(H.retry);
    if (!(H.api && H.ua && H.ua.isRegistered() && !H.session)) return;
    H.api("POST", "/api/cti/headset/ring");
    H.retry = setTimeout(ring, 8000);
  };

  // What the operator hears, for the page's level meter and the tests: the remote audio's
  // spectrum (WebAudio), in dB per bin.
  const listen = (stream) => {
    H.remote = stream;
    if (!H.audio) {
      H.audio = document.createElement("audio");
      H.audio.autoplay = true;
      H.audio.hidden = true;
      document.body.appendChild(H.audio);
    }
    H.audio.srcObject = stream;
    H.audio.play().catch(() => {});
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    if (!H.context) H.context = new Ctx();
    if (H.context.state === "suspended") H.context.resume();
    const source = H.context.createMediaStreamSource(stream);
    H.analyser = H.context.createAnalyser();
    H.analyser.fftSize = 8192;
    H.analyser.smoothingTimeConstant = 0.5;
    source.connect(H.analyser);
  };

  const spectrum = () => {
    if (!H.analyser) return null;
    const data = new Float32Array(H.analyser.frequencyBinCount);
    H.analyser.getFloatFrequencyData(data);
    return {binHz: H.context.sampleRate / H.analyser.fftSize, data: Array.from(data)};
  };

  const answer = (session) => {
    clearTimeout(H.retry);
    H.session = session;
    const attach = (pc) => pc.addEventListener("track", (ev) => {
      listen(ev.streams[0] || new MediaStream([ev.track]));
    });
    if (session.connection) attach(session.connection);
    else session.on("peerconnection", (d) => attach(d.peerconnection));
    session.on("confirmed", () => { clearTimeout(H.retry); set("up", "网页耳机已接通"); });
    // Answered but never confirmed (the seat's ACK lost): give up on this call, ask anew.
    session.on("accepted", () => {
      clearTimeout(H.retry);
      H.retry = setTimeout(() => { if (!session.isEstablished()) session.terminate(); }, 6000);
    });
    const ended = () => {
      if (H.session !== session) return;
      H.session = null;
      if (!H.ua) return;  // stopped on purpose
      set("failed", "网页耳机通话中断，正在重新接通…");
      lost();
      H.retry = setTimeout(ring, 3000);
    };
    session.on("ended", ended);
    session.on("failed", ended);
    session.answer({mediaStream: H.mic, pcConfig: {iceServers: []}});
  };

  async function start(seat) {
    if (H.seat === seat) return;  // started (or starting) for this seat already
    stop();
    H.seat = seat;
    if (!window.JsSIP || !navigator.mediaDevices) {
      set("failed", "此浏览器不支持网页耳机，请使用新版 Chrome 或 Edge");
      return;
    }
    set("connecting", "网页耳机连接中…");
    const r = await H.api("POST", "/api/cti/headset");
    if (!r.ok) { set("failed", r.data.message || "网页耳机不可用"); return; }
    const c = r.data;
    try {
      H.mic = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true}, video: false});
    } catch (e) {
      set("failed", "无法使用麦克风：请允许本页使用麦克风后刷新页面");
      lost();
      return;
    }
    if (H.seat !== seat) return;  // signed out meanwhile
    const ua = new window.JsSIP.UA({
      sockets: [new window.JsSIP.WebSocketInterface(c.ws_url)],
      uri: c.uri,
      authorization_user: c.name,
      password: c.password,
      register: true,
      register_expires: 120,
      session_timers: false,
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 10,
      user_agent: "hotline-headset",
    });
    H.ua = ua;
    ua.on("registered", () => {
      if (H.ua !== ua) return;
      if (!H.session) { set("registered", "网页耳机已注册，等待坐席接通…"); ring(); }
    });
    ua.on("registrationFailed", () => {
      if (H.ua !== ua) return;
      set("failed", "网页耳机注册失败，请重新签入坐席");
      lost();
    });
    ua.on("disconnected", () => {
      if (H.ua !== ua || H.state === "failed") return;
      set("failed", "网页耳机与电话系统断开，正在重连…");
      lost();
    });
    ua.on("newRTCSession", (e) => {
      if (e.originator !== "remote") return;
      const s = e.session;
      // Only its own seat's call, one at a time.
      if (H.ua !== ua || s.remote_identity.uri.user !== seat || H.session) {
        s.terminate({status_code: 486});
        return;
      }
      answer(s);
    });
    ua.start();
  }

  function stop() {
    clearTimeout(H.retry);
    const ua = H.ua;
    H.ua = null;
    H.session = null;
    H.seat = null;
    if (ua) ua.stop();
    if (H.mic) { H.mic.getTracks().forEach((t) => t.stop()); H.mic = null; }
    if (H.audio) H.audio.srcObject = null;
    H.analyser = null;
    set("off", "");
  }

  // Follow the console's seat: a headset while signed in at a centre that has them.
  function follow(me) {
    const on = Boolean(me.seat) && me.state !== "offline" && me.headsets;
    if (on) start(me.seat);
    else if (H.ua || H.seat) stop();
  }

  window.HotlineHeadset = {
    init(api, onchange) { H.api = api; H.onchange = onchange; },
    follow,
    stop,
    spectrum,
    get state() { return H.state; },
    get text() { return H.text; },
  };
})();
