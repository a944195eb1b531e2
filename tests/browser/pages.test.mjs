// Every page, at a phone's width (360 px) and a desktop's (1280 px), light and dark: none may
// scroll sideways, and axe-core (pinned in package.json, MPL-2.0) must find no WCAG 2.1 A/AA
// problem: form controls without an accessible name, images without alt text, contrast below
// AA, and the rest of its WCAG rules. A screenshot of each page in each combination goes to
// tests/browser/out/pages/ (CI keeps that directory as an artefact), for a reviewer to look at.
//
// A page added to the product is added to PAGES below. Run after `cargo build`:
//   node --test tests/browser/pages.test.mjs

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  assertSignedIn,
  eventually,
  login,
  path,
  startFakeProvider,
  startServer,
  stepsFor,
  shutDown,
  submit,
  visit,
} from './harness.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const SHOTS = join(OUT, 'pages');
const ADMIN = { email: 'wanda@example.com', name: 'Wanda Walker', password: 'page-walk-password-1234' };
const MEMBER = { email: 'milo@example.com', name: 'Milo Member', password: 'page-walk-password-5678' };
const MODEL = 'walker';

let fake;
let server;
let browser;
let admin; // page of the instance admin
let anon; // page of a visitor
const state = { failed: false, page: () => admin };
const step = stepsFor('pages', state);
/** Pages to walk: [name, url, who], filled in by the seeding step. */
const PAGES = [];

