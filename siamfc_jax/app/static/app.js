// The page of the SiamFC app: draw boxes on a canvas, track a video on the
// server or the camera's frames live, over one WebSocket (see server.py).
"use strict";

const $ = (id) => document.getElementById(id);
const COLOURS = ["#ff2828", "#2878ff", "#ffa000", "#e628e6", "#00dce6",
                 "#ffff3c", "#9650ff", "#a06428", "#ff96be", "#ffffff"];
const GT_COLOUR = "#28dc28";
const HANDLE = 7;  // handle half-size, in screen pixels

// The auth token of ?token=..., passed on with every request.
const TOKEN = new URLSearchParams(location.search).get("token");
function withToken(url) {
  if (!TOKEN) return url;
  return url + (url.includes("?") ? "&" : "?") + "token=" +
    encodeURIComponent(TOKEN);
}

const app = {
  sessionId: null, ws: null, mode: "video",
  clip: null,        // {name, frames, width, height, ground_truth}
  results: [],       // per frame: per target [x, y, w, h] or null
  frame: 0,          // the frame shown
  tracking: false, playing: null, files: [],
  image: null,       // what the canvas shows under the boxes
  editor: {boxes: [], edited: new Set(), selected: -1, drag: null},
  live: null,
};
window.app = app;  // for tests and the console

function colour(k) {
  if (k < COLOURS.length) return COLOURS[k];
  return `hsl(${(k * 222.5) % 360}, 85%, 55%)`;
}

function showMessage(text, info) {
  const box = $("message");
  box.textContent = text || "";
  box.className = info ? "info" : "";
}

// ---- the connection --------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const base = location.pathname.replace(/[^/]*$/, "");
  const ws = new WebSocket(withToken(`${scheme}//${location.host}${base}ws`));
  ws.binaryType = "arraybuffer";
  app.ws = ws;
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    $("connection").textContent = "disconnected: reload the page";
    app.sessionId = null;
  };
}

function api(path) {
  return withToken(`api/s/${app.sessionId}/${path}`);
}

function send(message) {
  app.ws.send(JSON.stringify(message));
}

function onMessage(m) {
  if (m.type === "hello") {
    app.sessionId = m.session;
    $("connection").textContent = "connected";
  } else if (m.type === "status") {
    showMessage(m.message + "…", true);
  } else if (m.type === "progress") {
    onProgress(m);
  } else if (m.type === "done") {
    onDone(m);
  } else if (m.type === "live_boxes") {
    onLiveBoxes(m);
  } else if (m.type === "stream_frame") {
    onStreamFrame(m);
  } else if (m.type === "stream_end") {
    showMessage(m.message + (m.summary ? `: ${m.summary}` : ""), true);
    streamButtons(false);
  } else if (m.type === "error") {
    showMessage(m.message);
    if (m.live) onLiveError(m);
    else if (m.stream) streamButtons(false);
    else if (app.tracking) setTracking(false);
  }
}

// ---- settings --------------------------------------------------------

async function loadOptions() {
  const response = await fetch(withToken("api/options"));
  const o = await response.json();
  const fill = (select, values, chosen) => {
    select.innerHTML = "";
    for (const v of values) {
      const option = document.createElement("option");
      option.value = option.textContent = v;
      select.appendChild(option);
    }
    if (chosen !== undefined) select.value = chosen;
  };
  fill($("network"), o.networks);
  fill($("preset"), ["(network's own)", ...o.presets], "(network's own)");
  fill($("backend"), o.backends, "auto");
  fill($("precision"), o.precisions, "fp32");
  const library = $("library");
  library.innerHTML = "";
  for (const item of o.library) {
    const option = document.createElement("option");
    option.value = item.path;
    option.textContent = `${item.path} (${item.kind})`;
    library.appendChild(option);
  }
  $("library-box").hidden = o.library.length === 0;
}

function settings() {
  const checkpoint = $("checkpoint").value.trim();
  const preset = $("preset").value;
  return {network: checkpoint || $("network").value,
          preset: preset.startsWith("(") ? "" : preset,
          backend: $("backend").value, precision: $("precision").value};
}

