(function (want, mark) {
  // Marks the best visible clickable element whose text matches want: an
  // exact (case-insensitive) match first, then a containing one.
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
  const w = norm(want);
  const cands = document.querySelectorAll('a, button, input[type=submit], input[type=button], [role=button], [role=link], summary, label');
  let exact = null, partial = null;
  for (const el of cands) {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || cs.visibility !== 'visible' || el.closest('[aria-hidden=true],[hidden]')) continue;
    const t = norm(el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('title'));
    if (!t) continue;
    if (t === w) { exact = el; break; }
    if (!partial && t.includes(w)) partial = el;
  }
  const el = exact || partial;
  document.querySelectorAll('[data-reagent-target]').forEach(e => e.removeAttribute('data-reagent-target'));
  if (!el) return false;
  el.setAttribute('data-reagent-target', mark);
  return true;
})
