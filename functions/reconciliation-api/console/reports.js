// The daily summary: counts and amounts per status and reason, and the
// matched vs pending trend of the last 30 days as an inline SVG chart.
import { get, missingRoute } from './api.js';
import { h, svg, table, errorText, download } from './ui.js';
import { csv } from './messages.js';

export async function reportsPage(main) {
  main.append(h('h2', {}, 'Daily summary (last 30 days)'));
  let report;
  try {
    report = await get('/v1/reports/daily-summary?days=30');
  } catch (e) {
    main.append(h('p', { class: 'muted' }, missingRoute(e) ? 'This API has no daily summary (GET /v1/reports/daily-summary).' : errorText(e)));
    return;
  }
  // The API lists the newest day first; the chart reads left to right.
  const days = [...(report.days || [])].sort((a, b) => (a.date < b.date ? -1 : 1));
  const count = (d, s) => (d.byStatus || []).filter((x) => (x.status ?? x.key) === s).reduce((n, x) => n + Number(x.count || 0), 0);
  main.append(chart(days.map((d) => ({ date: d.date, matched: count(d, 'MATCHED'), pending: count(d, 'PENDING') }))));
  const rows = days.flatMap((d) => [
    ...(d.byStatus || []).map((x) => ({ date: d.date, kind: 'status', key: x.status ?? x.key, currency: x.currency, count: x.count, amount: amounts(x.amount) })),
    ...(d.byReason || []).map((x) => ({ date: d.date, kind: 'reason', key: x.reason ?? x.key, currency: x.currency, count: x.count, amount: amounts(x.amount) })),
  ]).reverse();
  const columns = [['date', (r) => r.date], ['by', (r) => r.kind], ['status or reason', (r) => r.key], ['currency', (r) => r.currency ?? ''],
    ['count', (r) => r.count], ['amount', (r) => r.amount]];
  main.append(
    h('button', { type: 'button', onclick: () => download('daily-summary.csv', csv(columns, rows)) }, 'Export CSV'),
    table('Per day, status and reason', columns.map(([n, f]) => [n, f]), rows, { class: 'daily' }));
}

/// Amounts per currency: `{BRL: "10.00"}` or a plain string.
function amounts(a) {
  if (a === null || a === undefined) return '';
  if (typeof a === 'object') return Object.entries(a).map(([c, v]) => `${v} ${c}`).join('; ');
  return String(a);
}

export function chart(points) {
  const W = 760; const H = 220; const pad = 36;
  const max = Math.max(1, ...points.flatMap((p) => [p.matched, p.pending]));
  const x = (i) => pad + (points.length > 1 ? (i * (W - 2 * pad)) / (points.length - 1) : 0);
  const y = (v) => H - pad - (v * (H - 2 * pad)) / max;
  const line = (key) => points.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  const label = `Matched and pending per day, ${points.length} days; highest ${max}`;
  return h('figure', { class: 'chart' },
    svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, width: '100%' },
      svg('line', { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, stroke: '#666' }),
      svg('line', { x1: pad, y1: pad, x2: pad, y2: H - pad, stroke: '#666' }),
      svg('text', { x: 4, y: pad, 'font-size': 11 }, String(max)),
      svg('text', { x: 4, y: H - pad, 'font-size': 11 }, '0'),
      points.length ? svg('text', { x: pad, y: H - 10, 'font-size': 11 }, points[0].date) : null,
      points.length ? svg('text', { x: W - pad - 70, y: H - 10, 'font-size': 11 }, points[points.length - 1].date) : null,
      svg('path', { d: line('matched'), fill: 'none', stroke: '#1b7f3b', 'stroke-width': 2 }),
      svg('path', { d: line('pending'), fill: 'none', stroke: '#b35900', 'stroke-width': 2, 'stroke-dasharray': '5 3' })),
    h('figcaption', {}, 'Matched (solid green) and pending (dashed orange) per day.'));
}
