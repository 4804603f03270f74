// Queue: what is pending, why, since when; filters, sort, paging; select
// many (or every message matching the filter) and reprocess or write off.
import { get, post, getText, query, missingRoute } from './api.js';
import { h, table, field, select, status, errorText, when, age, askReason, download } from './ui.js';
import { view, csv, exportColumns } from './messages.js';

export const REASONS = ['INVALID_FIELD', 'AUTHORIZATION_NOT_FOUND', 'AUTHORIZATION_NOT_APPROVED',
  'CARD_MISMATCH', 'AMOUNT_DIVERGENT', 'CURRENCY_MISMATCH', 'DUPLICATE_PRESENTMENT', 'LATE_PRESENTMENT'];
const FILTERS = ['status', 'reason', 'card_network', 'card_hash', 'from', 'to', 'min_amount', 'max_amount', 'sort'];

// Cursors of the pages before the current one, for "Previous".
let trail = { key: '', cursors: [] };

function filtersOf(params) {
  const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
  if (!f.status) f.status = 'PENDING';
  return f;
}

function go(filters, extra = {}) {
  location.hash = `#/queue${query({ ...filters, ...extra })}`;
}

export async function queuePage(main, params) {
  const filters = filtersOf(params);
  const limit = params.get('limit') || '50';
  const cursor = params.get('cursor') || '';
  const key = JSON.stringify([filters, limit]);
  if (trail.key !== key) trail = { key, cursors: [] };
  main.append(h('h2', {}, 'Queue'));
  const summary = h('section', { 'aria-labelledby': 'summary-h' }, h('h3', { id: 'summary-h' }, 'By reason'));
  main.append(summary, filterForm(filters, limit));
  const listing = h('section', { 'aria-labelledby': 'list-h' });
  main.append(listing);
  await Promise.all([
    showSummary(summary, filters, Boolean(cursor)),
    showPage(listing, filters, limit, cursor),
  ]);
}

// The summary last read: a later page of the same list (a cursor) shows it
// again rather than reading it again; the first page always reads it.
let summaryCache = { key: '', at: 0, data: null };

async function readSummary(status, paging) {
  if (paging && summaryCache.key === status && Date.now() - summaryCache.at < 60000) return summaryCache.data;
  const data = await get(`/v1/queue/summary${query({ status })}`);
  summaryCache = { key: status, at: Date.now(), data };
  return data;
}

async function showSummary(section, filters, paging) {
  try {
    const s = await readSummary(filters.status, paging);
    const b = (r, k) => (r.aging ? r.aging[k] ?? 0 : '');
    section.append(
      h('p', {}, `${s.total} ${filters.status.toLowerCase()}; oldest received ${when(s.oldestReceivedAt)}`),
      table('Messages by reason and age', [
        ['Reason', (r) => h('a', { href: `#/queue${query({ status: filters.status, reason: r.reason })}` }, r.reason)],
        ['Count', (r) => r.count],
        ['Oldest', (r) => when(r.oldest)],
        ['< 1 d', (r) => b(r, 'lt1d')],
        ['1–3 d', (r) => b(r, 'd1to3')],
        ['3–7 d', (r) => b(r, 'd3to7')],
        ['> 7 d', (r) => b(r, 'gt7d')],
      ], s.reasons || [], { class: 'summary' }));
  } catch (e) {
    section.append(h('p', { class: 'muted' }, missingRoute(e)
      ? 'This API has no queue summary (GET /v1/queue/summary).'
      : `Summary: ${errorText(e)}`));
  }
}

