// The playground's context panel: offers the context last built in this browser (see
// builder.js) as `{{context}}` for the next run, with its size against each chosen model's
// context window. The playground's script asks `window.promptyardContext()` when it runs; only
// then does the context leave the browser.

import { activeContext } from './store.js';

const panel = document.getElementById('context-panel');
const fmt = (n) => n.toLocaleString('en');

async function show() {
  const ctx = await activeContext();
  const status = panel.querySelector('#context-status');
  const include = panel.querySelector('#use-context');
  if (!ctx) {
    status.textContent = 'No context built in this browser yet.';
    include.checked = false;
    include.disabled = true;
    window.promptyardContext = () => null;
    return;
  }
  include.disabled = false;
  include.checked = true;
  const fits = () => {
    const over = [];
    for (const box of document.querySelectorAll('input[name="model"]:checked')) {
      const w = Number(box.dataset.window || 0);
      if (w && ctx.tokens > w) over.push(`${box.value} (${fmt(w)})`);
    }
    status.textContent = `${ctx.folder}: ${fmt(ctx.manifest.length)} files, ${fmt(ctx.tokens)} tokens (${ctx.encoding})` +
      (over.length ? `; larger than the context window of ${over.join(', ')}` : '');
    status.classList.toggle('field-error', over.length > 0);
  };
  fits();
  document.addEventListener('change', (e) => {
    if (e.target.name === 'model') fits();
  });
  window.promptyardContext = () => (include.checked ? { text: ctx.text, manifest: ctx.manifest } : null);
}

if (panel) show();
