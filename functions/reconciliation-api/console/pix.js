// Pix reconciliation results by day and outcome, with the divergent and
// not-found ones listed.
import { get, query, missingRoute } from './api.js';
import { h, table, field, select, errorText } from './ui.js';

export async function pixPage(main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '');
  const date = params.get('date') || new Date().toISOString().slice(0, 10);
  const outcome = params.get('outcome') || '';
  main.append(h('h2', {}, 'Pix results'));
  const dateIn = h('input', { type: 'date', name: 'date', value: date, required: true });
  const outcomeIn = select('outcome', [['', 'Any outcome'], ['OK', 'OK'], ['TRANSACTION_AMOUNT_DIVERGENT', 'Amount divergent'],
    ['PISMO_TRANSACTION_NOT_FOUND', 'Pismo transaction not found'], ['PROVIDER_TRANSACTION_NOT_FOUND', 'Provider transaction not found']], outcome);
  const form = h('form', { class: 'filters', 'aria-label': 'Pix filters' }, field('Day', dateIn), field('Outcome', outcomeIn),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Show')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = `#/pix${query({ date: dateIn.value, outcome: outcomeIn.value })}`;
  });
  main.append(form);
  let r;
  try {
    r = await get(`/v1/pix/results${query({ date, outcome })}`);
  } catch (e) {
    main.append(h('p', { class: 'muted' }, missingRoute(e) ? 'This API has no Pix results (GET /v1/pix/results).' : errorText(e)));
    return;
  }
  main.append(table(`Outcomes on ${r.date}`, [['Outcome', ([k]) => k], ['Count', ([, n]) => n]], Object.entries(r.counts || {}), { class: 'pix-counts' }));
  const items = r.items || [];
  const cols = items.length ? Object.keys(items[0]) : ['end_to_end_id'];
  main.append(table('Divergent and not found', cols.map((c) => [c, (i) => (typeof i[c] === 'object' ? JSON.stringify(i[c]) : i[c] ?? '')]), items, { class: 'pix-items' }));
}
