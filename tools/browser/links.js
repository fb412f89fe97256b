(() => {
  // Visible links with their text and absolute URL.
  const seen = new Set();
  const links = [];
  const hidden = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e.hidden || e.getAttribute('aria-hidden') === 'true') return true;
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || parseFloat(cs.opacity) === 0) return true;
    }
    return getComputedStyle(el).visibility !== 'visible';
  };
  for (const a of document.querySelectorAll('a[href], area[href]')) {
    const href = a.href;
    if (!href || href.startsWith('javascript:') || hidden(a)) continue;
    const text = (a.innerText || a.getAttribute('aria-label') || a.getAttribute('title') || a.getAttribute('alt') || '').replace(/\s+/g, ' ').trim();
    const key = text + '\u0000' + href;
    if (seen.has(key)) continue;
    seen.add(key);
    links.push({ text, href });
  }
  return { title: document.title || '', url: location.href, links };
})()
