"""What the app's page carries besides its components: the CSS, and the small scripts Gradio runs in the browser.

No logic lives here: the scripts only turn clicks into requests to the server (through hidden text
boxes), move the view to what changed, name chat messages for screen readers, switch the theme, and
keep conversations in the browser's localStorage (never on the server): the list of past ones, which
one is open, and sending a kept one back to the server to be shown.
"""

CSS = """
.rag-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px; margin: 0 0 10px; }
.rag-doc-title { font-size: 1.15em; font-weight: 650; margin-bottom: 2px; overflow-wrap: anywhere; }
.rag-meta { color: var(--body-text-color-subdued); font-size: 0.88em; margin-bottom: 8px; overflow-wrap: anywhere; }
.rag-doc { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 480px; overflow-y: auto; position: relative;
  line-height: 1.6; padding-right: 6px; }
.rag-passage { line-height: 1.6; overflow-wrap: anywhere; }
.rag-query { margin: 4px 0 10px; font-weight: 550; overflow-wrap: anywhere; }
mark, mark.rag-hl { background: #fde68a; color: #1f2937; padding: 1px 2px; border-radius: 3px; }
.rag-empty { color: var(--body-text-color-subdued); padding: 18px 6px; }
.rag-kind { display: inline-block; padding: 1px 9px; border-radius: 999px; font-size: 0.85em; font-weight: 650;
  white-space: nowrap; }
.rag-kind-exact { background: #dcfce7; color: #166534; }
.rag-kind-near-exact { background: #dbeafe; color: #1e40af; }
.rag-kind-paraphrase { background: #fef3c7; color: #92400e; }
.rag-kind-unsupported { background: #fee2e2; color: #991b1b; }
.rag-kind-altered { background: #ffedd5; color: #9a3412; }
mark.rag-diff { background: #fecaca; color: #7f1d1d; padding: 1px 2px; border-radius: 3px; font-weight: 600; }
.rag-reason { margin: 6px 0; }
.rag-summary { margin: 4px 0; padding-left: 18px; overflow-wrap: anywhere; }
#rag-examples button { font-weight: 450; }
#rag-documents .cell-wrap, #rag-documents .cell-wrap *, #rag-lookup-table .cell-wrap, #rag-lookup-table .cell-wrap * {
  font-family: var(--font) !important; }
.rag-small p { font-size: 0.9em; margin: 0; color: var(--body-text-color-subdued); }
/* [n] markers and copy buttons inside chat messages */
#rag-chat button.rag-cite { font-weight: 700; color: var(--link-text-color, #1d4ed8); background: none; border: 0;
  padding: 0 2px; cursor: pointer; text-decoration: underline; text-underline-offset: 2px; font-size: inherit; }
#rag-chat button.rag-cite:hover, #rag-chat button.rag-cite:focus-visible { background: #dbeafe; border-radius: 4px;
  outline: 2px solid #2563eb; }
.rag-actions { display: inline-flex; flex-wrap: wrap; gap: 6px; }
#rag-chat button.rag-copy { font-size: 0.8em; padding: 1px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); }
#rag-chat button.rag-copy:focus-visible { outline: 2px solid #2563eb; }
.rag-stale { color: #991b1b; font-weight: 600; }
.dark .rag-stale { color: #fca5a5; }
.rag-page { display: block; margin: 10px 0 6px; padding: 2px 0; border-top: 1px dashed var(--border-color-primary);
  color: var(--body-text-color-subdued); font-size: 0.8em; letter-spacing: 0.04em; }
/* highlight readable in both themes (contrast above 4.5:1), also inside the chat's own prose styles */
#rag-chat mark, .dark mark, .dark mark.rag-hl, .dark #rag-chat mark { background: #fde047 !important;
  color: #111827 !important; }
/* Sources are shown at full strength: Gradio dims a collapsible message to 0.8, which halves the contrast */
#rag-chat .message-content, #rag-chat span.md { opacity: 1 !important; }
/* the question box: a visible focus ring */
#rag-question textarea:focus, #rag-question textarea:focus-visible { outline: 3px solid #2563eb !important;
  outline-offset: 1px; box-shadow: none; }
#rag-header { align-items: flex-start; }
#rag-intro h1 { margin-bottom: 2px; }
.rag-warning { padding: 10px 12px; border-radius: 8px; background: #fef2f2; color: #7f1d1d; border: 1px solid #fca5a5; }
.dark .rag-warning { background: #450a0a; color: #fecaca; border-color: #b91c1c; }
#rag-confirm { background: #b91c1c !important; color: #fff !important; border-color: #991b1b !important; }
#rag-delete { border-color: #fca5a5; color: #b91c1c; }
.dark #rag-delete { color: #fca5a5; }
/* dark mode: a differing word stays red, not the sentence highlight's yellow (after the rule above) */
.dark mark.rag-diff, .dark #rag-chat mark.rag-diff { background: #fecaca !important; color: #7f1d1d !important; }
/* the words that answer the question's type, inside a quote */
#rag-chat strong.rag-answer { font-weight: 750; text-decoration: underline; text-decoration-thickness: 2px;
  text-underline-offset: 3px; text-decoration-color: #2563eb; }
/* a [n]'s preview card (built by PAGE_JS on hover, focus or tap), fixed beside its marker */
#rag-preview { position: fixed; z-index: 1000; box-sizing: border-box; width: min(420px, calc(100vw - 16px));
  padding: 10px 12px;
  border-radius: 8px; border: 1px solid var(--border-color-primary); font-size: 0.88em; line-height: 1.5;
  background: var(--background-fill-primary); color: var(--body-text-color); box-shadow: 0 6px 24px rgba(0,0,0,.18);
  overflow-wrap: anywhere; }
#rag-preview[hidden] { display: none; }
.rag-preview-title { font-weight: 650; }
.rag-preview-meta { color: var(--body-text-color-subdued); margin-bottom: 6px; }
.rag-note { padding: 6px 10px; border-radius: 8px; color: var(--body-text-color-subdued); font-size: 0.92em; }
#rag-status:empty, #rag-history:empty { display: none; }
#rag-history details { margin: 4px 0; }
#rag-history summary { cursor: pointer; font-weight: 550; }
#rag-history ul { list-style: none; padding: 0; margin: 6px 0; }
#rag-history li { display: flex; gap: 6px; align-items: center; margin: 3px 0; }
#rag-history li button { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 2px 8px;
  background: var(--background-fill-secondary); color: var(--body-text-color); cursor: pointer; text-align: left; }
#rag-history li button.rag-open-conversation { flex: 1; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
#rag-history li[aria-current="true"] button.rag-open-conversation { font-weight: 700; border-color: #2563eb; }
/* the cited PDF page as printed: the whole page at the column's width, never cropped */
#rag-page-image img { object-fit: contain !important; width: 100% !important; height: auto !important;
  max-height: none !important; }
#rag-page-image .image-container, #rag-page-image .image-frame { height: auto !important; }
#rag-page-image label[data-testid="block-label"] { position: static !important; margin: 4px; }  /* not over the page */
/* Lookup: the claim and the source side by side where there is room */
.rag-side { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
@media (max-width: 900px) { .rag-side { grid-template-columns: 1fr; } }
/* no stray separator after the last footer link */
footer .divider, footer .divider + * ~ .divider { display: none; }
/* lookup table: sideways scrolling instead of squeezed columns on narrow screens */
#rag-lookup-cards { display: none; }
.rag-back { display: none; }
.rag-lookup-card { border-top: 1px solid var(--border-color-primary); padding-top: 8px; margin-top: 8px; }
@media (max-width: 700px) {
  #rag-lookup-table, #rag-lookup-detail:has(.rag-query) { display: none !important; }
  #rag-lookup-cards { display: block; }
  .rag-back { display: inline-block; margin: 0 0 8px; padding: 4px 10px; border-radius: 6px; cursor: pointer;
    border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
    color: var(--body-text-color); }
  /* the documents table: title, source and sentences only, in widths that hold their words */
  #rag-documents th:nth-child(4), #rag-documents td:nth-child(4), #rag-documents .body-cell:nth-child(4) {
    display: none !important; }
  #rag-documents th:nth-child(1), #rag-documents td:nth-child(1), #rag-documents .body-cell:nth-child(1) {
    width: 138px !important; min-width: 138px !important; max-width: 138px !important; flex: 0 0 138px !important; }
  #rag-documents th:nth-child(2), #rag-documents td:nth-child(2), #rag-documents .body-cell:nth-child(2) {
    width: 86px !important; min-width: 86px !important; max-width: 86px !important; flex: 0 0 86px !important; }
  #rag-documents th:nth-child(3), #rag-documents td:nth-child(3), #rag-documents .body-cell:nth-child(3) {
    width: 100px !important; min-width: 100px !important; max-width: 100px !important; flex: 0 0 100px !important; }
  #rag-intro p { display: none; }
  #rag-intro h1 { font-size: 1.25em; }
  #rag-summary { display: none; }
  #rag-chat { height: min(44vh, 400px) !important; }
  #rag-examples button { font-size: 0.8em; }
  /* the upload zone's long label above its drop area, not floating over the upload icon */
  #rag-upload label[data-testid="block-label"] { position: static !important; margin: 6px; }
}
"""

