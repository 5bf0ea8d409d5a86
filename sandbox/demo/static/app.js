// The sandbox page: a Slack-like channel view fed by server-sent events, a composer
// that sends slash commands as the chosen demo user, and the cluster side panel.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const AVATAR_COLORS = { U0ALICE001: "#2b7bb9", U0BOB00001: "#2e8b57", U0MALLORY1: "#b04a4a" };

const state = {
  me: localStorage.getItem("deckhand-demo-user") || "U0ALICE001",
  users: [],
  names: { U0DECKHAND: "Deckhand" },
  channels: {},
  channel: "C0DEPLOYS1",
  slack: null,
  cluster: null,
  thread: null, // ts of the open thread's parent
  seen: {}, // channel id -> messages count the visitor has seen
  hints: {},
  source: null,
  history: [],
  historyAt: 0,
};

// ---------------------------------------------------------------- helpers
async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

let toastTimer = null;
function toast(text, bad = false) {
  const el = $("#toast");
  el.textContent = text;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 5000);
}

function timeOf(ts) {
  const d = new Date(Number(String(ts).split(".")[0]) * 1000);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

// Replace a container's children by keyed items, touching only changed ones.
function sync(container, items) {
  const old = new Map([...container.children].map((el) => [el.dataset.key, el]));
  let previous = null;
  for (const { key, html } of items) {
    let el = old.get(key);
    if (!el || el._html !== html) {
      const fresh = document.createElement("div");
      fresh.innerHTML = html;
      const node = fresh.firstElementChild;
      node.dataset.key = key;
      node._html = html;
      if (el) el.replaceWith(node);
      el = node;
    }
    old.delete(key);
    const want = previous ? previous.nextElementSibling : container.firstElementChild;
    if (want !== el) container.insertBefore(el, want);
    previous = el;
  }
  for (const el of old.values()) el.remove();
}

// ---------------------------------------------------------------- messages
function messageHtml(m, channel, inThread) {
  const initial = (m.name || "?").slice(0, 1).toUpperCase();
  const color = m.bot ? "#4a154b" : AVATAR_COLORS[m.user] || "#777";
  const badge = m.bot ? `<span class="app-badge">APP</span>` : "";
  const edited = m.edited ? `<span class="edited">(edited)</span>` : "";
  const only = m.ephemeral ? `<div class="only-you">👁 Only visible to you</div>` : "";
  let content;
  if (m.command) content = `<div class="command-text"><code>${escapeHtml(m.text)}</code></div>`;
  else if (m.blocks && m.blocks.length) content = renderBlocks(m.blocks, state.names);
  else content = `<div class="bk-text">${mrkdwn(m.text, state.names)}</div>`;
  const n = m.replies ? m.replies.length : 0;
  const replies = !inThread && n
    ? `<button type="button" class="replies-link" data-thread="${escapeHtml(m.ts)}">${n} ${n === 1 ? "reply" : "replies"}</button>` : "";
  const classes = ["msg", m.ephemeral ? "ephemeral" : "", m.command ? "command" : ""].join(" ");
  return `<div class="${classes}" data-ts="${escapeHtml(m.ts)}" data-channel="${escapeHtml(channel)}">
    <div class="avatar" style="background:${color}">${escapeHtml(initial)}</div>
    <div class="msg-body">
      <div class="meta"><span class="name">${escapeHtml(m.name)}</span>${badge}
        <span class="time">${timeOf(m.ts)}</span>${edited}</div>
      ${only}<div class="content">${content}</div>${replies}
    </div></div>`;
}

function currentChannel() {
  return (state.slack?.channels || []).find((c) => c.id === state.channel)
    || { id: state.channel, name: state.channels[state.channel] || state.channel, messages: [] };
}

function renderMessages() {
  const box = $("#messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const channel = currentChannel();
  const intro = {
    key: "intro",
    html: `<div class="intro"><h2># ${escapeHtml(channel.name)}</h2><p>${channel.id === "C0DEPLOYS1"
      ? "Deploys happen here. Type <code>/deploy help</code> below, or pick a hint. You act as the person chosen on the left."
      : channel.id === "HOME"
        ? "Deckhand's App Home: what runs where, per environment (published when you open it)."
        : "Deckhand posts here when pods in the watched namespaces cannot pull their image."}</p></div>`,
  };
  sync(box, [intro, ...channel.messages.map((m) => ({
    key: m.ts, html: messageHtml(m, channel.id, false),
  }))]);
  if (atBottom) box.scrollTop = box.scrollHeight;
  state.seen[channel.id] = channel.messages.length;
  $("#channel-name").textContent = `# ${channel.name}`;
  $("#channel-topic").innerHTML = channel.id === "C0DEPLOYS1"
    ? "Deploy with <code>/deploy</code>; prod needs an approval"
    : "Deckhand's image-pull alerts for the watched namespaces";
  $("#composer-input").placeholder = `Message #${channel.name} as ${state.names[state.me] || state.me} — try /deploy help`;
  renderThread();
  renderChannels();
}

function renderThread() {
  const pane = $("#thread");
  const parent = state.thread && currentChannel().messages.find((m) => m.ts === state.thread);
  if (!parent) { pane.hidden = true; state.thread = null; return; }
  pane.hidden = false;
  sync($("#thread-messages"), [parent, ...parent.replies].map((m, i) => ({
    key: m.ts, html: messageHtml(m, state.channel, true) + (i === 0 ? "" : ""),
  })));
}

function renderChannels() {
  const list = $("#channels");
  const channels = state.slack?.channels || [];
  sync(list, channels.map((c) => {
    const unread = Math.max(0, c.messages.length - (state.seen[c.id] ?? 0));
    const badge = c.id !== state.channel && unread ? `<span class="unread">${unread}</span>` : "";
    const active = c.id === state.channel ? " active" : "";
    return {
      key: c.id,
      html: `<li class="channel${active}" data-channel="${escapeHtml(c.id)}"># ${escapeHtml(c.name)}${badge}</li>`,
    };
  }));
}

function renderUsers() {
  sync($("#users"), state.users.map((u) => ({
    key: u.id,
    html: `<li class="user${u.id === state.me ? " active" : ""}" data-user="${escapeHtml(u.id)}">
      <span class="avatar small" style="background:${AVATAR_COLORS[u.id] || "#777"}">${escapeHtml(u.real_name[0])}</span>
      ${escapeHtml(u.real_name)}</li>`,
  })));
  const me = state.users.find((u) => u.id === state.me);
  $("#role").textContent = me ? `${me.real_name} is the ${me.role}.` : "";
}

// ---------------------------------------------------------------- cluster panel
function podHtml(ns, deployment, pod) {
  const cls = pod.ready ? "ready" : ["ErrImagePull", "ImagePullBackOff", "CrashLoopBackOff", "Error",
    "CreateContainerConfigError"].includes(pod.state) ? "bad" : "pending";
  const restarts = pod.restarts ? `<span class="restarts" title="restarts">↻${pod.restarts}</span>` : "";
  return `<li class="pod ${cls}" data-pod="${escapeHtml(pod.name)}" data-namespace="${escapeHtml(ns)}">
    <span class="dot"></span><span class="pod-name" title="${escapeHtml(pod.name)}">${escapeHtml(pod.name.startsWith(`${deployment}-`) ? pod.name.slice(deployment.length + 1) : pod.name)}</span>
    <span class="pod-state">${escapeHtml(pod.state)}${pod.ready ? " · Ready" : ""}</span>${restarts}
    <button type="button" class="restart-pod" title="Delete this pod and evict its image from the nodes: the replacement pulls the image again">restart</button></li>`;
}

function deploymentHtml(ns, d) {
  const crash = d.crash_staged
    ? `<button type="button" class="crash-toggle on" data-on="">stop crashing</button>`
    : `<button type="button" class="crash-toggle" data-on="1" title="Annotate the pod template: new pods crash (CrashLoopBackOff)">crash new pods</button>`;
  const paths = d.probe_paths || [];
  const probe = d.name === "admin" && paths.length
    ? (paths.includes("/admin/")
      ? `<button type="button" class="probe-path on" data-path="/" title="Probe / again, the path admin serves">probe path → /</button>`
      : `<button type="button" class="probe-path" data-path="/admin/" title="Point admin's probes at /admin/: 404, never Ready, liveness kills">probe path → /admin/</button>`)
    : "";
  return `<div class="deployment" data-namespace="${escapeHtml(ns)}" data-name="${escapeHtml(d.name)}">
    <div class="dep-head"><b>${escapeHtml(d.name)}</b> <code class="tag" title="${escapeHtml(d.image)}">${escapeHtml(d.tag)}</code>
      <span class="replicas ${d.available >= d.replicas ? "ok" : "bad"}">${d.ready}/${d.replicas} ready</span>${crash}${probe}</div>
    <ul class="pods">${d.pods.map((p) => podHtml(ns, d.name, p)).join("")}</ul></div>`;
}

function renderCluster() {
  const c = state.cluster;
  if (!c) return;
  sync($("#environments"), c.environments.map((env) => ({
    key: env.namespace,
    html: `<section class="env" data-env="${escapeHtml(env.name)}"><h4>${escapeHtml(env.name)}
      <span class="muted">namespace ${escapeHtml(env.namespace)}</span></h4>
      ${env.deployments.map((d) => deploymentHtml(env.namespace, d)).join("")}</section>`,
  })));
  renderRegistry();
}

function renderRegistry() {
  const r = state.cluster.registry;
  const box = $("#registry");
  const key = JSON.stringify(r);
  if (box._key === key) return;
  box._key = key;
  const service = $("#tag-service")?.value || "api";
  const tag = $("#tag-name")?.value;
  const repo = r.repositories.find((x) => x.service === service) || r.repositories[0];
  box.innerHTML = `<h4>Registry</h4>
    <div class="row">Pull secret token
      <span id="token-state" class="badge ${r.token_revoked ? "bad" : "ok"}">${r.token_revoked ? "revoked" : "valid"}</span></div>
    <div class="row"><button type="button" id="revoke-token" class="danger" title="Revoke the token in the pods' pull secret: new pulls fail with 401">revoke token</button>
      <button type="button" id="restore-token" title="Issue a new token and put it in the pull secrets">issue new token</button></div>
    <div class="row">
      <select id="tag-service" title="service">${r.repositories.map((x) =>
        `<option${x.service === repo.service ? " selected" : ""}>${escapeHtml(x.service)}</option>`).join("")}</select>
      <select id="tag-name" title="tag">${repo.tags.map((t) =>
        `<option${t === tag ? " selected" : ""}>${escapeHtml(t)}</option>`).join("")}</select>
      <button type="button" id="delete-tag" class="danger" title="Delete this tag from the registry">delete tag</button></div>
    <div class="row">Push a new image
      <button type="button" class="push-image" data-kind="good" title="docker buildx --platform linux/amd64 --push: Deckhand announces it and auto-deploys it to staging">good amd64</button>
      <button type="button" class="push-image danger" data-kind="arm64" title="built on the laptop: linux/arm64 only">arm64-only</button>
      <button type="button" class="push-image danger" data-kind="bad-tag" title="a tag the policy refuses">bad tag</button></div>`;
}

// ---------------------------------------------------------------- live feed
function applySlack(slack) {
  state.slack = slack;
  for (const c of slack.channels) {
    if (state.seen[c.id] === undefined) state.seen[c.id] = c.id === state.channel ? c.messages.length : 0;
  }
  renderMessages();
}

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource(`/events?user=${encodeURIComponent(state.me)}`);
  state.source = source;
  source.addEventListener("slack", (e) => applySlack(JSON.parse(e.data)));
  source.addEventListener("cluster", (e) => { state.cluster = JSON.parse(e.data); renderCluster(); });
  source.onopen = () => { $("#live").textContent = "● live"; $("#live").className = "ok"; };
  source.onerror = () => { $("#live").textContent = "reconnecting…"; $("#live").className = "bad"; };
}

async function load() {
  const response = await fetch(`/api/state?user=${encodeURIComponent(state.me)}`);
  const data = await response.json();
  state.users = data.users;
  state.channels = data.channels;
  state.hints = data.hints || {};
  for (const u of data.users) state.names[u.id] = u.real_name;
  for (const [id, handle] of Object.entries(data.usergroups || {})) state.names[id] = handle;
  state.cluster = data.cluster;
  renderUsers();
  applySlack(data.slack);
  renderCluster();
  connect();
}

// ---------------------------------------------------------------- actions
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const modal = $("#confirm");
    $("#confirm-title").innerHTML = plainText(confirm.title || { text: "Are you sure?" });
    $("#confirm-text").innerHTML = textObject(confirm.text, state.names);
    $("#confirm-ok").innerHTML = plainText(confirm.confirm || { text: "Confirm" });
    $("#confirm-cancel").innerHTML = plainText(confirm.deny || { text: "Cancel" });
    $("#confirm-ok").className = confirm.style === "danger" ? "danger" : "primary";
    modal.hidden = false;
    const done = (ok) => { modal.hidden = true; $("#confirm-ok").onclick = null; $("#confirm-cancel").onclick = null; resolve(ok); };
    $("#confirm-ok").onclick = () => done(true);
    $("#confirm-cancel").onclick = () => done(false);
  });
}

