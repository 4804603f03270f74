// The console's shell: sign-in, then one page per location hash
// (#/queue, #/message/<id>, #/write-offs, #/reports, #/pix).
import { start, signInPage, signOut, claims } from './auth.js';
import { base } from './api.js';
import { status, errorText } from './ui.js';
import { queuePage } from './queue.js';
import { messagePage } from './message.js';
import { writeOffsPage } from './writeoffs.js';
import { reportsPage } from './reports.js';
import { pixPage } from './pix.js';

const pages = [
  [/^#\/message\/(.+)$/, (m, main) => messagePage(main, decodeURIComponent(m[1]))],
  [/^#\/write-offs$/, (m, main) => writeOffsPage(main)],
  [/^#\/reports$/, (m, main) => reportsPage(main)],
  [/^#\/pix$/, (m, main) => pixPage(main)],
  [/^#\/queue(\?.*)?$/, (m, main) => queuePage(main, new URLSearchParams((m[1] || '').slice(1)))],
];

// The status line outlives a re-render of the same page (an action's outcome).
let shown = '';

async function show(main) {
  const hash = location.hash || '#/queue';
  const page = pages.find(([re]) => re.test(hash));
  if (!page) { location.hash = '#/queue'; return; }
  for (const a of document.querySelectorAll('nav a')) {
    if (hash.startsWith(a.getAttribute('href').split('?')[0])) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (hash !== shown) status('');
  shown = hash;
  main.replaceChildren();
  try {
    await page[1](hash.match(page[0]), main);
  } catch (e) {
    status(errorText(e), 'error');
  }
  // Read by the queue benchmark (time to render a page, in the browser's own clock).
  performance.mark('console:rendered');
  main.focus({ preventScroll: true });
}

async function boot() {
  const main = document.getElementById('main');
  const config = await (await fetch(`${base}/console/config.json`)).json();
  if (!(await start(config))) { signInPage(config, main); return; }
  const who = claims();
  document.getElementById('who').textContent = who ? `${who.sub} (${who.scope || 'no scopes'})` : '';
  const out = document.getElementById('sign-out');
  out.hidden = false;
  out.addEventListener('click', () => signOut(config));
  window.addEventListener('hashchange', () => show(main));
  await show(main);
}

boot().catch((e) => status(errorText(e), 'error'));