// ---- drawing ---------------------------------------------------------

const canvas = $("canvas");
const ctx = canvas.getContext("2d");

function scale() {  // image pixels per screen pixel
  const rect = canvas.getBoundingClientRect();
  return canvas.width / Math.max(rect.width, 1);
}

function draw() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (app.image) ctx.drawImage(app.image, 0, 0, canvas.width, canvas.height);
  const s = scale();
  const line = Math.max(2, 2 * s);
  ctx.lineWidth = line;
  ctx.font = `${Math.round(14 * s)}px sans-serif`;
  if (app.mode === "video" && app.clip && app.clip.gt_boxes) {
    const g = app.clip.gt_boxes[app.frame];
    if (g) { ctx.strokeStyle = GT_COLOUR; ctx.strokeRect(...g); }
  }
  const boxes = editable() ? app.editor.boxes : shownBoxes();
  boxes.forEach((b, k) => {
    if (!b) return;
    ctx.strokeStyle = ctx.fillStyle = colour(k);
    ctx.strokeRect(b[0], b[1], b[2], b[3]);
    ctx.fillText(String(k), b[0] + line + 1, b[1] + 14 * s);
    if (editable() && k === app.editor.selected) {
      for (const [x, y] of corners(b)) {
        ctx.fillRect(x - HANDLE * s, y - HANDLE * s, 2 * HANDLE * s,
                     2 * HANDLE * s);
      }
    }
  });
}

function shownBoxes() {
  if (app.mode === "stream") return app.stream ? app.stream.boxes : [];
  if (app.mode !== "video") return app.live ? app.live.boxes : [];
  return app.results[app.frame] || [];
}

function corners(b) {
  return [[b[0], b[1]], [b[0] + b[2], b[1]], [b[0], b[1] + b[3]],
          [b[0] + b[2], b[1] + b[3]]];
}

// ---- the box editor --------------------------------------------------

function editable() {
  if (app.mode === "video") return app.clip !== null && !app.tracking;
  if (app.mode === "stream") return app.stream !== null && app.stream.paused;
  return app.live !== null && app.live.paused;
}

function beginEdit(boxes) {
  app.editor = {boxes: boxes.map((b) => (b ? b.slice() : null)),
                edited: new Set(), selected: -1, drag: null};
  updateButtons();
}

function imagePoint(event) {
  const rect = canvas.getBoundingClientRect();
  const s = canvas.width / rect.width;
  return [(event.clientX - rect.left) * s, (event.clientY - rect.top) * s];
}

function hit([x, y]) {
  const e = app.editor;
  const h = HANDLE * scale() * 1.5;
  if (e.selected >= 0 && e.boxes[e.selected]) {
    const c = corners(e.boxes[e.selected]);
    for (let i = 0; i < 4; i++) {
      if (Math.abs(x - c[i][0]) <= h && Math.abs(y - c[i][1]) <= h) {
        return {k: e.selected, corner: i};
      }
    }
  }
  for (let k = e.boxes.length - 1; k >= 0; k--) {
    const b = e.boxes[k];
    if (b && x >= b[0] && x <= b[0] + b[2] && y >= b[1] &&
        y <= b[1] + b[3]) {
      return {k, corner: -1};
    }
  }
  return null;
}

canvas.addEventListener("mousedown", (event) => {
  if (!editable()) return;
  event.preventDefault();
  canvas.focus();
  const p = imagePoint(event);
  const e = app.editor;
  const found = hit(p);
  if (found && found.corner >= 0) {
    const b = e.boxes[found.k];
    // The corner opposite the one grabbed stays put.
    const c = corners(b)[3 - found.corner];
    e.drag = {kind: "resize", k: found.k, anchor: c};
  } else if (found) {
    e.selected = found.k;
    e.drag = {kind: "move", k: found.k, from: p,
              start: e.boxes[found.k].slice()};
  } else {
    e.boxes.push(null);
    e.selected = e.boxes.length - 1;
    e.drag = {kind: "new", k: e.selected, anchor: p};
  }
  draw();
});

