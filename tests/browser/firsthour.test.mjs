// The first hour of a new user, in the system Chromium (issue 21): the pages a person looks for
// are in the header and the workspace menu; the links a person copies are whole URLs with a
// Copy button, and the API key page's snippets work when pasted into a shell or a script; the
// theme choice sticks across pages and reloads; the context builder offers one folder picker.
//
// Run after `cargo build`:  node --test tests/browser/
// The server comes from harness.mjs; a fake OpenAI-compatible provider runs in this process.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  HERE,
  OUT,
  assertSignedIn,
  clickLink,
  openUserMenu,
  path,
  startFakeProvider,
  startServer,
  stepsFor,
  shutDown,
  submit,
  textOf,
  visit,
} from './harness.mjs';

const run = promisify(execFile);
const ADMIN = { email: 'fran@example.com', name: 'Fran First', password: 'first-hour-password-1234' };
const WORKSPACE = 'Harbour';
const MODEL = 'helper';
const REPLY = 'Hello from the helper model.';

let fake; // { srv, port, requests }
let server;
let browser;
let context;
let page;
const state = { failed: false, page: () => page };
const step = stepsFor('firsthour', state);
const consoleProblems = [];
let ws; // the shared workspace's path, /w/{id}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) {
    if (f.startsWith('failure-firsthour-')) rmSync(join(OUT, f));
  }
  fake = await startFakeProvider({ model: MODEL, reply: REPLY });
  server = await startServer({
    PROMPTYARD_OUTBOUND__ALLOW_CIDRS: '127.0.0.1',
    PROMPTYARD_OUTBOUND__ALLOW_PORTS: String(fake.port),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 900 } });
  // The Copy buttons write to the clipboard; the test reads it back as a person would paste.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error') consoleProblems.push(`console error at ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleProblems.push(`uncaught exception at ${page.url()}: ${err.message}`));
});

after(() => shutDown({ browser, server, failed: state.failed, fakes: [fake] }));

const clipboard = () => page.evaluate(() => navigator.clipboard.readText());

step('setup, a shared workspace and a connection', async () => {
  await visit(page, '/');
  assert.equal(path(page), '/setup');
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  await assertSignedIn(page);
  await visit(page, '/workspaces');
  await page.getByLabel('Name', { exact: true }).fill(WORKSPACE);
  await submit(page, 'Create workspace');
  ws = path(page).replace(/\/templates$/, '');
  assert.match(ws, /^\/w\/[0-9a-f-]+$/);
  await visit(page, `${ws}/providers`);
  const form = page.locator('form').filter({ has: page.locator('#new-name') });
  await page.locator('#new-name').fill('Helper server');
  await form.locator('select[name=kind]').selectOption('openai-compatible');
  await page.locator('#new-url').fill(`http://127.0.0.1:${fake.port}/v1`);
  await page.locator('#new-models').fill(MODEL);
  await submit(page, 'Add connection', form);
  assert.match(await textOf(page.getByRole('status')), /Added Helper server/);
});

step('the workspace menu leads to connections and analytics; the header menu to the account', async () => {
  await visit(page, `${ws}/templates`);
  // The workspace switcher in the header holds the workspace's own pages.
  await page.locator('details.switcher summary').click();
  const pages = page.locator('#workspace-pages');
  assert.match(await textOf(pages), new RegExp(`${WORKSPACE}.*Members and settings.*Provider connections.*Analytics`));
  await clickLink(page, 'Provider connections', pages);
  assert.equal(path(page), `${ws}/providers`);
  await page.getByRole('heading', { name: 'Provider connections' }).first().waitFor();
  // The same pages as tabs, the current one marked; the header's Workspace entry is lit.
  const tabs = page.getByRole('navigation', { name: 'Workspace' });
  assert.equal(await tabs.locator('[aria-current=page]').textContent(), 'Provider connections');
  assert.equal(await page.locator('nav[aria-label=Main] a[aria-current=page]').textContent(), 'Workspace');
  await clickLink(page, 'Analytics', tabs);
  assert.equal(path(page), `${ws}/analytics`);
  await page.locator('details.switcher summary').click();
  await clickLink(page, 'Analytics', page.locator('#workspace-pages'));
  assert.equal(path(page), `${ws}/analytics`);
  // The account is one click from the header's menu, with keys and log out beside it.
  const menu = await openUserMenu(page);
  assert.match(await textOf(menu), /Account and profile.*API keys.*My runs.*Log out/);
  await clickLink(page, 'Account and profile', menu);
  assert.equal(path(page), '/account');
  await page.screenshot({ path: join(OUT, 'firsthour-account.png'), fullPage: true });
});

