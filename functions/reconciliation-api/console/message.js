// One message: fields, raw payload, authorization, field-by-field
// explanation, history, links, and the operator's actions (each with a reason).
import { get, post, missingRoute } from './api.js';
import { h, table, field, status, errorText, when, askReason } from './ui.js';
import { view } from './messages.js';

// How each adjustable field is checked in the form (the API checks again).
export const FIELD_RULES = {
  transUid: [/^.{1,64}$/, 'up to 64 characters'],
  referenceNumber: [/^.{1,32}$/, 'up to 32 characters'],
  financialNetworkCode: [/^.{1,8}$/, 'up to 8 characters'],
  settlementDate: [/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD', 'date'],
  processDate: [/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD', 'date'],
  transactionLocalDate: [/^\d{4}-\d{2}-\d{2}$/, 'a date YYYY-MM-DD', 'date'],
  banknetDate: [/^(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/, 'month and day, MMDD'],
  transactionAmount: [/^\d{1,15}(\.\d{1,6})?$/, 'an amount such as 123.45'],
  cardholderAmount: [/^\d{1,15}(\.\d{1,6})?$/, 'an amount such as 123.45'],
  transactionCurrency: [/^[A-Z]{3}$/, 'an ISO 4217 code such as BRL'],
  cardholderCurrency: [/^[A-Z]{3}$/, 'an ISO 4217 code such as BRL'],
  transactionLocalTime: [/^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/, 'a time HH:MM:SS'],
  transactionType: [/^\d{2}$/, 'two digits'],
  functionCode: [/^\d{3}$/, 'three digits (200, 205, 282, 450, 453...)'],
  messageReasonCode: [/^\d{4}$/, 'four digits'],
  merchantCategoryCode: [/^\d{4}$/, 'four digits'],
  merchantName: [/^.{1,128}$/, 'up to 128 characters'],
  cardAcceptorCity: [/^.{1,64}$/, 'up to 64 characters'],
  cardAcceptorState: [/^.{1,8}$/, 'up to 8 characters'],
  merchantCountryCode: [/^[A-Z]{3}$/, 'three upper-case letters (ISO 3166 alpha-3)'],
  acquirerId: [/^.{1,16}$/, 'up to 16 characters'],
};

/// The form's problem with `value` for `name`, or '' when it is well formed.
export function fieldProblem(name, value) {
  const rule = FIELD_RULES[name];
  if (!rule) return `${name} cannot be adjusted`;
  if (!rule[0].test(value)) return `${name} must be ${rule[1]}`;
  if (rule[2] === 'date') {
    const d = new Date(`${value}T00:00:00Z`);
    if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== value) return `${name} is not a calendar date`;
  }
  return '';
}

export async function messagePage(main, id) {
  const m = await get(`/v1/clearing-messages/${encodeURIComponent(id)}`);
  const v = view(m);
  main.append(
    h('h2', {}, 'Message ', h('code', {}, v.id)),
    h('p', { class: 'headline' },
      h('span', { class: `badge ${v.status}`, id: 'message-status' }, v.status),
      v.reason ? h('span', { id: 'message-reason' }, ` ${v.reason}: ${v.reasonDetail || ''}`) : null,
      ` · ${v.network} · card ${v.cardHash} · received ${when(v.receivedAt)} · version ${m.version}`),
    late(m),
    h('p', {}, h('a', { href: '#/queue' }, 'Back to the queue')));
  main.append(actions(m, v), history(m));
  const problems = new Map((m.pending_reason?.fields || m.pendingReason?.fields || []).map((p) => [p.field, p.problem]));
  const explanation = new Map((m.explanation || []).map((e) => [e.field, e]));
  const names = [...new Set([...Object.keys(m.fields || {}), ...explanation.keys()])];
  main.append(h('div', { class: 'columns' },
    table('Fields (expected: the authorization; arrived: this record)', [
      ['Field', (n) => n],
      ['Arrived', (n) => (m.fields || {})[n] ?? explanation.get(n)?.arrived ?? ''],
      ['Expected', (n) => explanation.get(n)?.expected ?? ''],
      ['Problem', (n) => problems.get(n) || (explanation.has(n) ? 'differs' : '')],
    ], names, { class: 'fields', id: 'fields' }),
    h('div', {},
      authorization(m),
      h('h3', {}, 'Raw payload (as received)'),
      h('pre', { class: 'raw', tabindex: 0, 'aria-label': 'Raw payload' }, pretty(m.raw_payload ?? m.rawPayload)))));
  main.append(links(m), writeOff(m, id));
}

// A match made after its authorization expired (rule MATCH_AND_FLAG) says so.
function late(m) {
  const flag = m.matched?.late_presentment ?? m.matched?.latePresentment;
  return flag ? h('p', { class: 'late', id: 'late-presentment' }, `Late presentment: ${flag}`) : null;
}

function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text || ''; }
}