window.addEventListener("mousemove", (event) => {
  const e = app.editor;
  if (!e.drag) return;
  const [x, y] = imagePoint(event);
  const d = e.drag;
  if (d.kind === "move") {
    e.boxes[d.k] = [d.start[0] + x - d.from[0], d.start[1] + y - d.from[1],
                    d.start[2], d.start[3]];
  } else {
    const [ax, ay] = d.anchor;
    e.boxes[d.k] = [Math.min(ax, x), Math.min(ay, y), Math.abs(x - ax),
                    Math.abs(y - ay)];
  }
  e.edited.add(d.k);
  draw();
});

window.addEventListener("mouseup", () => {
  const e = app.editor;
  if (!e.drag) return;
  const b = e.boxes[e.drag.k];
  if (e.drag.kind === "new" && (!b || b[2] < 2 || b[3] < 2)) {
    e.boxes.pop();  // a click, not a box
    e.edited.delete(e.drag.k);
    e.selected = -1;
  }
  e.drag = null;
  updateButtons();
  draw();
});

function deleteSelected() {
  const e = app.editor;
  if (!editable() || e.selected < 0) return;
  e.boxes[e.selected] = null;
  e.edited.add(e.selected);
  e.selected = -1;
  updateButtons();
  draw();
}

canvas.addEventListener("keydown", (event) => {
  if (event.key === "Delete" || event.key === "Backspace") deleteSelected();
});

// ---- video: open, track, play ----------------------------------------

async function openResponse(response) {
  const body = await response.json().catch(() => ({error: response.statusText}));
  if (!response.ok) {
    showMessage(body.error || `error ${response.status}`);
    return;
  }
  showMessage("");
  setClip(body);
}

async function upload(file) {
  if (!file) return;
  showMessage(`uploading ${file.name}…`, true);
  const response = await fetch(
    api(`upload?name=${encodeURIComponent(file.name)}`),
    {method: "POST", body: file});
  await openResponse(response);
}

async function openLibrary() {
  showMessage("opening…", true);
  const response = await fetch(api("open"), {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({path: $("library").value})});
  await openResponse(response);
}

function setClip(clip) {
  stopPlaying();
  app.clip = clip;
  app.results = Array.from({length: clip.frames}, () => []);
  app.files = [];
  canvas.width = clip.width;
  canvas.height = clip.height;
  $("clip-info").textContent =
    `${clip.name}: ${clip.frames} frames, ${clip.width}×${clip.height}` +
    (clip.has_ground_truth ? ", with ground truth" : "");
  $("scrub").max = clip.frames - 1;
  $("progress").value = 0;
  $("progress-text").textContent = "";
  $("downloads").innerHTML = "";
  $("scores").textContent = "";
  $("plot").hidden = true;
  $("hint").textContent = "Drag a box around the target, then Track.";
  app.frame = 0;
  beginEdit([]);
  showFrame(0);
}

// One frame loads at a time; while it loads, only the latest wanted frame
// is remembered, so a slow page skips frames instead of queueing them.
const loader = {want: null, busy: false};

function showFrame(i) {
  loader.want = i;
  if (!loader.busy) loadNext();
}

function loadNext() {
  if (loader.want === null) return;
  const i = loader.want;
  loader.want = null;
  loader.busy = true;
  const image = new Image();
  image.onload = () => {
    app.image = image;
    app.frame = i;
    $("scrub").value = i;
    $("frame-label").textContent = `${i + 1} / ${app.clip.frames}`;
    if (!app.tracking && !app.editor.drag &&
        !app.editor.edited.size) beginEdit(app.results[i] || []);
    draw();
    loader.busy = false;
    loadNext();
  };
  image.onerror = () => { loader.busy = false; loadNext(); };
  image.src = api(`frames/${i}`);
}

function setTracking(on) {
  app.tracking = on;
  updateButtons();
  draw();
}