# Scroll the document viewer (not the page) so the highlighted sentence sits in view; when the
# viewer itself is off screen (a phone, where it sits under the chat), bring it into view.
SCROLL_TO_MARK = """() => { setTimeout(() => {
  for (const mark of document.querySelectorAll('#rag-focus')) {
    const box = mark.closest('.rag-doc');
    if (box) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
  }
  const viewer = document.querySelector('#rag-viewer');
  if (viewer && viewer.offsetParent !== null) {
    const place = viewer.getBoundingClientRect();
    if (place.top > window.innerHeight * 0.75 || place.bottom < 60) viewer.scrollIntoView({block: 'start'});
  }
}, 80); }"""

# After an answer: the start of the newest question and its answer at the top of the chat.
SCROLL_TO_ANSWER = """() => { setTimeout(() => {
  const asked = document.querySelectorAll('#rag-chat [data-testid="user"]');
  const last = asked[asked.length - 1];
  if (!last) return;
  let box = last.parentElement;
  while (box && box !== document.body && !(box.scrollHeight > box.clientHeight + 2
         && /(auto|scroll)/.test(getComputedStyle(box).overflowY))) box = box.parentElement;
  if (box && box !== document.body) {
    box.scrollTop += last.getBoundingClientRect().top - box.getBoundingClientRect().top - 6;
  }
  const top = last.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight * 0.6) last.scrollIntoView({block: 'start'});
}, 120); }"""

