// End-to-end test of workspaces and templates in the system Chromium: create a workspace, write
// a template in the editor while its script detects variables and updates the live preview,
// declare the variable, save, render it from the template's page, edit it, and compare the two
// versions in the history's diff. The browser console must stay free of errors (a blocked
// script or a Content-Security-Policy violation shows up there).
//
// Run after `cargo build`:  node --test tests/browser/
// The server comes from harness.mjs: the binary from PROMPTYARD_BIN, else
// $CARGO_TARGET_DIR/debug/promptyard, else target/debug/promptyard, started from a temporary
// directory. Screenshots land in tests/browser/out/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  clickLink,
  eventually,
  path,
  startServer,
  stopServer,
  submit,
  textOf,
  visit,
} from './harness.mjs';

const ADMIN = { email: 'tess@example.com', name: 'Tess Templater', password: 'template-password-1234' };
const WORKSPACE = 'Docs Team';
const FIRST_PROMPT = 'Explain {{topic}} simply.';
const SECOND_PROMPT = 'Explain {{topic}} in one short paragraph.';

let server; // { child, base, log: string[], dataDir }
let browser;
let page;
let failed = false;
let templatePath = null; // /templates/<id>
/** Console errors and uncaught exceptions, with the page they happened on. */
const consoleProblems = [];