function updateButtons() {
  const clip = app.clip !== null;
  const hasBox = app.editor.boxes.some((b) => b);
  $("track").disabled = !clip || app.tracking || !hasBox;
  $("track").textContent = app.frame > 0 ? "Track from here" : "Track";
  $("stop").disabled = !app.tracking;
  $("use-gt").disabled = !clip || app.tracking || !app.clip.ground_truth ||
    app.frame !== 0;
  $("delete").disabled = !editable() || app.editor.selected < 0;
  for (const id of ["play", "back", "step", "scrub"]) {
    $(id).disabled = !clip || app.tracking;
  }
}

function track() {
  const e = app.editor;
  if (!e.boxes.some((b) => b)) {
    showMessage("draw a box around the target first");
    return;
  }
  stopPlaying();
  showMessage("");
  const t = app.frame;
  // What was tracked after t is tracked again.
  for (let i = t; i < app.results.length; i++) app.results[i] = [];
  app.results[t] = e.boxes.map((b) => (b ? b.slice() : null));
  send({type: "track", frame: t, boxes: e.boxes, edited: [...e.edited],
        settings: settings()});
  app.startFrame = t;
  setTracking(true);
  $("progress-text").textContent = "starting…";
}

function onProgress(m) {
  if (!app.clip) return;
  if (!app.tracking) setTracking(true);
  if (m.type === "progress" && m.message === undefined) showMessage("");
  app.results[m.frame] = m.boxes;
  $("progress").value = m.done / m.total;
  $("progress-text").textContent = `frame ${m.done} / ${m.total}` +
    (m.fps ? `, ${m.fps.toFixed(1)} frames/s` : "");
  showFrame(m.frame);
}

async function onDone(m) {
  app.files = m.files;
  const response = await fetch(api("result"));
  if (response.ok) {
    const r = await response.json();
    app.results = r.boxes;
  }
  setTracking(false);
  $("progress-text").textContent += m.stopped ? " (paused)" : " (done)";
  const list = $("downloads");
  list.innerHTML = "";
  for (const name of m.files) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.href = api(`files/${encodeURIComponent(name)}`);
    link.textContent = name;
    link.download = name;
    link.className = "download";
    item.appendChild(link);
    list.appendChild(item);
  }
  const plot = m.files.find((f) => f.startsWith("success_plot"));
  $("plot").hidden = !plot;
  if (plot) $("plot").src = api(`files/${plot}?v=${Date.now()}`);
  $("scores").textContent = m.scores ? m.scores.map((s) =>
    `target ${s.target}: AUC ${s.auc.toFixed(3)}, precision@20px ` +
    `${s.precision20.toFixed(3)}`).join("; ") : "";
  app.editor.edited.clear();
  beginEdit(app.results[app.frame] || []);
  $("hint").textContent = "Pause on any frame and redraw a box to correct " +
    "it, then Track from here.";
  draw();
}

function stopPlaying() {
  if (app.playing) clearInterval(app.playing);
  app.playing = null;
  $("play").textContent = "Play";
}

function play() {
  if (app.playing) { stopPlaying(); return; }
  $("play").textContent = "Pause";
  app.editor.edited.clear();
  app.playing = setInterval(() => {
    if (app.frame >= app.clip.frames - 1) { stopPlaying(); return; }
    showFrame(app.frame + 1);
  }, 40);
}

function step(delta) {
  stopPlaying();
  app.editor.edited.clear();
  const i = Math.max(0, Math.min(app.clip.frames - 1, app.frame + delta));
  showFrame(i);
}

// ---- camera: live tracking -------------------------------------------

async function startCamera() {
  try {
    const stream = await navigator.mediaDevices.getUserMedia(
      {video: true, audio: false});
    const video = $("camera");
    video.srcObject = stream;
    await video.play();
    app.live = {video, stream, paused: false, boxes: [], counter: 0,
                inFlight: false, pending: null, dropped: 0, tracked: 0, sent: {},
                latencies: [], times: [], tracking: false,
                grab: document.createElement("canvas")};
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    $("camera-start").disabled = true;
    $("live-pause").disabled = false;
    $("hint").textContent = "Pause, draw a box around the target, then Go.";
    nextCameraFrame();
  } catch (error) {
    showMessage(`cannot open the camera: ${error.message || error}`);
  }
}