before(async () => {
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  fake = await startFakeProvider({ model: MODEL, reply: 'A walk through every page.' });
  server = await startServer({
    PROMPTYARD_OUTBOUND__ALLOW_CIDRS: '127.0.0.1',
    PROMPTYARD_OUTBOUND__ALLOW_PORTS: String(fake.port),
    PROMPTYARD_AUTH__REGISTRATION: 'open',
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  // bypassCSP lets the test inject axe-core; the pages themselves run under their own policy.
  const make = async () => {
    const context = await browser.newContext({ baseURL: server.base, bypassCSP: true });
    context.setDefaultTimeout(15_000);
    return context.newPage();
  };
  admin = await make();
  anon = await make();
});

after(() => shutDown({ browser, server, failed: state.failed, fakes: [fake] }));

/** A JSON call with the admin's session. */
async function api(method, url, data) {
  const res = await admin.request.fetch(url, { method, data });
  const body = await res.json().catch(() => null);
  assert.ok(res.ok(), `${method} ${url} answered ${res.status()}: ${JSON.stringify(body)}`);
  return body;
}

step('seed: the setup page, an admin, a workspace with a template, runs, a community prompt', async () => {
  // The setup page exists only before the first account: walked here in every combination.
  const first = [];
  for (const width of [360, 1280]) {
    for (const scheme of ['light', 'dark']) {
      await anon.setViewportSize({ width, height: 800 });
      await anon.emulateMedia({ colorScheme: scheme });
      first.push(...(await walkOne(anon, 'setup', '/setup', `${width}-${scheme}`)));
    }
  }
  assert.deepEqual(first, [], 'the setup page');

  await visit(admin, '/setup');
  await admin.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await admin.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await admin.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(admin, 'Create admin account');
  await assertSignedIn(admin);

  const ws = (await api('POST', '/api/workspaces', { name: 'Walkway' })).id;
  const w = `/w/${ws}`;
  await visit(admin, `${w}/providers`);
  const form = admin.locator('form').filter({ has: admin.locator('#new-name') });
  await admin.locator('#new-name').fill('Walk server');
  await form.locator('select[name=kind]').selectOption('openai-compatible');
  await admin.locator('#new-url').fill(`http://127.0.0.1:${fake.port}/v1`);
  await admin.locator('#new-models').fill(MODEL);
  await submit(admin, 'Add connection', form);

  const content = {
    name: 'Trip planner',
    description: 'Plans a short trip.',
    tags: ['travel'],
    system_prompt: 'You plan trips.',
    user_prompt_template: 'Plan {{days}} days in {{city}} for a {{style}} traveller.',
    variables: [
      { name: 'city', type: 'string', required: true, description: 'Where to go' },
      { name: 'days', type: 'number', default: 2 },
      { name: 'style', type: 'enum', choices: ['slow', 'busy'], default: 'slow' },
    ],
    model: { model: MODEL, temperature: 0.3 },
  };
  const created = await api('POST', `/api/workspaces/${ws}/templates`, { ...content, message: 'first' });
  const id = created.template.id;
  await api('POST', `/api/templates/${id}/versions`, {
    ...content,
    base_version: 1,
    user_prompt_template: 'Plan {{days}} days in {{city}}, {{style}} pace.',
    variables: [...content.variables, { name: 'budget', type: 'text' }],
    message: 'second',
  });
  await api('PUT', `/api/templates/${id}/labels/production`, { version: 1 });

  // Two runs: one from the template, one blank.
  for (const body of [
    { model: MODEL, template_id: id, template_version: 2, variables: { city: 'Lyon' } },
    { model: MODEL, user_prompt: 'Say something <b>bold</b>.' },
  ]) {
    const res = await admin.request.post(`${w}/playground/run`, { data: body });
    const text = await res.text();
    assert.ok(res.ok() && text.includes('"state":"completed"'), text);
  }
  // Runs are recorded in the background: the history lists them within a moment.
  await eventually('the history lists the runs', async () => {
    await visit(admin, `${w}/history`);
    return (await admin.locator('main a[href*="/runs/"]').count()) >= 2;
  });
  const run = await admin.locator('main a[href*="/runs/"]').first().getAttribute('href');

  const community = await api('POST', '/api/community/prompts', {
    title: 'Weekend planner',
    description: 'Two days somewhere new.',
    tags: ['travel'],
    prompt: content.user_prompt_template,
    variables: content.variables,
    models: [MODEL],
  });
  const cid = community.id;
  const me = await api('GET', '/api/me');

  // A second person with an invite, so members and the invite page have something to show.
  const invite = await api('POST', `/api/workspaces/${ws}/invites`, { role: 'editor' });
  const member = await browser.newContext({ baseURL: server.base });
  const mp = await member.newPage();
  await visit(mp, '/register');
  if (path(mp) === '/register') {
    await mp.getByLabel('Email', { exact: true }).fill(MEMBER.email);
    await mp.getByLabel('Name', { exact: true }).fill(MEMBER.name);
    await mp.getByLabel('Password', { exact: true }).fill(MEMBER.password);
    await submit(mp, 'Create account');
  }
  await member.close();

  PAGES.push(
    ['login', '/login', 'anon'],
    ['register', '/register', 'anon'],
    ['invite (visitor)', new URL(invite.url, server.base).pathname, 'anon'],
    ['not found', '/no/such/page', 'anon'],
    ['home', '/', 'admin'],
    ['workspaces', '/workspaces', 'admin'],
    ['templates', `${w}/templates`, 'admin'],
    ['new template', `${w}/templates/new`, 'admin'],
    ['template', `/templates/${id}`, 'admin'],
    ['template editor', `/templates/${id}/edit`, 'admin'],
    ['version history', `/templates/${id}/history`, 'admin'],
    ['diff', `/templates/${id}/diff?from=1&to=2`, 'admin'],
    ['system template', '/system/templates/new', 'admin'],
    ['playground', `${w}/playground`, 'admin'],
    ['playground with template', `${w}/playground?template=${id}`, 'admin'],
    ['history', `${w}/history`, 'admin'],
    ['my runs', '/history', 'admin'],
    ['run', run, 'admin'],
    ['members and settings', `${w}/settings`, 'admin'],
    ['workspace connections', `${w}/providers`, 'admin'],
    ['gateway', `${w}/gateway`, 'admin'],
    ['workspace analytics', `${w}/analytics`, 'admin'],
    ['workspace audit', `${w}/audit`, 'admin'],
    ['search', '/search?q=Lyon', 'admin'],
    ['context builder', '/context', 'admin'],
    ['community', '/community', 'admin'],
    ['community prompt', `/community/p/${cid}`, 'admin'],
    ['community submit', '/community/new', 'admin'],
    ['moderation queue', '/community/queue', 'admin'],
    ['author', `/community/authors/${me.user?.id ?? me.id}`, 'admin'],
    ['account', '/account', 'admin'],
    ['api keys', '/account/api-keys', 'admin'],
    ['admin users', '/admin/users', 'admin'],
    ['admin connections', '/admin/providers', 'admin'],
    ['outbound policy', '/admin/outbound', 'admin'],
    ['instance audit', '/admin/audit', 'admin'],
    ['instance analytics', '/admin/analytics', 'admin'],
  );
});

/** Loads `url` and returns what is wrong with it at the current size and scheme. */
async function walkOne(page, name, url, label = '') {
  const res = await page.goto(url);
  const problems = [];
  const expected = name === 'not found' ? 404 : null;
  if (expected ? res.status() !== expected : res.status() >= 400) {
    problems.push(`${name} (${url}) answered ${res.status()}`);
  }
  await page.waitForLoadState('networkidle').catch(() => {});
  const { width, viewport } = await page.evaluate(() => ({
    width: document.documentElement.scrollWidth,
    viewport: window.innerWidth,
  }));
  if (width > viewport) problems.push(`${name} scrolls sideways: ${width} px in ${viewport}`);
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}${n.any[0]?.message ? ` (${n.any[0].message})` : ''}`),
    }));
  });
  for (const v of violations) problems.push(`${name}: ${v.id} (${v.help}) at ${v.nodes.join('; ')}`);
  if (label) {
    const file = `${name.replace(/[^a-z0-9]+/gi, '-')}-${label}.png`;
    await page.screenshot({ path: join(SHOTS, file), fullPage: true });
  }
  return problems;
}

// Each combination is its own test, so one failing does not hide the others.
for (const width of [360, 1280]) {
  for (const scheme of ['light', 'dark']) {
    test(`every page at ${width} px, ${scheme}: no sideways scroll, labelled controls, alt text, AA contrast`, async (t) => {
      if (!PAGES.length) {
        t.skip('seeding failed');
        return;
      }
      const problems = [];
      for (const page of [admin, anon]) {
        await page.setViewportSize({ width, height: width < 800 ? 800 : 900 });
        await page.emulateMedia({ colorScheme: scheme });
      }
      for (const [name, url, who] of PAGES) {
        problems.push(...(await walkOne(who === 'admin' ? admin : anon, name, url, `${width}-${scheme}`)));
      }
      assert.deepEqual(problems, [], `problems at ${width} px, ${scheme}`);
    });
  }
}