/** One user-visible step. After a failure the remaining steps are skipped (they build on it). */
function step(name, fn) {
  test(name, async (t) => {
    if (failed) {
      t.skip('an earlier step failed');
      return;
    }
    try {
      await fn(t);
    } catch (err) {
      failed = true;
      if (page) {
        const file = join(OUT, `failure-templates-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        t.diagnostic(`the browser was at ${page.url()}, screenshot ${file}`);
      }
      throw err;
    }
  });
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) {
    if (f.startsWith('failure-templates-')) rmSync(join(OUT, f));
  }
  server = await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleProblems.push(`console error at ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleProblems.push(`uncaught exception at ${page.url()}: ${err.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${server.log.join('')}\n----- end of server output -----\n`);
  }
  await stopServer(server);
});

step('setup creates the admin, who creates a shared workspace', async () => {
  await visit(page, '/');
  assert.equal(path(page), '/setup');
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  assert.equal(path(page), '/');

  await visit(page, '/workspaces');
  await page.getByLabel('Name', { exact: true }).fill(WORKSPACE);
  await submit(page, 'Create workspace');
  assert.match(path(page), /^\/w\/[0-9a-f-]+\/templates$/, `landed on ${page.url()}`);
  assert.match(await textOf(page.getByRole('status')), new RegExp(`Created ${WORKSPACE}\\.`));
  // The header says which workspace this is.
  assert.equal(await textOf(page.locator('.switcher-name')), WORKSPACE);
  await page.getByRole('heading', { name: 'Templates', exact: true }).waitFor();
});

step('the editor detects a variable as it is typed and previews the prompt', async () => {
  await clickLink(page, 'New template');
  assert.match(path(page), /\/templates\/new$/);
  await page.getByRole('heading', { name: 'New template', exact: true }).waitFor();
  // Nothing is undeclared yet.
  assert.equal(await page.locator('[data-declare]').count(), 0);

  await page.getByLabel('Name', { exact: true }).fill('Explainer');
  await page.getByLabel('Tags (comma-separated)', { exact: true }).fill('teaching');
  const prompt = page.getByLabel('User prompt', { exact: true });
  await prompt.click();
  await prompt.pressSequentially(FIRST_PROMPT, { delay: 10 });

  // The script asks the server for a preview and offers to declare `topic`.
  const declare = page.getByRole('button', { name: 'Declare topic', exact: true });
  await declare.waitFor();
  await eventually('the live preview shows the prompt with a placeholder for topic', async () => {
    const text = await page.locator('#preview-user').textContent();
    return text === 'Explain ⟨topic⟩ simply.' || text;
  });
  assert.match(await textOf(page.locator('#undeclared')), /Used but not declared/);
  await page.screenshot({ path: join(OUT, 'template-editor.png'), fullPage: true });

  await declare.click();
  await eventually('the declared variable fills a row', async () => {
    const names = await page.locator('input[name="var_name"]').evaluateAll((els) => els.map((e) => e.value));
    return names.includes('topic') || JSON.stringify(names);
  });
  // Declared now: the button goes away once the preview is refreshed.
  await eventually('the Declare button disappears', async () => (await page.locator('[data-declare]').count()) === 0);
  const row = page.locator('.var-row').filter({ has: page.locator('input[name="var_name"]') }).first();
  assert.equal(await row.locator('input[name="var_name"]').inputValue(), 'topic');
  assert.equal(await row.locator('select[name="var_required"]').inputValue(), 'yes');

  await page.getByLabel('What changed (optional)', { exact: true }).fill('first draft');
  await submit(page, 'Save version');
  assert.match(path(page), /^\/templates\/[0-9a-f-]+$/, `landed on ${page.url()}`);
  templatePath = path(page);
  assert.match(await textOf(page.getByRole('status')), /Created Explainer \(version 1\)\./);
  assert.match(await textOf(page.locator('.page-head p.muted')), /Version 1 of 1/);
  assert.equal(await textOf(page.locator('.switcher-name')), WORKSPACE);
});

step('the template page renders the prompt from the generated form', async () => {
  const field = page.getByLabel('topic *', { exact: true });
  await field.fill('recursion <b>in</b> C');
  await submit(page, 'Render');
  assert.equal(path(page), `${templatePath}/render`);
  await page.getByRole('heading', { name: 'Rendered prompt', exact: true }).waitFor();
  assert.equal(await page.locator('#rendered-user').textContent(), 'Explain recursion <b>in</b> C simply.');
  // The value is shown as text, not markup.
  assert.equal(await page.locator('#rendered-user b').count(), 0);
  await page.screenshot({ path: join(OUT, 'template-page.png'), fullPage: true });
});

step('editing saves version 2', async () => {
  await visit(page, templatePath);
  await clickLink(page, 'Edit');
  assert.equal(path(page), `${templatePath}/edit`);
  const prompt = page.getByLabel('User prompt', { exact: true });
  assert.equal(await prompt.inputValue(), FIRST_PROMPT);
  await prompt.fill(SECOND_PROMPT);
  await eventually('the preview follows the edit', async () => {
    const text = await page.locator('#preview-user').textContent();
    return text === 'Explain ⟨topic⟩ in one short paragraph.' || text;
  });
  // Every variable control shows its whole text at 1280 px: no select cut to "Long tex".
  const clipped = await page.locator('.var-row select, .var-row input, .var-row textarea').evaluateAll((els) =>
    els
      .filter((el) => el.offsetParent !== null)
      .map((el) => {
        const font = getComputedStyle(el).font;
        const ctx = document.createElement('canvas').getContext('2d');
        ctx.font = font;
        const texts = el.tagName === 'SELECT' ? [...el.options].map((o) => o.text) : [el.value || el.placeholder || ''];
        const need = Math.max(...texts.map((t) => ctx.measureText(t).width)) + (el.tagName === 'SELECT' ? 28 : 12);
        return need > el.clientWidth ? `${el.name} needs ${Math.round(need)} px, has ${el.clientWidth}` : null;
      })
      .filter(Boolean),
  );
  assert.deepEqual(clipped, [], 'variable controls are wide enough for their text');
  // A second variable, a Choice: its choices box appears only for that type.
  const last = page.locator('.var-row').last();
  await last.getByLabel('Variable', { exact: true }).fill('level');
  assert.equal(await last.getByLabel('Choices (one per line)', { exact: true }).isVisible(), false, 'no choices box for short text');
  await last.getByLabel('Type', { exact: true }).selectOption('enum');
  await last.getByLabel('Choices (one per line)', { exact: true }).fill('beginner\nexpert');
  const topicRow = page.locator('.var-row').first();
  await topicRow.getByLabel('Help text', { exact: true }).fill('What to explain');
  await page.getByLabel('What changed (optional)', { exact: true }).fill('shorter answers');
  await submit(page, 'Save version');
  assert.equal(path(page), templatePath);
  assert.match(await textOf(page.getByRole('status')), /Saved version 2\./);
  assert.match(await textOf(page.locator('.page-head p.muted')), /Version 2 of 2/);
});

step('history shows both versions and the diff shows the change side by side', async () => {
  await clickLink(page, 'Version history');
  assert.equal(path(page), `${templatePath}/history`);
  const rows = page.locator('tbody tr');
  assert.equal(await rows.count(), 2);
  assert.match(await textOf(page.locator('tbody')), /shorter answers/);
  assert.match(await textOf(page.locator('tbody')), /first draft/);
  await submit(page, 'Show diff');
  assert.equal(path(page), `${templatePath}/diff`);
  await page.getByRole('heading', { name: /Version 1 → 2 of Explainer/ }).waitFor();
  assert.deepEqual(await page.locator('td.old').allTextContents(), [FIRST_PROMPT]);
  assert.deepEqual(await page.locator('td.new').allTextContents(), [SECOND_PROMPT]);
  assert.match(await textOf(page.locator('main p.muted')), /1 changed line\(s\), 2 changed variable/);
  // Variables are a table of what changed, not raw JSON lines.
  assert.doesNotMatch(await page.locator('main').innerText(), /"name":/);
  const vars = page.locator('table.var-diff');
  const topic = vars.locator('tr', { has: page.locator('th', { hasText: 'topic' }) });
  assert.match(await textOf(topic), /changed/);
  assert.equal(await topic.locator('td.cell-changed ins').textContent(), 'What to explain');
  const level = vars.locator('tr', { has: page.locator('th', { hasText: 'level' }) });
  assert.deepEqual(await level.locator("th, td").allInnerTexts(), ["level added", "Choice", "Optional", "", "beginner, expert", ""]);
  await page.screenshot({ path: join(OUT, 'diff.png'), fullPage: true });
});

step('the browser console stayed free of errors', async () => {
  assert.deepEqual(consoleProblems, []);
});