function authorization(m) {
  const a = m.authorization || m.matched;
  if (!a) return h('p', { class: 'muted' }, 'No authorization was matched or compared with.');
  return table(m.authorization ? 'Authorization' : 'Match', [['Field', ([k]) => k], ['Value', ([, val]) => (typeof val === 'object' ? JSON.stringify(val) : String(val))]],
    Object.entries(a), { class: 'authorization' });
}

function history(m) {
  const changes = (t) => (t.changes || []).map((c) => h('div', {}, `${c.field}: ${c.old_value ?? c.oldValue ?? '∅'} → ${c.new_value ?? c.newValue}`));
  return table('History', [
    ['#', (t) => t.version],
    ['When', (t) => when(t.at)],
    ['Who', (t) => t.actor],
    ['From → to', (t) => `${t.from || '—'} → ${t.to}`],
    ['Why', (t) => [t.action ? `${t.action}: ` : '', t.reason || t.pending_reason?.code || t.pendingReason?.code || ''].join('')],
    ['Changes', changes],
  ], [...(m.history || [])].reverse(), { class: 'history', id: 'history' });
}

function links(m) {
  const l = m.links || [];
  const list = Array.isArray(l) ? l : Object.entries(l).flatMap(([kind, ids]) => [].concat(ids || []).map((x) => ({ kind, id: x })));
  if (!list.length) return h('p', { class: 'muted' }, 'No linked presentments or chargebacks.');
  return table('Linked records', [
    ['Kind', (x) => x.kind || x.relation || ''],
    ['Message', (x) => { const to = x.clearingUniqueId || x.id; return h('a', { href: `#/message/${encodeURIComponent(to)}` }, to); }],
  ], list, { class: 'links' });
}

function writeOff(m, id) {
  const w = m.writeOff || m.write_off;
  if (!w) return h('div');
  return h('section', { class: 'writeoff', 'aria-labelledby': 'wo-h' },
    h('h3', { id: 'wo-h' }, `Write-off request ${w.writeOffId} (${w.status})`),
    h('p', { id: 'write-off-request' }, `Requested by ${w.maker || w.requestedBy || ''} at ${when(w.requestedAt)}: ${w.reason || ''} ${w.remark ? `(${w.remark})` : ''}`),
    decisionButtons(w.writeOffId, () => messageReload(id)));
}

export function decisionButtons(writeOffId, after) {
  const decide = async (verb) => {
    const a = await askReason(`${verb === 'approve' ? 'Approve' : 'Reject'} write-off ${writeOffId}`);
    if (!a) return;
    try {
      await post(`/v1/write-offs/${encodeURIComponent(writeOffId)}/${verb}`, { reason: a.reason });
      status(`Write-off ${writeOffId} ${verb === 'approve' ? 'approved' : 'rejected'}.`);
      await after();
    } catch (e) { status(errorText(e), 'error'); }
  };
  return h('div', { class: 'buttons' },
    h('button', { type: 'button', class: 'approve', onclick: () => decide('approve') }, 'Approve…'),
    h('button', { type: 'button', class: 'reject', onclick: () => decide('reject') }, 'Reject…'));
}

