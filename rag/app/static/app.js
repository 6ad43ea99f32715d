() => {
  // The page's script, run once when the page loads (rag.app.assets reads this file at start).
  // Installed once per page: clicks on [n] markers and copy buttons become requests to the server
  // (through hidden text boxes), chat messages get plain-text accessible names, the question box
  // takes the focus, and the theme toggle remembers its choice.
  // It also defines the window.rag* functions the events' one-line scripts call (rag.app.assets).
  if (window.ragInstalled) return; window.ragInstalled = true;
  const send = (id, value) => {
    const box = document.querySelector('#' + id + ' textarea, #' + id + ' input');
    if (!box) return;
    box.value = value + ' ' + Date.now();
    box.dispatchEvent(new Event('input', {bubbles: true}));
  };
  const openCitation = (cite) => {
    const found = cite.className.match(/rag-q(\d+)-c(\d+)/);
    if (found) send('rag-open-request', 'open ' + found[1] + ' ' + found[2]);
  };
  // A tap on [n] previews it, as a hover does with a mouse; the card offers "Open in the document",
  // and a second tap on the same [n] while its card shows opens it too. A click or Enter opens at once.
  let tapped = null;  // the touch that began on a [n]: which one, and whether its card already showed
  document.addEventListener('pointerdown', (event) => {
    const cite = event.target.closest?.('.rag-cite[value]');
    tapped = cite && event.pointerType === 'touch' ? {cite, shown: anchor === cite && !tip.hidden} : null;
  }, true);
  document.addEventListener('click', (event) => {
    const cite = event.target.closest('.rag-cite');
    if (cite) {
      event.preventDefault();
      const tap = tapped; tapped = null;
      if (tap && tap.cite === cite && !tap.shown) { show(cite); return; }
      hide(); openCitation(cite);
      return;
    }
    if (event.target.closest('.rag-preview-open')) {
      const cite = tip.ragFor; hide();
      if (cite && cite.isConnected) openCitation(cite);
      return;
    }
    if (event.target.closest('.rag-back')) {
      const asked = [...document.querySelectorAll('#rag-chat [data-testid="user"]')].pop();
      (asked || document.querySelector('#rag-chat'))?.scrollIntoView({block: 'start'});
      return;
    }
    const copy = event.target.closest('.rag-copy');
    if (copy) {
      const found = copy.className.match(/rag-q(\d+)-c(\d+)-(quote|note)/);
      if (found) { event.preventDefault(); window.ragCopyButton = copy;
        send('rag-copy-request', found[3] + ' ' + found[1] + ' ' + found[2]); }
    }
  });
  const plain = (element) => {
    const copy = element.cloneNode(true);
    copy.querySelectorAll('.rag-actions').forEach((e) => e.remove());
    return copy.textContent.replace(/\s+/g, ' ').trim();
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
    // Gradio's trash icon above the chat is named "Clear" (in the browser's language), like other clear
    // buttons: named for what it clears. It is the top panel's last button (the chat shows no share or copy).
    const trash = [...document.querySelectorAll('#rag-chat .top-panel button')].pop();
    if (trash && trash.getAttribute('aria-label') !== 'Clear conversation') {
      trash.setAttribute('aria-label', 'Clear conversation'); trash.title = 'Clear conversation';
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
  // It ends with a button that opens the citation in its document (what a tap needs: no hover there).
  const tip = document.createElement('div');
  tip.id = 'rag-preview'; tip.hidden = true;
  // Not a tooltip: it holds a button, and a tooltip may hold nothing to act on; a non-modal dialog may.
  tip.setAttribute('role', 'dialog'); tip.setAttribute('aria-label', 'Citation preview'); document.body.append(tip);
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
    const open = part('button', 'rag-preview-open', 'Open in the document'); open.type = 'button';
    tip.replaceChildren(part('div', 'rag-preview-title', String(d.title || '')),
                        part('div', 'rag-preview-meta', String(d.meta || '')), passage, open);
    anchor = button; tip.ragFor = button; button.setAttribute('aria-describedby', 'rag-preview'); place();
  };
  const hide = () => { tip.hidden = true; anchor = null; };
  const marker = (event) => event.target.closest?.('.rag-cite[value]');
  document.addEventListener('mouseover', (event) => {
    const b = marker(event);
    if (b) show(b);
    else if (anchor && document.activeElement !== anchor && !event.target.closest?.('#rag-preview')) hide();
  });
  document.addEventListener('focusin', (event) => {
    const b = marker(event);
    if (b) show(b); else if (!event.target.closest?.('#rag-preview')) hide();
  });
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
    box.value = Date.now() + '\n' + JSON.stringify(conversation.answers);
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
      open.textContent = (c.title || 'Conversation') + (when ? ' · ' + when : '');
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

  // Scroll the document viewer (not the page) so the highlighted sentence sits in view; when the
  // viewer itself is off screen (a phone, where it sits under the chat), bring it into view.
  window.ragScrollToMark = () => { setTimeout(() => {
    for (const mark of document.querySelectorAll('#rag-focus')) {
      const box = mark.closest('.rag-doc');
      if (box) box.scrollTop = Math.max(0, mark.offsetTop - box.clientHeight / 3);
    }
    const viewer = document.querySelector('#rag-viewer');
    if (viewer && viewer.offsetParent !== null) {
      const place = viewer.getBoundingClientRect();
      if (place.top > window.innerHeight * 0.75 || place.bottom < 60) viewer.scrollIntoView({block: 'start'});
    }
  }, 80); };

  // After an answer: the start of the newest question and its answer at the top of the chat.
  window.ragScrollToAnswer = () => { setTimeout(() => {
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
  }, 120); };

  // Copy what the server put in the hidden #rag-clip box; say so on the button that asked.
  window.ragCopyToClipboard = (text) => {
    const button = window.ragCopyButton;
    if (!text) return;
    const done = (ok) => { if (!button) return; const label = button.textContent;
      button.textContent = ok ? 'Copied ✓' : 'Copy failed: select the text in Export';
      setTimeout(() => { button.textContent = label; }, 1500); };
    if (!navigator.clipboard || !window.isSecureContext) { done(false); return; }
    navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
  };

  // The document just selected in the Documents tab, in view: on a phone its reader lies under the upload zone.
  window.ragShowDocument = () => { setTimeout(() => {
    const viewer = document.querySelector('#rag-document-view');
    if (!viewer || viewer.offsetParent === null) return;
    const place = viewer.getBoundingClientRect();
    if (place.top > window.innerHeight * 0.6 || place.bottom < 60) viewer.scrollIntoView({block: 'start'});
  }, 120); };

  // Undo a judgement: click the thumb that is on under the judged answer (named in the status line), as
  // clicking it again would; Gradio then sends the retraction. With no thumb on, the server records it.
  window.ragUndoThumb = () => {
    const judged = Number(document.querySelector('#rag-status [data-rag-judged]')?.dataset.ragJudged || 0);
    const thumbs = [...document.querySelectorAll('#rag-chat button')].filter(b =>
      ['Like', 'Liked', 'Dislike', 'Disliked'].includes(b.getAttribute('aria-label')));
    const mine = judged ? thumbs.slice(2 * (judged - 1), 2 * judged) : [];
    const on = mine.find(b => ['Liked', 'Disliked'].includes(b.getAttribute('aria-label')));
    if (on) on.click(); else document.querySelector('#rag-undo-server')?.click();
  };

  // The upload's outcome where the user is looking: scrolled into view when it lies off screen.
  window.ragShowUploadSummary = () => { setTimeout(() => {
    const summary = document.querySelector('#rag-upload-summary');
    if (!summary) return;
    const place = summary.getBoundingClientRect();
    if (place.bottom > window.innerHeight || place.top < 0) summary.scrollIntoView({block: 'center'});
  }, 150); };

  window.ragToggleTheme = () => { const dark = !document.body.classList.contains('dark');
    document.body.classList.toggle('dark', dark); localStorage.setItem('rag-theme', dark ? 'dark' : 'light'); };
}