async function clickButton(button) {
  const msg = button.closest(".msg");
  const block = button.closest("[data-block-id]");
  if (button.dataset.confirm && !(await confirmDialog(JSON.parse(button.dataset.confirm)))) return;
  button.disabled = true;
  try {
    const result = await post("/api/action", {
      user: state.me,
      channel: msg.dataset.channel,
      ts: msg.dataset.ts,
      action_id: button.dataset.actionId,
      value: button.dataset.value,
      block_id: block ? block.dataset.blockId : "",
    });
    if (result.status !== 200) toast(`Deckhand answered HTTP ${result.status}`, true);
  } catch (e) {
    toast(String(e.message || e), true);
  } finally {
    button.disabled = false;
  }
}

async function breakIt(what, body = {}) {
  try {
    const result = await post(`/api/break/${what}`, body);
    toast(result.message);
  } catch (e) {
    toast(String(e.message || e), true);
  }
}

document.addEventListener("click", (event) => {
  const t = event.target.closest("button, li.channel, li.user");
  if (!t) return;
  if (t.matches(".bk-button[data-action-id]")) clickButton(t);
  else if (t.matches(".replies-link")) { state.thread = t.dataset.thread; renderThread(); }
  else if (t.id === "thread-close") { state.thread = null; renderThread(); }
  else if (t.matches("li.channel")) {
    state.channel = t.dataset.channel; state.thread = null; renderMessages(); $("#messages").scrollTop = 1e9;
    if (state.channel === "HOME") post("/api/home", { user: state.me }).catch((e) => toast(String(e.message || e), true));
  }
  else if (t.matches("li.user")) {
    state.me = t.dataset.user;
    localStorage.setItem("deckhand-demo-user", state.me);
    load();
  } else if (t.id === "revoke-token") breakIt("revoke-token");
  else if (t.id === "restore-token") breakIt("restore-token");
  else if (t.id === "delete-tag") breakIt("delete-tag", { service: $("#tag-service").value, tag: $("#tag-name").value });
  else if (t.matches(".push-image")) breakIt("push-image", { service: $("#tag-service").value, kind: t.dataset.kind });
  else if (t.matches(".restart-pod")) {
    const pod = t.closest(".pod");
    breakIt("restart-pod", { namespace: pod.dataset.namespace, pod: pod.dataset.pod });
  } else if (t.matches(".crash-toggle")) {
    const d = t.closest(".deployment");
    breakIt("crash", { namespace: d.dataset.namespace, deployment: d.dataset.name, on: Boolean(t.dataset.on) });
  } else if (t.matches(".probe-path")) {
    const d = t.closest(".deployment");
    breakIt("probe-path", { namespace: d.dataset.namespace, deployment: d.dataset.name, path: t.dataset.path });
  } else if (t.matches(".hint")) {
    const input = $("#composer-input");
    input.value = state.hints[t.dataset.fill] || t.textContent;
    input.focus();
  }
});

document.addEventListener("change", (event) => {
  if (event.target.id === "tag-service") { $("#registry")._key = null; renderRegistry(); }
});

$("#composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = $("#composer-input");
  const text = input.value.trim();
  if (!text) return;
  if (!text.startsWith("/")) { toast("Only slash commands here: try /deploy help", true); return; }
  input.value = "";
  state.history.push(text);
  state.historyAt = state.history.length;
  try {
    const result = await post("/api/command", { user: state.me, text, channel: state.channel });
    if (result.status !== 200) toast(`Deckhand answered HTTP ${result.status}`, true);
  } catch (e) {
    toast(String(e.message || e), true);
  }
  $("#messages").scrollTop = 1e9;
});

$("#composer-input").addEventListener("keydown", (event) => {
  if (event.key === "ArrowUp" && state.historyAt > 0) {
    state.historyAt -= 1;
    event.target.value = state.history[state.historyAt];
    event.preventDefault();
  } else if (event.key === "ArrowDown" && state.historyAt < state.history.length) {
    state.historyAt += 1;
    event.target.value = state.history[state.historyAt] || "";
    event.preventDefault();
  }
});

load();