function filterForm(filters, limit) {
  const controls = {
    status: select('status', [['PENDING', 'Pending'], ['REPROCESSING', 'Reprocessing']], filters.status),
    reason: select('reason', [['', 'Any reason'], ...REASONS.map((r) => [r, r])], filters.reason),
    card_network: select('card_network', [['', 'Any network'], ['MASTERCARD', 'Mastercard'], ['VISA', 'Visa']], filters.card_network),
    card_hash: h('input', { name: 'card_hash', value: filters.card_hash, maxlength: 256 }),
    from: h('input', { name: 'from', type: 'date', value: filters.from }),
    to: h('input', { name: 'to', type: 'date', value: filters.to }),
    min_amount: h('input', { name: 'min_amount', inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?', value: filters.min_amount }),
    max_amount: h('input', { name: 'max_amount', inputmode: 'decimal', pattern: '\\d+(\\.\\d+)?', value: filters.max_amount }),
    sort: select('sort', [['', 'Oldest first'], ['-received_at', 'Newest first'], ['-amount', 'Largest amount'], ['amount', 'Smallest amount']], filters.sort),
    limit: select('limit', [['25', '25'], ['50', '50'], ['100', '100']], limit),
  };
  const form = h('form', { class: 'filters', 'aria-label': 'Filters' },
    field('Status', controls.status), field('Reason', controls.reason), field('Network', controls.card_network),
    field('Card hash', controls.card_hash), field('Received from', controls.from), field('Received to', controls.to),
    field('Min amount', controls.min_amount), field('Max amount', controls.max_amount), field('Sort', controls.sort),
    field('Per page', controls.limit),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Apply'),
      h('button', { type: 'button', onclick: () => go({ status: filters.status }) }, 'Clear')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const values = Object.fromEntries(new FormData(form).entries());
    const { limit: l, ...rest } = values;
    go(rest, { limit: l });
  });
  return form;
}

async function showPage(section, filters, limit, cursor) {
  const page = await get(`/v1/clearing-messages${query({ ...filters, limit, cursor })}`);
  const items = (page.items || []).map(view);
  const next = page.next_cursor ?? page.nextCursor ?? null;
  const selected = new Set();
  const all = h('input', { type: 'checkbox', id: 'select-all-matching' });
  const count = h('span', { id: 'selected-count' }, '0 selected');
  const refresh = () => {
    count.textContent = all.checked ? 'every message matching the filter' : `${selected.size} selected`;
  };
  all.addEventListener('change', refresh);
  const pageBox = h('input', { type: 'checkbox', 'aria-label': 'Select every message on this page' });
  const boxes = [];
  pageBox.addEventListener('change', () => {
    for (const b of boxes) { b.checked = pageBox.checked; b.dispatchEvent(new Event('change')); }
  });
  const total = page.total === null || page.total === undefined ? '' : ` of ${page.total} matching`;
  const rows = table(`${items.length} messages on this page${total}`, [
    [pageBox, (m) => {
      const b = h('input', { type: 'checkbox', 'aria-label': `Select ${m.id}`, 'data-id': m.id });
      b.addEventListener('change', () => { if (b.checked) selected.add(m.id); else selected.delete(m.id); refresh(); });
      boxes.push(b);
      return b;
    }],
    ['Message', (m) => h('a', { href: `#/message/${encodeURIComponent(m.id)}` }, m.id)],
    ['Status', (m) => m.status],
    ['Reason', (m) => m.reason],
    ['Network', (m) => m.network],
    ['Card hash', (m) => m.cardHash],
    ['Amount', (m) => `${m.amount} ${m.currency}`],
    ['Received', (m) => when(m.receivedAt)],
    ['Pending for', (m) => age(m.pendingSince || m.receivedAt)],
  ], items, { class: 'queue' });
  const bulkBar = h('div', { class: 'bulk', role: 'group', 'aria-label': 'Bulk actions' },
    h('label', {}, all, ' All matching this filter'), count,
    h('button', { type: 'button', id: 'bulk-reprocess', onclick: () => bulk('reprocess', [...selected], all.checked, filters, items, progress) }, 'Reprocess selected'),
    h('button', { type: 'button', id: 'bulk-write-off', onclick: () => bulk('write-off', [...selected], all.checked, filters, items, progress) }, 'Request write-off'),
    h('button', { type: 'button', id: 'export-csv', onclick: () => exportCsv(filters) }, 'Export CSV (all pages)'));
  const progress = h('div', { id: 'bulk-progress', 'aria-live': 'polite' });
  const prev = trail.cursors.length ? trail.cursors[trail.cursors.length - 1] : null;
  const paging = h('nav', { class: 'paging', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: !cursor, onclick: () => { trail.cursors.pop(); go(filters, { limit, cursor: prev || '' }); } }, 'Previous page'),
    h('button', { type: 'button', id: 'next-page', disabled: !next, onclick: () => { trail.cursors.push(cursor); go(filters, { limit, cursor: next }); } }, 'Next page'));
  section.append(h('h3', { id: 'list-h' }, 'Messages'), bulkBar, progress, rows, paging);
}

