(() => {
  // Readable text of the page as a user sees it: scripts, styles and hidden
  // nodes are left out (display:none, visibility:hidden, opacity:0, the
  // hidden attribute, aria-hidden, zero-size clipped boxes, far off-screen
  // boxes), block elements start new lines, form fields are described.
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'SVG', 'CANVAS', 'IFRAME', 'FRAME', 'OBJECT', 'EMBED', 'HEAD', 'META', 'LINK', 'TITLE', 'DATALIST']);
  const out = [];
  const isHidden = (el, cs) => {
    if (el.hidden || el.getAttribute('aria-hidden') === 'true' || el.inert) return true;
    if (cs.display === 'none' || cs.contentVisibility === 'hidden') return true;
    if (parseFloat(cs.opacity) === 0) return true;
    if (parseFloat(cs.fontSize) === 0 && el.children.length === 0) return true;
    const r = el.getBoundingClientRect();
    if ((cs.position === 'absolute' || cs.position === 'fixed') &&
        (r.right + scrollX < -50 || r.bottom + scrollY < -50)) return true;
    if (r.width <= 1 && r.height <= 1 && (cs.overflow === 'hidden' || cs.clip !== 'auto' || cs.clipPath !== 'none')) return true;
    return false;
  };
  const attr = (k, v) => (v ? ` ${k}=${JSON.stringify(String(v).slice(0, 80))}` : '');
  const field = (el) => {
    const tag = el.tagName.toLowerCase();
    const type = (el.getAttribute('type') || '').toLowerCase();
    if (tag === 'input' && type === 'hidden') return '';
    if (tag === 'input' && (type === 'submit' || type === 'button' || type === 'reset')) {
      return `[button ${JSON.stringify(el.value || type)}${attr('id', el.id)}${attr('name', el.name)}]`;
    }
    let s = `[${tag}${tag === 'input' ? attr('type', type || 'text') : ''}${attr('id', el.id)}${attr('name', el.name)}${attr('placeholder', el.getAttribute('placeholder'))}`;
    const label = el.labels && el.labels[0] ? el.labels[0].innerText.trim() : el.getAttribute('aria-label');
    s += attr('label', label);
    if (tag === 'select') {
      s += ' options=' + JSON.stringify(Array.from(el.options).slice(0, 20).map(o => o.text.trim()).join(' | '));
    } else if (type === 'checkbox' || type === 'radio') {
      s += el.checked ? ' checked' : '';
    } else if (type !== 'password' && el.value) {
      s += attr('value', el.value);
    }
    return s + ']';
  };
  const walk = (node, visible) => {
    if (node.nodeType === Node.TEXT_NODE) {
      if (visible) out.push(node.nodeValue.replace(/\s+/g, ' '));
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const el = node;
    const tag = el.tagName.toUpperCase();
    if (SKIP.has(tag)) return;
    const cs = getComputedStyle(el);
    if (isHidden(el, cs)) return;
    // visibility is inherited and a child may turn it back on.
    const vis = cs.visibility === 'visible';
    if (tag === 'BR') { if (vis) out.push('\n'); return; }
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT') {
      if (vis) out.push(' ' + field(el) + ' ');
      return;
    }
    if (tag === 'IMG') {
      const alt = (el.getAttribute('alt') || '').trim();
      if (vis && alt) out.push(` [image: ${alt}] `);
      return;
    }
    const d = cs.display;
    const block = !d.startsWith('inline') && d !== 'contents' && d !== 'table-cell';
    if (block) out.push('\n');
    if (d === 'table-cell') out.push(' | ');
    if (vis && /^H[1-6]$/.test(tag)) out.push('#'.repeat(Number(tag[1])) + ' ');
    if (vis && tag === 'LI') out.push('- ');
    for (const c of el.childNodes) walk(c, vis);
    if (el.shadowRoot) for (const c of el.shadowRoot.childNodes) walk(c, vis);
    if (block) out.push('\n');
  };
  walk(document.body || document.documentElement, true);
  const text = out.join('')
    .replace(/[ \t\u00a0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return { title: document.title || '', url: location.href, text };
})()
