// Small DOM helpers: elements built with text nodes only (never innerHTML),
// the status line, dates, tables, and the reason dialog every action uses.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function status(text, kind = 'info') {
  const el = document.getElementById('status');
  el.textContent = text || '';
  el.className = `status ${text ? kind : ''}`;
}

export function errorText(e) {
  return e && e.code ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e);
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/// How long ago, in whole days and hours.
export function age(iso, now = Date.now()) {
  const ms = now - new Date(iso).getTime();
  if (!Number.isFinite(ms)) return '';
  const hours = Math.floor(ms / 3600000);
  return hours < 24 ? `${hours} h` : `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/// A table: columns are [header, cell(row) -> node|text].
export function table(caption, columns, rows, attrs = {}) {
  return h('table', attrs,
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, columns.map(([head]) => h('th', { scope: 'col' }, head)))),
    h('tbody', {}, rows.length
      ? rows.map((r) => h('tr', {}, columns.map(([, cell]) => h('td', {}, cell(r)))))
      : h('tr', {}, h('td', { colspan: columns.length }, 'Nothing here.'))));
}

export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('small', {}, hint) : null);
}

export function select(name, options, value = '') {
  return h('select', { name },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
}

/// Asks for a reason (required) and optional extra fields, in a modal
/// dialog. Resolves to the values, or null when cancelled.
export function askReason(title, extra = []) {
  return new Promise((resolve) => {
    const reason = h('textarea', { name: 'reason', required: true, rows: 2, maxlength: 500 });
    const controls = extra.map(([name, label, control]) => {
      control.name = name;
      return field(label, control);
    });
    const form = h('form', { method: 'dialog' },
      h('h2', {}, title),
      field('Reason (required, recorded in the history)', reason),
      controls,
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', value: 'ok' }, 'Confirm'),
        h('button', { type: 'button', onclick: () => dialog.close('cancel') }, 'Cancel')));
    const dialog = h('dialog', { 'aria-label': title }, form);
    form.addEventListener('submit', (ev) => {
      if (!reason.value.trim()) { ev.preventDefault(); reason.focus(); return; }
    });
    dialog.addEventListener('close', () => {
      const ok = dialog.returnValue === 'ok';
      const values = Object.fromEntries(new FormData(form).entries());
      dialog.remove();
      resolve(ok ? { ...values, reason: values.reason.trim() } : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

export function download(name, text, type = 'text/csv') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}