step('the theme choice sticks across pages and reloads, and can go back to the system', async () => {
  const root = () => page.evaluate(() => document.documentElement.dataset.theme ?? null);
  const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  await visit(page, '/');
  assert.equal(await root(), null, 'no choice made: the page follows the system');
  const light = await background();
  await submit(page, 'Dark theme');
  assert.equal(path(page), '/', 'the choice comes back to the same page');
  assert.equal(await root(), 'dark');
  assert.equal(await page.getByRole('button', { name: 'Dark theme' }).getAttribute('aria-pressed'), 'true');
  const dark = await background();
  assert.notEqual(dark, light, 'the page turned dark although the system is light');
  await visit(page, `${ws}/templates`);
  assert.equal(await root(), 'dark', 'another page keeps it');
  await page.reload();
  assert.equal(await root(), 'dark', 'a reload keeps it');
  assert.equal(await background(), dark);
  await page.screenshot({ path: join(OUT, 'firsthour-dark.png'), fullPage: true });
  await submit(page, 'Light theme');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.equal(await root(), 'light');
  assert.equal(await background(), light, 'light wins over a dark system');
  await submit(page, 'System theme');
  assert.equal(await root(), null);
  assert.equal(await background(), dark, 'back to following the (dark) system');
  await page.emulateMedia({ colorScheme: 'light' });
});

step('an invite link is a whole URL, copied with one click, and it works', async () => {
  await visit(page, `${ws}/settings`);
  await page.locator('#invite-role').selectOption('editor');
  await submit(page, 'Create invite link');
  const field = page.getByLabel('Invite link', { exact: true });
  const link = await field.inputValue();
  assert.match(link, new RegExp(`^${server.base}/invites/[A-Za-z0-9_-]+$`), `a full URL: ${link}`);
  await page.getByRole('button', { name: 'Copy invite link' }).click();
  await page.getByRole('button', { name: 'Copy invite link' }).filter({ hasText: 'Copied' }).waitFor();
  assert.equal(await clipboard(), link);
  // Pasted into another browser, it opens the invite.
  const other = await browser.newContext();
  const p = await other.newPage();
  await p.goto(link);
  assert.match(await textOf(p.locator('main')), new RegExp(`invited to join ${WORKSPACE} as editor`));
  await other.close();
});

step('the API key page gives the base URL and snippets that work as pasted', async () => {
  await visit(page, '/account/api-keys');
  const base = `${server.base}/v1`;
  assert.equal(await page.getByLabel('Base URL', { exact: true }).first().inputValue(), base);
  // Before a key exists, the snippets read it from the environment.
  assert.match(await page.locator('#snippet-curl').textContent(), /\$PROMPTYARD_API_KEY/);
  await page.getByLabel('Name', { exact: true }).fill('laptop');
  await page.getByLabel('Workspace', { exact: true }).selectOption({ label: WORKSPACE });
  await submit(page, 'Create key');
  const key = await page.getByLabel('New API key', { exact: true }).inputValue();
  assert.match(key, /^[A-Za-z0-9_-]{40,}$/, `a key: ${key}`);
  await page.getByRole('button', { name: 'Copy new api key' }).click();
  assert.equal(await clipboard(), key);
  await page.screenshot({ path: join(OUT, 'firsthour-api-keys.png'), fullPage: true });

  // curl, pasted into a shell: the model answers through the gateway.
  await page.getByRole('button', { name: 'Copy curl command' }).click();
  const curl = await clipboard();
  assert.ok(curl.includes(key) && curl.includes(`${base}/chat/completions`) && curl.includes(`"model": "${MODEL}"`), curl);
  const { stdout } = await run('bash', ['-c', curl], { timeout: 20_000 });
  assert.equal(JSON.parse(stdout).choices[0].message.content, REPLY, stdout);

  // The JavaScript snippet, saved as a file next to the tests' own openai package, runs as is.
  await page.getByRole('button', { name: 'Copy javascript snippet' }).click();
  const js = await clipboard();
  const file = join(HERE, 'out', 'firsthour-snippet.mjs');
  writeFileSync(file, js);
  const out = await run(process.execPath, [file], { timeout: 20_000, cwd: HERE });
  assert.equal(out.stdout.trim(), REPLY);

  // The Python one too, where the tests have a Python with the openai SDK.
  const python = process.env.PROMPTYARD_TEST_PYTHON;
  if (python) {
    await page.getByRole('button', { name: 'Copy python snippet' }).click();
    const py = await clipboard();
    const res = await run(python, ['-c', py], { timeout: 30_000 });
    assert.equal(res.stdout.trim(), REPLY);
  }
  // Every call carried the new key, not some other credential.
  const calls = fake.requests.filter((r) => r.url === '/v1/chat/completions');
  assert.ok(calls.length >= 2, `the provider was called: ${JSON.stringify(fake.requests)}`);
});

step('the context builder offers one folder picker and nothing to press before a folder', async () => {
  await visit(page, '/context');
  const visiblePickers = await page.evaluate(() =>
    [document.getElementById('pick-folder'), document.getElementById('folder-input')].filter(
      (el) => el.checkVisibility(),
    ).length,
  );
  assert.equal(visiblePickers, 1, 'exactly one way to choose a folder is shown');
  assert.equal(await page.getByRole('button', { name: 'Choose a folder…' }).isVisible(), true, 'Chromium gets its folder dialog');
  assert.equal(await page.getByRole('button', { name: 'Build the context' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Forget this folder' }).isDisabled(), true);
  await page.screenshot({ path: join(OUT, 'firsthour-context.png'), fullPage: true });
});

step('the browser console stayed free of errors', async () => {
  assert.deepEqual(consoleProblems, []);
});