async function bulk(action, ids, everyMatching, filters, items, progress) {
  if (!everyMatching && !ids.length) { status('Select messages first (or "All matching this filter").', 'error'); return; }
  const what = everyMatching ? 'every message matching the filter' : `${ids.length} messages`;
  const extra = action === 'write-off' ? [['remark', 'Remark', h('input', { maxlength: 500 })]] : [];
  const answer = await askReason(action === 'reprocess' ? `Reprocess ${what}` : `Request write-off of ${what}`, extra);
  if (!answer) return;
  const { status: _s, sort: _o, ...filter } = filters;
  const body = {
    action, reason: answer.reason, remark: answer.remark || undefined,
    idempotencyKey: crypto.randomUUID(),
    ...(everyMatching ? { filter: { status: filters.status, ...filter } } : { clearingUniqueIds: ids }),
  };
  progress.replaceChildren(h('p', {}, 'Submitting…'));
  let accepted;
  // A failed submission is retried with the same idempotency key: never two bulk runs.
  for (let attempt = 0; ; attempt += 1) {
    try { accepted = await post('/v1/bulk-actions', body); break; } catch (e) {
      if (missingRoute(e) && action === 'reprocess' && !everyMatching) {
        await reprocessOneByOne(ids, items, answer.reason, progress);
        return;
      }
      if (attempt >= 2 || (e.status && e.status < 500)) { progress.replaceChildren(h('p', { class: 'error' }, errorText(e))); return; }
    }
  }
  await follow(accepted.bulkId, progress);
}

async function follow(bulkId, progress) {
  for (;;) {
    const run = await get(`/v1/bulk-actions/${encodeURIComponent(bulkId)}`);
    showProgress(progress, run.total, run.done, run.items || [], `Bulk ${run.action} ${bulkId}`);
    if (run.done >= run.total) { status(`Bulk ${run.action}: ${run.done} of ${run.total} done.`); return; }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function showProgress(progress, total, done, items, title) {
  progress.replaceChildren(
    h('label', { for: 'bulk-bar' }, `${title}: ${done} of ${total}`),
    h('progress', { id: 'bulk-bar', max: total || 1, value: done }),
    table('Outcome per message', [
      ['Message', (i) => h('a', { href: `#/message/${encodeURIComponent(i.clearingUniqueId)}` }, i.clearingUniqueId)],
      ['Outcome', (i) => i.outcome],
      ['Detail', (i) => i.detail || ''],
    ], items, { class: 'outcomes' }));
}

/// Without the bulk endpoint: one reconciliation request per card (the API
/// reprocesses every pending message of a card in one request).
async function reprocessOneByOne(ids, items, reason, progress) {
  const chosen = items.filter((m) => ids.includes(m.id));
  const cards = new Map();
  for (const m of chosen) {
    const k = `${m.network}\u0000${m.cardHash}`;
    cards.set(k, [...(cards.get(k) || []), m]);
  }
  const outcomes = [];
  for (const group of cards.values()) {
    const [m] = group;
    let outcome = 'ACCEPTED';
    let detail = '';
    try {
      await post('/v1/clearing-reconciliation', { card_network: m.network, card_hash: m.cardHash, reconciliation_reason: reason });
    } catch (e) { outcome = 'FAILED'; detail = errorText(e); }
    for (const g of group) outcomes.push({ clearingUniqueId: g.id, outcome, detail });
    showProgress(progress, chosen.length, outcomes.length, outcomes, 'Reprocess');
  }
  status(`Reprocess: ${outcomes.length} of ${chosen.length} sent.`);
}

async function exportCsv(filters) {
  status('Exporting…');
  let text;
  try {
    text = await getText(`/v1/clearing-messages/export.csv${query(filters)}`, 'text/csv');
  } catch (e) {
    // Without an export route the path reads as a message id: any 404 means no export here.
    if (!missingRoute(e) && e.status !== 404) { status(errorText(e), 'error'); return; }
    // No export endpoint: every page of the list, written here.
    const rows = [];
    let cursor = '';
    do {
      const page = await get(`/v1/clearing-messages${query({ ...filters, limit: 100, cursor })}`);
      rows.push(...(page.items || []).map(view));
      cursor = page.next_cursor ?? page.nextCursor ?? '';
    } while (cursor);
    text = csv(exportColumns, rows);
  }
  download(`clearing-messages-${filters.status.toLowerCase()}.csv`, text);
  status(`Exported ${Math.max(0, text.trim().split('\n').length - 1)} rows.`);
}
