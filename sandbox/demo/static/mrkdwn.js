// Slack mrkdwn → HTML, for the sandbox page. No external resources, no eval.
// Handles: ```pre```, `code`, *bold*, _italic_, ~strike~, > quotes, <@U…> / <#C…|name> /
// <!here> / <url|label>, :emoji: (common ones), Slack's &lt; &gt; &amp; escapes.
"use strict";

const EMOJI = {
  white_check_mark: "✅", heavy_check_mark: "✔️", x: "❌", warning: "⚠️",
  rotating_light: "🚨", lock: "🔒", unlock: "🔓", rocket: "🚀", raised_hand: "✋",
  no_entry: "⛔", no_entry_sign: "🚫", mag: "🔍", leftwards_arrow_with_hook: "↩️",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", hammer_and_wrench: "🛠️", eyes: "👀",
  information_source: "ℹ️", large_green_circle: "🟢", red_circle: "🔴",
  large_yellow_circle: "🟡", arrows_counterclockwise: "🔄", repeat: "🔁", key: "🔑",
  package: "📦", boom: "💥", fire: "🔥", tada: "🎉", ship: "🚢", anchor: "⚓",
  stopwatch: "⏱️", bell: "🔔", no_bell: "🔕", thumbsup: "👍", "+1": "👍",
  skull: "💀", question: "❓", exclamation: "❗", construction: "🚧", clock1: "🕐",
  arrow_right: "➡️", white_circle: "⚪", black_circle: "⚫", green_heart: "💚",
};

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function unescapeSlack(s) {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function safeUrl(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

// users: {id: display name}
function renderMention(inner, users) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const name = users[target.slice(1)] || label || target.slice(1);
    return `<span class="mention">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    return `<span class="mention">#${escapeHtml(label || target.slice(1))}</span>`;
  }
  if (target.startsWith("!subteam^")) {
    const handle = users[target.slice("!subteam^".length)];
    return `<span class="mention">${escapeHtml(handle ? `@${handle}` : label || "@group")}</span>`;
  }
  if (target.startsWith("!")) {
    return `<span class="mention">@${escapeHtml(label || target.slice(1))}</span>`;
  }
  const url = safeUrl(unescapeSlack(target));
  const text = escapeHtml(unescapeSlack(label || target));
  if (!url) return text;
  return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${text}</a>`;
}

function mrkdwn(text, users) {
  const held = [];
  const hold = (html) => `\u0000${held.push(html) - 1}\u0000`;
  let s = String(text || "");
  s = s.replace(/```([\s\S]*?)```/g, (_, code) =>
    hold(`<pre>${escapeHtml(unescapeSlack(code.replace(/^\n/, "")))}</pre>`));
  s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${escapeHtml(unescapeSlack(code))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (_, inner) => hold(renderMention(inner, users || {})));
  s = escapeHtml(unescapeSlack(s));
  s = s.replace(/(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)/g, "$1<b>$2</b>");
  s = s.replace(/(^|[^\w_])_(?!\s)([^_\n]+?)_(?!\w)/g, "$1<i>$2</i>");
  s = s.replace(/(^|[^\w~])~(?!\s)([^~\n]+?)~(?!\w)/g, "$1<s>$2</s>");
  s = s.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m);
  s = s.split("\n").map((line) => line.startsWith("&gt; ")
    ? `<span class="quote">${line.slice(5)}</span>` : line).join("\n");
  s = s.replace(/\n/g, "<br>");
  return s.replace(/\u0000(\d+)\u0000/g, (_, i) => held[Number(i)]);
}

function plainText(obj) {
  const text = escapeHtml(String((obj && obj.text) || ""));
  return obj && obj.emoji !== false
    ? text.replace(/:([a-z0-9_+-]+):/g, (m, name) => EMOJI[name] || m) : text;
}

function textObject(obj, users) {
  if (!obj) return "";
  return obj.type === "mrkdwn" ? mrkdwn(obj.text, users) : plainText(obj);
}