# Copy what the server put in the hidden #rag-clip box; say so on the button that asked.
COPY_TO_CLIPBOARD = """(text) => {
  const button = window.ragCopyButton;
  if (!text) return;
  const done = (ok) => { if (!button) return; const label = button.textContent;
    button.textContent = ok ? 'Copied \u2713' : 'Copy failed: select the text in Export';
    setTimeout(() => { button.textContent = label; }, 1500); };
  if (!navigator.clipboard || !window.isSecureContext) { done(false); return; }
  navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
}"""

# Installed once per page: clicks on [n] markers and copy buttons become requests to the server
# (through hidden text boxes), chat messages get plain-text accessible names, the question box
# takes the focus, and the theme toggle remembers its choice.
PAGE_JS = """() => {
  if (window.ragInstalled) return; window.ragInstalled = true;
  const send = (id, value) => {
    const box = document.querySelector('#' + id + ' textarea, #' + id + ' input');
    if (!box) return;
    box.value = value + ' ' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  document.addEventListener('click', (event) => {
    const cite = event.target.closest('.rag-cite');
    if (cite) {
      const found = cite.className.match(/rag-q(\\d+)-c(\\d+)/);
      if (found) { event.preventDefault(); send('rag-open-request', 'open ' + found[1] + ' ' + found[2]); }
      return;
    }
    if (event.target.closest('.rag-back')) {
      const asked = [...document.querySelectorAll('#rag-chat [data-testid="user"]')].pop();
      (asked || document.querySelector('#rag-chat'))?.scrollIntoView({block: 'start'});
      return;
    }
    const copy = event.target.closest('.rag-copy');
    if (copy) {
      const found = copy.className.match(/rag-q(\\d+)-c(\\d+)-(quote|note)/);
      if (found) { event.preventDefault(); window.ragCopyButton = copy;
        send('rag-copy-request', found[3] + ' ' + found[1] + ' ' + found[2]); }
    }
  });
  const plain = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll('.rag-actions').forEach((e) => e.remove());
    return copy.textContent.replace(/\\s+/g, ' ').trim();
  };
  let pending = false;
  const name = () => {
    pending = false;
    for (const message of document.querySelectorAll('#rag-chat [data-testid="user"], #rag-chat [data-testid="bot"]')) {
      const who = message.getAttribute('data-testid') === 'user' ? 'Question: ' : 'Answer: ';
      const label = who + plain(message);
      if (message.getAttribute('aria-label') !== label) message.setAttribute('aria-label', label);
      if (message.getAttribute('role') !== 'group') message.setAttribute('role', 'group');  // so the name is exposed
    }
    for (const button of document.querySelectorAll('#rag-chat button[aria-label=""]')) {  // Gradio's nameless toggles
      button.setAttribute('aria-label', button.textContent.trim() || 'Show or hide the sources');
    }
  };
  new MutationObserver(() => { if (!pending) { pending = true; requestAnimationFrame(name); } })
    .observe(document.body, {subtree: true, childList: true, characterData: true,
                             attributes: true, attributeFilter: ['aria-label']});
  document.addEventListener('keydown', (event) => {  // Ctrl+Enter (Cmd+Enter) runs a lookup
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && event.target.closest('#rag-lookup-text')) {
      event.preventDefault(); document.querySelector('#rag-lookup-run')?.click();
    }
    const tab = event.target.closest('[role="tab"]');  // arrow keys move between tabs
    if (tab && (event.key === 'ArrowRight' || event.key === 'ArrowLeft')) {
      const tabs = [...tab.closest('[role="tablist"]').querySelectorAll('[role="tab"]')].filter(t => t.offsetParent);
      const next = tabs[(tabs.indexOf(tab) + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      if (next) { event.preventDefault(); next.click(); next.focus(); }
    }
  });
  const saved = localStorage.getItem('rag-theme');
  if (saved) document.body.classList.toggle('dark', saved === 'dark');
  setTimeout(() => document.querySelector('#rag-question textarea')?.focus(), 200);
  // The [n] preview card: built with textContent from the JSON in the marker's value (never as
  // HTML), shown on hover and on focus (a keyboard's Tab, a tap), beside the marker; Escape hides it.
  const tip = document.createElement('div');
  tip.id = 'rag-preview'; tip.setAttribute('role', 'tooltip'); tip.hidden = true; document.body.append(tip);
  let anchor = null;
  const part = (tag, className, text) => { const e = document.createElement(tag); e.className = className;
    e.textContent = text || ''; return e; };
  const place = () => {
    if (!anchor || !anchor.isConnected) { tip.hidden = true; anchor = null; return; }
    const r = anchor.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) { tip.hidden = true; return; }
    tip.hidden = false;
    const below = r.bottom + 6, above = r.top - 6 - tip.offsetHeight;
    tip.style.top = (below + tip.offsetHeight <= window.innerHeight || above < 0 ? below : above) + 'px';
    tip.style.left = Math.max(8, Math.min(r.left, window.innerWidth - tip.offsetWidth - 8)) + 'px';
  };
  const show = (button) => {
    let d; try { d = JSON.parse(button.value); } catch (e) { return; }
    const passage = part('div', 'rag-preview-passage');
    passage.append(String(d.before || ''), part('mark', '', String(d.quote || '')), String(d.after || ''));
    tip.replaceChildren(part('div', 'rag-preview-title', String(d.title || '')),
                        part('div', 'rag-preview-meta', String(d.meta || '')), passage);
    anchor = button; button.setAttribute('aria-describedby', 'rag-preview'); place();
  };
  const hide = () => { tip.hidden = true; anchor = null; };
  const marker = (event) => event.target.closest?.('.rag-cite[value]');
  document.addEventListener('mouseover', (event) => {
    const b = marker(event);
    if (b) show(b);
    else if (anchor && document.activeElement !== anchor && !event.target.closest?.('#rag-preview')) hide();
  });
  document.addEventListener('focusin', (event) => { const b = marker(event); if (b) show(b); else hide(); });
  document.addEventListener('keydown', (event) => { if (event.key === 'Escape') hide(); });
  window.addEventListener('scroll', place, true);
  // Conversations kept in this browser: [{id, title, at, answers}], newest first.
  const STORE = 'rag-conversations', CURRENT = 'rag-conversation-open', KEPT = 30;
  const read = () => { try { const v = JSON.parse(localStorage.getItem(STORE) || '[]');
    return Array.isArray(v) ? v.filter(c => c && typeof c.id === 'string' && Array.isArray(c.answers)) : []; }
    catch (e) { return []; } };
  const write = (list) => { for (let n = Math.min(list.length, KEPT); n > 0; n--) {
    try { localStorage.setItem(STORE, JSON.stringify(list.slice(0, n))); return; }
    catch (e) { /* full: drop the oldest */ } } };
  const restore = (conversation) => {
    window.ragConversation = conversation.id; localStorage.setItem(CURRENT, conversation.id);
    const box = document.querySelector('#rag-restore textarea, #rag-restore input');
    if (!box) return;
    box.value = Date.now() + '\\n' + JSON.stringify(conversation.answers);
    box.dispatchEvent(new Event('input', {bubbles: true}));
    render();
  };
  const render = () => {
    const host = document.querySelector('#rag-history'); if (!host) return;
    const list = read(); const wasOpen = host.querySelector('details')?.open;
    const target = host.querySelector('.prose') || host.firstElementChild || host;
    target.replaceChildren();
    if (!list.length) return;
    const details = document.createElement('details'); details.open = !!wasOpen;
    const summary = document.createElement('summary');
    summary.textContent = 'Past conversations, kept in this browser (' + list.length + ')';
    const items = document.createElement('ul');
    for (const c of list) {
      const item = document.createElement('li');
      if (c.id === window.ragConversation) item.setAttribute('aria-current', 'true');
      const open = document.createElement('button'); open.type = 'button'; open.className = 'rag-open-conversation';
      const when = c.at ? new Date(c.at).toLocaleString() : '';
      open.textContent = (c.title || 'Conversation') + (when ? ' \u00b7 ' + when : '');
      open.title = 'Open: ' + (c.title || '');
      open.addEventListener('click', () => restore(c));
      const remove = document.createElement('button');
      remove.type = 'button'; remove.className = 'rag-delete-conversation';
      remove.textContent = 'Delete'; remove.setAttribute('aria-label', 'Delete the conversation ' + (c.title || ''));
      remove.addEventListener('click', () => {
        write(read().filter(x => x.id !== c.id));
        if (c.id === window.ragConversation) document.querySelector('#rag-clear')?.click();
        render();
      });
      item.append(open, remove); items.append(item);
    }
    details.append(summary, items); target.append(details);
  };
  window.ragKeep = (kept) => {
    let answers; try { answers = JSON.parse(kept || '[]'); } catch (e) { return; }
    if (!Array.isArray(answers)) return;
    const list = read();
    if (!answers.length) {
      if (window.ragConversation) write(list.filter(c => c.id !== window.ragConversation));
      render(); return;
    }
    window.ragConversation ||= Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
    localStorage.setItem(CURRENT, window.ragConversation);
    const title = String(answers[0].question || '').slice(0, 80);
    const entry = {id: window.ragConversation, title, at: new Date().toISOString(), answers};
    write([entry, ...list.filter(c => c.id !== entry.id)]);
    render();
  };
  window.ragForget = () => { window.ragConversation = null; localStorage.setItem(CURRENT, ''); render(); };
  const open = read().find(c => c.id === localStorage.getItem(CURRENT));
  if (open) setTimeout(() => restore(open), 300); else render();
}"""