function messageReload(id) {
  if (location.hash === `#/message/${encodeURIComponent(id)}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = `#/message/${encodeURIComponent(id)}`;
}

function actions(m, v) {
  const box = h('section', { class: 'actions', 'aria-labelledby': 'actions-h' }, h('h3', { id: 'actions-h' }, 'Actions'));
  if (v.status === 'PENDING') box.append(adjustForm(m, v));
  const simple = async (title, path, extra, done) => {
    const a = await askReason(title, extra);
    if (!a) return;
    try {
      await post(path, a);
      status(done);
      messageReload(v.id);
    } catch (e) { status(missingRoute(e) ? `${title}: this API does not offer it` : errorText(e), 'error'); }
  };
  const base = `/v1/clearing-messages/${encodeURIComponent(v.id)}`;
  const buttons = h('div', { class: 'buttons' });
  if (v.status === 'PENDING') {
    buttons.append(
      h('button', { type: 'button', id: 'force-match', onclick: () => simple('Force match', `${base}/force-match`,
        [['authorizationTransUid', 'Authorization transUid', h('input', { required: true, maxlength: 64 })]], 'Matched by hand.') }, 'Force match…'),
      h('button', { type: 'button', onclick: () => simple('Request write-off', `${base}/write-off`,
        [['remark', 'Remark', h('input', { maxlength: 1000 })]], 'Write-off requested; a second operator approves it.'), id: 'request-write-off' }, 'Request write-off…'));
  }
  if (v.status === 'MATCHED') {
    buttons.append(h('button', { type: 'button', id: 'undo-match', onclick: () => simple('Undo match', `${base}/undo-match`, [], 'Match undone: back to PENDING.') }, 'Undo match…'));
  }
  box.append(buttons);
  return box;
}

function adjustForm(m, v) {
  const rows = h('div', { class: 'adjustments' });
  const addRow = (name = '', value = '') => {
    const fieldSel = h('select', { name: 'field', 'aria-label': 'Field to adjust' },
      h('option', { value: '' }, 'Choose a field'),
      Object.keys(FIELD_RULES).map((f) => h('option', { value: f, selected: f === name }, f)));
    const input = h('input', { name: 'new_value', 'aria-label': 'New value', value });
    const hint = h('small', { class: 'hint', 'aria-live': 'polite' });
    const check = () => {
      const p = fieldSel.value ? fieldProblem(fieldSel.value, input.value.trim()) : 'choose a field';
      input.setCustomValidity(p);
      hint.textContent = fieldSel.value ? (p || `ok (${FIELD_RULES[fieldSel.value][1]})`) : '';
      return p;
    };
    input.addEventListener('input', check);
    fieldSel.addEventListener('change', () => {
      if (!input.value && m.fields?.[fieldSel.value]) input.value = m.fields[fieldSel.value];
      check();
    });
    const row = h('div', { class: 'adjustment' }, fieldSel, input,
      h('button', { type: 'button', 'aria-label': 'Remove this adjustment', onclick: () => row.remove() }, '×'), hint);
    row.check = check;
    rows.append(row);
  };
  const firstBad = (m.pending_reason?.fields || [])[0];
  if (firstBad && FIELD_RULES[firstBad.field]) addRow(firstBad.field, '');
  const reason = h('input', { name: 'reconciliation_reason', required: true, maxlength: 500 });
  const form = h('form', { class: 'adjust', novalidate: true, 'aria-label': 'Reprocess with adjustments' },
    h('h4', {}, 'Reprocess with adjustments'),
    rows,
    h('button', { type: 'button', onclick: () => addRow() }, 'Add an adjustment'),
    field('Reason (required)', reason),
    h('button', { type: 'submit', id: 'reprocess' }, 'Reprocess'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const problems = [...rows.children].map((r) => r.check()).filter(Boolean);
    if (problems.length) { status(problems.join('; '), 'error'); return; }
    if (!reason.value.trim()) { status('A reason is required.', 'error'); reason.focus(); return; }
    const adjustments = [...rows.children].map((r) => ({
      field: r.querySelector('select').value, new_value: r.querySelector('input').value.trim(),
    }));
    try {
      await post('/v1/clearing-reconciliation', {
        card_network: v.network, card_hash: v.cardHash, reconciliation_reason: reason.value.trim(), adjustments,
      });
      status('Accepted: reprocessing…');
      await waitSettled(v.id);
    } catch (e) { status(errorText(e), 'error'); }
  });
  return form;
}

/// Reloads the page once the message leaves REPROCESSING (or after 30 s).
async function waitSettled(id) {
  for (let i = 0; i < 60; i += 1) {
    await new Promise((r) => setTimeout(r, 500));
    const m = await get(`/v1/clearing-messages/${encodeURIComponent(id)}`);
    if (m.status !== 'REPROCESSING' && m.status !== 'PENDING') break;
    if (m.status === 'PENDING' && (m.history || []).some((t) => t.to === 'REPROCESSING') && i > 2
      && m.history[m.history.length - 1].from === 'REPROCESSING') break;
  }
  messageReload(id);
}
