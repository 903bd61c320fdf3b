// The browser preview of the skill: each message is POSTed to the skill endpoint as a Kakao skill
// request, and the reply is drawn the way KakaoTalk draws it. Text always goes in through textContent.
"use strict";

const ENDPOINT = "skill";
const USER_ID = "preview-" + Math.random().toString(36).slice(2, 10);
const LANG = new URLSearchParams(location.search).get("lang") || "ko";     // ?lang=en for English replies
const log = document.getElementById("log");
const quickReplies = document.getElementById("quick-replies");
const form = document.getElementById("composer");
const input = document.getElementById("message");

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function scrollDown() { log.scrollTop = log.scrollHeight; }

function bubble(text, who) {
  log.appendChild(element("div", "bubble " + who, text));
  scrollDown();
}

// An item's picture, or a placeholder tile where it has none (Kakao's list items may go without one) or
// where it does not load: the page never shows a broken image.
function placeholder() {
  const tile = element("span", "thumb", "\u266A");
  tile.setAttribute("aria-hidden", "true");
  return tile;
}

function thumbnail(url) {
  if (!url || !/^https:\/\//.test(url)) return placeholder();
  const img = element("img");
  img.alt = "";
  img.addEventListener("error", () => img.replaceWith(placeholder()), { once: true });
  img.src = url;
  return img;
}

function listCard(card) {
  const node = element("div", "card");
  node.appendChild(element("div", "card-title", (card.header || {}).title || ""));
  for (const item of card.items || []) {
    const link = (item.link || {}).web;
    const row = element(link ? "a" : "div", "card-item");
    if (link) { row.href = link; row.target = "_blank"; row.rel = "noopener"; }
    row.appendChild(thumbnail(item.imageUrl));
    const texts = element("div", "texts");
    texts.appendChild(element("span", "title", item.title || ""));
    if (item.description) texts.appendChild(element("span", "description", item.description));
    row.appendChild(texts);
    node.appendChild(row);
  }
  const buttons = element("div", "card-buttons");
  for (const button of card.buttons || []) {
    let control;
    if (button.action === "webLink") {
      control = element("a", "card-button", button.label);
      control.href = button.webLinkUrl; control.target = "_blank"; control.rel = "noopener";
    } else {
      control = element("button", "card-button", button.label);
      control.type = "button";
      control.addEventListener("click", () => send(button.messageText || button.label, button.extra));
    }
    buttons.appendChild(control);
  }
  node.appendChild(buttons);
  return node;
}

function render(reply) {
  const template = (reply && reply.template) || {};
  for (const output of template.outputs || []) {
    if (output.simpleText) bubble(output.simpleText.text, "bot");
    if (output.carousel) {
      const row = element("div", "carousel");
      for (const card of output.carousel.items || []) row.appendChild(listCard(card));
      log.appendChild(row);
    }
  }
  quickReplies.replaceChildren();
  for (const chip of template.quickReplies || []) {
    const control = element("button", "chip", chip.label);
    control.type = "button";
    control.addEventListener("click", () => send(chip.messageText || chip.label, chip.extra));
    quickReplies.appendChild(control);
  }
  scrollDown();
}

async function send(text, extra) {
  if (!text.trim()) return;
  bubble(text, "user");
  quickReplies.replaceChildren();
  const request = {
    userRequest: { utterance: text, lang: LANG, user: { id: USER_ID, type: "botUserKey" } },
    action: { params: {}, clientExtra: extra || null },
  };
  try {
    const response = await fetch(ENDPOINT, { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify(request) });
    if (!response.ok) throw new Error("HTTP " + response.status);
    render(await response.json());
  } catch (error) {
    const node = element("div", "bubble bot error", "스킬 서버에 닿지 못했어요 (" + error.message + ")");
    log.appendChild(node);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = input.value;
  input.value = "";
  send(text);
});
