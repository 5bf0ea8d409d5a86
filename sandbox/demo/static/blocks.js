// Block Kit → HTML for the sandbox page: header, section (text, fields, button
// accessory), context, divider, actions (buttons, with confirm dialogs), rich_text,
// image (alt text only: the page loads nothing external). Unknown blocks say so.
"use strict";

function attr(value) {
  return escapeHtml(String(value == null ? "" : value));
}

function renderButton(el, users) {
  const label = plainText(el.text);
  const style = el.style === "primary" || el.style === "danger" ? ` ${el.style}` : "";
  if (el.url && safeUrl(el.url)) {
    return `<a class="bk-button${style}" href="${attr(el.url)}" target="_blank"
      rel="noopener noreferrer">${label}</a>`;
  }
  const confirm = el.confirm ? ` data-confirm="${attr(JSON.stringify(el.confirm))}"` : "";
  return `<button type="button" class="bk-button${style}" data-action-id="${attr(el.action_id)}"
    data-value="${attr(el.value)}"${confirm}>${label}</button>`;
}

function renderElement(el, users) {
  if (!el) return "";
  switch (el.type) {
    case "button": return renderButton(el, users);
    case "mrkdwn": case "plain_text": return `<span>${textObject(el, users)}</span>`;
    case "image": return `<span class="bk-image-alt">[${attr(el.alt_text || "image")}]</span>`;
    default: return `<span class="bk-unknown">[${attr(el.type)}]</span>`;
  }
}

function renderRichText(elements, users) {
  const inline = (items) => (items || []).map((it) => {
    if (it.type === "text") {
      let t = escapeHtml(it.text || "").replace(/\n/g, "<br>");
      const st = it.style || {};
      if (st.code) t = `<code>${t}</code>`;
      if (st.bold) t = `<b>${t}</b>`;
      if (st.italic) t = `<i>${t}</i>`;
      if (st.strike) t = `<s>${t}</s>`;
      return t;
    }
    if (it.type === "link") return renderMention(`${it.url}|${it.text || it.url}`, users);
    if (it.type === "user") return renderMention(`@${it.user_id}`, users);
    if (it.type === "emoji") return mrkdwn(`:${it.name}:`, users);
    return "";
  }).join("");
  return (elements || []).map((part) => {
    if (part.type === "rich_text_preformatted") return `<pre>${inline(part.elements)}</pre>`;
    if (part.type === "rich_text_quote") return `<span class="quote">${inline(part.elements)}</span>`;
    if (part.type === "rich_text_list") {
      const tag = part.style === "ordered" ? "ol" : "ul";
      const items = (part.elements || []).map((s) => `<li>${inline(s.elements)}</li>`).join("");
      return `<${tag}>${items}</${tag}>`;
    }
    return `<div>${inline(part.elements)}</div>`;
  }).join("");
}

function renderBlock(block, users) {
  switch (block.type) {
    case "header":
      return `<div class="bk-header">${plainText(block.text)}</div>`;
    case "section": {
      const text = block.text ? `<div class="bk-text">${textObject(block.text, users)}</div>` : "";
      const fields = block.fields && block.fields.length
        ? `<div class="bk-fields">${block.fields.map((f) =>
          `<div class="bk-field">${textObject(f, users)}</div>`).join("")}</div>` : "";
      const accessory = block.accessory
        ? `<div class="bk-accessory">${renderElement(block.accessory, users)}</div>` : "";
      return `<div class="bk-section" data-block-id="${attr(block.block_id)}">
        <div class="bk-main">${text}${fields}</div>${accessory}</div>`;
    }
    case "context":
      return `<div class="bk-context">${(block.elements || []).map((e) =>
        renderElement(e, users)).join("")}</div>`;
    case "divider":
      return `<hr class="bk-divider">`;
    case "actions":
      return `<div class="bk-actions" data-block-id="${attr(block.block_id)}">${(block.elements || [])
        .map((e) => renderElement(e, users)).join("")}</div>`;
    case "rich_text":
      return `<div class="bk-rich">${renderRichText(block.elements, users)}</div>`;
    case "image":
      return `<div class="bk-image-alt">[image: ${attr(block.alt_text || "")}]</div>`;
    default:
      return `<div class="bk-unknown">[${attr(block.type)} block]</div>`;
  }
}

function renderBlocks(blocks, users) {
  return (blocks || []).map((b) => renderBlock(b, users)).join("");
}