function nextCameraFrame() {
  const live = app.live;
  if (!live) return;
  if (live.video.requestVideoFrameCallback) {
    live.video.requestVideoFrameCallback(onCameraFrame);
  } else {
    setTimeout(onCameraFrame, 15);
  }
}

function grabFrame() {
  const live = app.live;
  const v = live.video;
  live.grab.width = v.videoWidth;
  live.grab.height = v.videoHeight;
  live.grab.getContext("2d").drawImage(v, 0, 0);
  return live.grab;
}

function onCameraFrame() {
  const live = app.live;
  if (!live) return;
  if (!live.paused) {
    const grab = grabFrame();
    if (canvas.width !== grab.width) {
      canvas.width = grab.width;
      canvas.height = grab.height;
    }
    app.image = grab;
    live.counter += 1;
    if (live.tracking) {
      // One frame in flight. The newest frame captured meanwhile waits and
      // goes as soon as the boxes are back; those it supersedes are dropped.
      if (!live.inFlight) sendCameraFrame(grab, null);
      else {
        if (live.pending) live.dropped += 1;
        live.pending = {counter: live.counter, t: performance.now()};
      }
    }
    draw();
    updateLiveStats();
  }
  nextCameraFrame();
}

function sendCameraFrame(grab, init, captured) {
  const live = app.live;
  live.inFlight = true;
  const header = captured ? {counter: captured.counter, t: captured.t} :
    {counter: live.counter, t: performance.now()};
  if (init) { header.init = init; header.settings = settings(); }
  grab.toBlob(async (blob) => {
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const head = new TextEncoder().encode(JSON.stringify(header));
    const message = new Uint8Array(4 + head.length + jpeg.length);
    new DataView(message.buffer).setUint32(0, head.length, true);
    message.set(head, 4);
    message.set(jpeg, 4 + head.length);
    app.ws.send(message);
  }, "image/jpeg", 0.9);
}

function onLiveBoxes(m) {
  const live = app.live;
  if (!live) return;
  live.inFlight = false;
  const now = performance.now();
  live.latencies.push(now - m.capture_ms);
  live.times.push(now);
  if (live.latencies.length > 30) live.latencies.shift();
  while (live.times.length && now - live.times[0] > 2000) live.times.shift();
  live.tracked += 1;
  if (!live.paused) live.boxes = m.boxes;
  const pending = live.pending;
  live.pending = null;
  if (pending && live.tracking && !live.paused) {
    sendCameraFrame(grabFrame(), null, pending);
  }
  draw();
  updateLiveStats();
}

function onLiveError() {
  const live = app.live;
  if (!live) return;
  live.inFlight = false;
  if (live.tracked === 0) live.tracking = false;
}

function updateLiveStats() {
  const live = app.live;
  const n = live.times.length;
  const span = n > 1 ? (live.times[n - 1] - live.times[0]) / 1000 : 0;
  $("live-fps").textContent = span > 0 ? ((n - 1) / span).toFixed(1) : "–";
  const sorted = live.latencies.slice().sort((a, b) => a - b);
  $("live-latency").textContent = sorted.length ?
    `${sorted[Math.floor(sorted.length / 2)].toFixed(0)} ms` : "–";
  $("live-tracked").textContent = live.tracked;
  $("live-dropped").textContent = live.dropped;
}

function livePause() {
  const live = app.live;
  live.paused = true;
  beginEdit(live.boxes);
  $("live-pause").disabled = true;
  $("live-go").disabled = false;
  draw();
}

