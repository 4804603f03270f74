// One clearing message as the pages show it, whichever field names the API
// uses (the domain's snake_case, the console API's camelCase additions).
const pick = (o, ...names) => names.map((n) => o?.[n]).find((v) => v !== undefined && v !== null);

export function view(m) {
  const fields = m.fields || {};
  const reason = pick(m, 'pendingReason', 'pending_reason');
  return {
    raw: m,
    id: pick(m, 'clearingUniqueId', 'clearing_unique_id'),
    status: m.status,
    reason: typeof reason === 'string' ? reason : reason?.code || '',
    reasonDetail: pick(m, 'pendingDetail', 'pending_detail') || (typeof reason === 'object' && reason ? reason.detail : ''),
    network: pick(m, 'cardNetwork', 'card_network') || '',
    cardHash: pick(m, 'cardHash', 'card_hash') || '',
    amount: pick(m, 'amount') ?? fields.transactionAmount ?? '',
    currency: pick(m, 'currency') ?? fields.transactionCurrency ?? '',
    receivedAt: pick(m, 'receivedAt', 'received_at'),
    pendingSince: pick(m, 'pendingSince', 'pending_since'),
    version: m.version,
  };
}

// The API's export columns (docs/console-api.md), used when the page writes the CSV itself.
export const exportColumns = [
  ['clearing_unique_id', (m) => m.id],
  ['card_network', (m) => m.network],
  ['card_hash', (m) => m.cardHash],
  ['status', (m) => m.status],
  ['version', (m) => m.version],
  ['pending_reason', (m) => m.reason],
  ['pending_detail', (m) => m.reasonDetail],
  ['received_at', (m) => m.receivedAt],
  ['pending_since', (m) => m.pendingSince],
  ['amount', (m) => m.amount],
  ['currency', (m) => m.currency],
];

/// RFC 4180: every cell quoted when it holds a comma, quote or line break.
export function csv(columns, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.map(([name]) => cell(name)).join(','),
    ...rows.map((r) => columns.map(([, f]) => cell(f(r))).join(','))].join('\r\n') + '\r\n';
}
