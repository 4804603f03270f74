// Write-offs awaiting a second operator's approval.
import { get, missingRoute } from './api.js';
import { h, table, when, errorText } from './ui.js';
import { decisionButtons } from './message.js';

export async function writeOffsPage(main) {
  main.append(h('h2', {}, 'Write-offs awaiting approval'));
  let list;
  try {
    list = await get('/v1/write-offs?status=AWAITING_APPROVAL');
  } catch (e) {
    main.append(h('p', { class: 'muted' }, missingRoute(e) ? 'This API has no write-off requests (GET /v1/write-offs).' : errorText(e)));
    return;
  }
  const items = list.items || list.writeOffs || [];
  const section = h('div');
  main.append(section);
  section.append(table(`${items.length} awaiting approval`, [
    ['Request', (w) => w.writeOffId],
    ['Message', (w) => h('a', { href: `#/message/${encodeURIComponent(w.clearingUniqueId)}` }, w.clearingUniqueId)],
    ['Requested by', (w) => w.maker || w.requestedBy || ''],
    ['When', (w) => when(w.requestedAt || w.at)],
    ['Reason', (w) => w.reason || ''],
    ['Remark', (w) => w.remark || ''],
    ['Decision', (w) => decisionButtons(w.writeOffId, () => { window.dispatchEvent(new HashChangeEvent('hashchange')); })],
  ], items, { class: 'writeoffs' }));
}