function liveGo() {
  const live = app.live;
  const boxes = app.editor.boxes;
  if (!boxes.some((b) => b)) {
    showMessage("draw a box around the target first");
    return;
  }
  showMessage("");
  live.boxes = boxes.map((b) => (b ? b.slice() : null));
  live.paused = false;
  live.tracking = true;
  sendCameraFrame(live.grab, boxes.filter((b) => b));
  // The boxes are numbered afresh: the tracker gets only the drawn ones.
  live.boxes = live.boxes.filter((b) => b);
  $("live-pause").disabled = false;
  $("live-go").disabled = true;
  draw();
}

// ---- stream URL: opened and tracked by the server ---------------------

app.stream = null;

function streamButtons(open) {
  $("stream-pause").disabled = !open;
  $("stream-go").disabled = true;
}

function openStream() {
  showMessage("");
  app.stream = {paused: false, boxes: []};
  send({type: "stream_open", url: $("stream-url").value,
        settings: settings()});
  streamButtons(true);
}

function onStreamFrame(m) {
  const stream = app.stream;
  if (!stream || stream.paused) { send({type: "stream_ack"}); return; }
  const image = new Image();
  image.onload = () => {
    if (canvas.width !== image.width) {
      canvas.width = image.width;
      canvas.height = image.height;
    }
    app.image = image;
    if (m.boxes) stream.boxes = m.boxes;
    if (app.mode === "stream") draw();
    send({type: "stream_ack"});  // ready for the next frame
  };
  image.src = "data:image/jpeg;base64," + m.jpeg;
  if (m.fps) $("stream-fps").textContent = m.fps.toFixed(1);
  if (m.latency_ms) {
    $("stream-latency").textContent = `${m.latency_ms.toFixed(0)} ms`;
  }
  if (m.dropped !== null) $("stream-dropped").textContent = m.dropped;
}

function streamPause() {
  app.stream.paused = true;
  send({type: "stream_pause"});
  beginEdit(app.stream.boxes);
  $("stream-pause").disabled = true;
  $("stream-go").disabled = false;
  draw();
}

function streamGo() {
  const boxes = app.editor.boxes.filter((b) => b);
  if (!boxes.length) {
    showMessage("draw a box around the target first");
    return;
  }
  showMessage("");
  app.stream.boxes = boxes;
  app.stream.paused = false;
  send({type: "stream_go", boxes});
  $("stream-pause").disabled = false;
  $("stream-go").disabled = true;
  draw();
}

// ---- modes -----------------------------------------------------------

function setMode(mode) {
  app.mode = mode;
  for (const m of ["video", "camera", "stream"]) {
    $(`mode-${m}`).classList.toggle("active", m === mode);
    $(`${m}-panel`).hidden = m !== mode;
  }
  stopPlaying();
  app.image = null;
  if (mode === "video" && app.clip) {
    canvas.width = app.clip.width;
    canvas.height = app.clip.height;
    showFrame(app.frame);
  }
  draw();
}

$("mode-video").onclick = () => setMode("video");
$("mode-camera").onclick = () => setMode("camera");
$("mode-stream").onclick = () => setMode("stream");
$("stream-open").onclick = openStream;
$("stream-pause").onclick = streamPause;
$("stream-go").onclick = streamGo;
$("upload").onchange = (event) => upload(event.target.files[0]);
$("open").onclick = openLibrary;
$("use-gt").onclick = () => {
  const e = app.editor;
  if (!e.boxes.length) e.boxes.push(null);
  e.boxes[0] = app.clip.ground_truth.slice();
  e.edited.add(0);
  e.selected = 0;
  updateButtons();
  draw();
};
$("delete").onclick = deleteSelected;
$("track").onclick = track;
$("stop").onclick = () => send({type: "stop"});
$("play").onclick = play;
$("back").onclick = () => step(-1);
$("step").onclick = () => step(1);
$("scrub").oninput = (event) => {
  stopPlaying();
  app.editor.edited.clear();
  showFrame(Number(event.target.value));
};
$("camera-start").onclick = startCamera;
$("live-pause").onclick = livePause;
$("live-go").onclick = liveGo;
window.addEventListener("resize", draw);

connect();
loadOptions().catch((error) => showMessage(`cannot load options: ${error}`));