# The document just selected in the Documents tab, in view: on a phone its reader lies under the upload zone.
SHOW_DOCUMENT = """() => { setTimeout(() => {
  const viewer = document.querySelector('#rag-document-view');
  if (!viewer || viewer.offsetParent === null) return;
  const place = viewer.getBoundingClientRect();
  if (place.top > window.innerHeight * 0.6 || place.bottom < 60) viewer.scrollIntoView({block: 'start'});
}, 120); }"""

# Keep the conversation the server sent (its answers as JSON) in localStorage, under the id of the
# conversation open in this page (a new id for a new one), newest first; the oldest go when full.
SAVE_CONVERSATION = """(kept) => { if (window.ragKeep) window.ragKeep(kept); }"""

# "New": the next question starts a new conversation; the kept ones stay in the list.
FORGET_CONVERSATION = """() => { if (window.ragForget) window.ragForget(); }"""

# Undo a judgement: click the thumb that is on under the judged answer (named in the status line), as
# clicking it again would; Gradio then sends the retraction. With no thumb on, the server records it.
UNDO_THUMB = """() => {
  const judged = Number(document.querySelector('#rag-status [data-rag-judged]')?.dataset.ragJudged || 0);
  const thumbs = [...document.querySelectorAll('#rag-chat button')].filter(b =>
    ['Like', 'Liked', 'Dislike', 'Disliked'].includes(b.getAttribute('aria-label')));
  const mine = judged ? thumbs.slice(2 * (judged - 1), 2 * judged) : [];
  const on = mine.find(b => ['Liked', 'Disliked'].includes(b.getAttribute('aria-label')));
  if (on) on.click(); else document.querySelector('#rag-undo-server')?.click();
}"""

# The upload's outcome where the user is looking: scrolled into view when it lies off screen.
SHOW_UPLOAD_SUMMARY = """() => { setTimeout(() => {
  const summary = document.querySelector('#rag-upload-summary');
  if (!summary) return;
  const place = summary.getBoundingClientRect();
  if (place.bottom > window.innerHeight || place.top < 0) summary.scrollIntoView({block: 'center'});
}, 150); }"""

TOGGLE_THEME = """() => { const dark = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', dark); localStorage.setItem('rag-theme', dark ? 'dark' : 'light'); }"""
