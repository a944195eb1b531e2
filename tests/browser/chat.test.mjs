// End-to-end test of the chat surface in the system Chromium, against a fake OpenAI-compatible
// provider served from this process that calls `get_weather` until it gets the tool's result,
// then answers JSON: build a template with a tool and a response schema in the editor, run it
// in the playground, see the tool call as a card, type its result and continue, get an answer
// the page says follows the schema, save the playground's tools and schema as a new version,
// and find the tool call in history. Screenshots at 1280 px and 390 px, light and dark.
//
// Run after `cargo build`:  node --test tests/browser/

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  eventually,
  path,
  startServer,
  stepsFor,
  stopServer,
  submit,
  textOf,
  visit,
} from './harness.mjs';

const ADMIN = { email: 'cleo@example.com', name: 'Cleo Chat', password: 'chat-surface-password-1234' };
const ANSWER = '{"city": "Paris", "celsius": 21}';
const SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string' }, celsius: { type: 'number' } },
  required: ['city', 'celsius'],
};
const TOOL = {
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

const state = { failed: false, page: () => page };
const step = stepsFor('chat', state);
let fake;
let server;
let browser;
let page;
let templatePath;
const consoleProblems = [];

function startFake() {
  const requests = [];
  const srv = createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      requests.push(body);
      const chunk = (delta, finish = null) =>
        `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const answered = (body.messages ?? []).some((m) => m.role === 'tool');
      const frames = [chunk({ role: 'assistant', content: answered ? '' : null })];
      if (body.tools?.length && !answered) {
        frames.push(chunk({ tool_calls: [{ index: 0, id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '' } }] }));
        for (const piece of ['{"ci', 'ty": "Pa', 'ris"}']) {
          frames.push(chunk({ tool_calls: [{ index: 0, function: { arguments: piece } }] }));
        }
        frames.push(chunk({}, 'tool_calls'));
      } else {
        for (const piece of ['{"city": ', '"Paris", ', '"celsius": 21}']) frames.push(chunk({ content: piece }));
        frames.push(chunk({}, 'stop'));
      }
      frames.push(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } })}\n\n`);
      frames.push('data: [DONE]\n\n');
      let i = 0;
      const next = () => {
        if (i >= frames.length) return res.end();
        res.write(frames[i++]);
        setTimeout(next, 20);
      };
      next();
    });
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok({ server: srv, port: srv.address().port, requests })));
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  fake = await startFake();
  server = await startServer({
    PROMPTYARD_OUTBOUND__ALLOW_CIDRS: '127.0.0.1',
    PROMPTYARD_OUTBOUND__ALLOW_PORTS: String(fake.port),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 422/.test(msg.text())) consoleProblems.push(`${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleProblems.push(`${page.url()}: ${err.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  if (state.failed && server) process.stderr.write(`\n----- server log -----\n${server.log?.join?.('') ?? ''}\n`);
  await stopServer(server);
  fake?.server.closeAllConnections?.();
  await new Promise((r) => (fake ? fake.server.close(r) : r()));
});

const workspace = () => path(page).match(/^\/w\/[0-9a-f-]+/)?.[0];

step('setup, and a connection to the local model server', async () => {
  await visit(page, '/');
  assert.equal(path(page), '/setup');
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  // A fresh instance shows the way in.
  await page.locator('#getting-started').waitFor();
  await visit(page, '/admin/providers');
  const form = page.locator('form').filter({ has: page.locator('#new-name') });
  await page.locator('#new-name').fill('Local agent');
  await form.locator('select[name=kind]').selectOption('openai-compatible');
  await page.locator('#new-url').fill(`http://127.0.0.1:${fake.port}/v1`);
  await page.locator('#new-models').fill('agent');
  await submit(page, 'Add connection', form);
  assert.match(await textOf(page.getByRole('status')), /Added Local agent\./);
});

step('the editor saves a template with a tool and a response schema', async () => {
  await visit(page, '/');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Templates', exact: true }).click();
  await page.waitForURL(/\/templates$/);
  const ws = workspace();
  await visit(page, `${ws}/templates/new`);
  await page.getByLabel('Name', { exact: true }).fill('Weather agent');
  await page.getByLabel('User prompt', { exact: true }).fill('What is the weather in Paris? Answer as JSON.');
  await page.getByLabel('Model', { exact: true }).fill('agent');
  await page.locator('#chat-parts summary').click();
  await page
    .locator('#chat')
    .fill(JSON.stringify({ tools: [TOOL], response_schema: { name: 'weather', schema: SCHEMA, strict: true } }, null, 2));
  await page.getByLabel('What changed (optional)', { exact: true }).fill('with a tool');
  await submit(page, 'Save version');
  assert.match(path(page), /^\/templates\/[0-9a-f-]+$/, `landed on ${page.url()}`);
  templatePath = path(page);
  assert.match(await textOf(page.locator('main')), /get_weather/);
  await page.locator('#template-schema').waitFor();
  // The page shows the model defaults, and the labels form says what each box is.
  assert.match(await page.locator('#model-defaults').innerText(), /Model\s+agent/);
  await page.getByLabel('Label', { exact: true }).waitFor();
  assert.ok(await page.getByLabel('Label', { exact: true }).isVisible());
  assert.ok(await page.locator('label[for=label-version]').isVisible());

  // A broken schema is refused on save, naming the problem, and nothing is lost.
  await visit(page, `${templatePath}/edit`);
  const chat = page.locator('#chat');
  assert.match(await chat.inputValue(), /get_weather/, 'the editor shows the saved tool');
  await chat.fill(JSON.stringify({ tools: [{ ...TOOL, parameters: { type: 'objekt' } }] }));
  await page.getByRole('button', { name: 'Save version', exact: true }).click();
  await page.waitForLoadState('load');
  assert.match(await textOf(page.getByRole('alert').first()), /tools\[0\]\.parameters|JSON Schema/);
});

step('the playground runs it: a tool card, the result typed in, a schema-valid answer', async () => {
  const id = templatePath.split('/').pop();
  await visit(page, '/');
  const ws = (await page.locator('nav[aria-label=Main] a', { hasText: 'Playground' }).getAttribute('href')).replace(/\/playground$/, '');
  // Choosing "Start from" loads the template at once; Stop looks disabled until a run.
  await visit(page, `${ws}/playground`);
  await Promise.all([page.waitForURL(new RegExp(`template=${id}`)), page.locator('#template').selectOption(id)]);
  const stopOpacity = await page.locator('#stop').evaluate((b) => Number(getComputedStyle(b).opacity));
  assert.ok(stopOpacity < 0.7, `the disabled Stop button looks disabled (opacity ${stopOpacity})`);
  assert.match(await textOf(page.locator('#tools-status')), /1 tool \(get_weather\)/);
  // The panels check JSON as it is typed.
  const schema = page.locator('#response-schema');
  const good = await schema.inputValue();
  await schema.fill('{"type": ');
  assert.match(await textOf(page.locator('#schema-status')), /Not valid/);
  assert.equal(await schema.getAttribute('aria-invalid'), 'true');
  await schema.fill(good);
  assert.match(await textOf(page.locator('#schema-status')), /Valid JSON/);

  await page.locator('#playground input[name=model][value=agent]').check();
  await page.locator('#run').click();
  const col = page.locator('#columns section.column').first();
  const card = col.locator('.tool-card').first();
  await card.waitFor();
  assert.match(await textOf(card), /get_weather/);
  await eventually('the call has its arguments', async () => /"city": "Paris"/.test(await card.textContent()) || (await card.textContent()));
  const result = col.getByLabel('Result of get_weather', { exact: true });
  await result.waitFor();
  await page.screenshot({ path: join(OUT, 'chat-tool-call.png'), fullPage: true });
  await result.fill('{"sky": "sunny", "celsius": 21}');
  await col.getByRole('button', { name: 'Send', exact: true }).click();
  const badge = col.locator('.schema-badge');
  await badge.waitFor();
  assert.match(await textOf(badge), /valid against the schema/);
  // A local model costs nothing, and says so.
  assert.match(await textOf(col.locator('.run-meta').last()), /completed · 30 in \/ 9 out tokens · free ·/);
  assert.equal(JSON.stringify(JSON.parse(await col.locator('pre.output').last().textContent())), JSON.stringify(JSON.parse(ANSWER)));

  // The second request carried the whole conversation: the call and its result.
  const second = fake.requests.at(-1);
  assert.deepEqual(second.messages.map((m) => m.role), ['user', 'assistant', 'tool']);
  assert.equal(second.messages[1].tool_calls[0].function.name, 'get_weather');
  assert.equal(second.messages[2].tool_call_id, 'call_w1');
  assert.equal(second.tools[0].function.name, 'get_weather');
  assert.equal(second.response_format.type, 'json_schema');
  await page.screenshot({ path: join(OUT, 'chat-answer.png'), fullPage: true });
});

step('the template\'s prompts are read-only until Edit; save as a new version keeps the tools and schema', async () => {
  // Read-only and looking it: no save offered until Edit unlocks the prompts.
  const prompt = page.getByLabel('User prompt', { exact: true });
  assert.equal(await prompt.evaluate((t) => t.readOnly), true, 'the template prompt starts read-only');
  assert.match(await textOf(page.locator('#prompt-lock')), /Read-only/);
  assert.equal(await page.locator('#save-version').isVisible(), false, 'no save offered before Edit');
  assert.notEqual(
    await prompt.evaluate((t) => getComputedStyle(t).borderStyle),
    await page.getByLabel('Temperature', { exact: true }).evaluate((t) => getComputedStyle(t).borderStyle),
    'a read-only prompt is drawn unlike an editable box',
  );
  await page.getByRole('button', { name: 'Edit', exact: true }).click();
  assert.equal(await prompt.evaluate((t) => t.readOnly), false, 'Edit unlocks the prompt');
  assert.match(await textOf(page.locator('#prompt-lock')), /Editing/);
  await page.locator('#edited-hint').waitFor();
  await prompt.fill('What is the weather in Lyon? Answer as JSON.');
  const save = page.locator('#save-version');
  await save.waitFor();
  await save.getByLabel('What changed', { exact: true }).fill('from the playground');
  await submit(page, 'Save new version', save);
  assert.match(await textOf(page.getByRole('status')), /Saved version 2/);
  const id = templatePath.split('/').pop();
  const v2 = await (await page.request.get(`/api/templates/${id}/versions/2`)).json();
  assert.equal(v2.user_prompt_template, 'What is the weather in Lyon? Answer as JSON.', JSON.stringify(v2));
  assert.equal(v2.tools?.[0]?.name, 'get_weather', JSON.stringify(v2));
  assert.deepEqual(v2.response_schema?.schema, SCHEMA);
});

step('history shows the tool call', async () => {
  const ws = (await page.locator('nav[aria-label=Main] a', { hasText: 'History' }).getAttribute('href'));
  await visit(page, ws);
  assert.equal(await page.locator('nav[aria-label=Main] a[aria-current=page]').textContent(), 'History');
  const runs = await page.locator('main a[href*="/runs/"]').evaluateAll((els) => els.map((e) => e.getAttribute('href')));
  assert.ok(runs.length >= 2, `history lists the runs: ${runs}`);
  let found = false;
  for (const href of runs) {
    await visit(page, href);
    if ((await page.locator('#run-tool-calls .tool-call').count()) > 0) {
      assert.match(await textOf(page.locator('#run-tool-calls')), /get_weather/);
      found = true;
      await page.screenshot({ path: join(OUT, 'chat-run.png'), fullPage: true });
      break;
    }
  }
  assert.ok(found, 'a run page shows the tool call');
});

step('the pages fit a phone, light and dark', async () => {
  const id = templatePath.split('/').pop();
  const ws = (await page.locator('nav[aria-label=Main] a', { hasText: 'Playground' }).getAttribute('href'));
  const wide = async () => page.evaluate(() => document.documentElement.scrollWidth);
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.setViewportSize({ width: 360, height: 800 });
    const w = ws.replace(/\/playground$/, '');
    const runHref = await (async () => {
      await visit(page, `${w}/history`);
      return page.locator('main a[href*="/runs/"]').first().getAttribute('href');
    })();
    const pages = [
      ['home', '/'], ['playground', `${ws}?template=${id}`], ['template', templatePath],
      ['editor', `${templatePath}/edit`], ['version history', `${templatePath}/history`],
      ['templates', `${w}/templates`], ['new template', `${w}/templates/new`], ['history', `${w}/history`],
      ['run', runHref], ['members', `${w}/settings`], ['workspace providers', `${w}/providers`],
      ['workspaces', '/workspaces'], ['account', '/account'], ['api keys', '/account/api-keys'],
      ['search', '/search?q=weather'], ['context', '/context'], ['community', '/community'],
      ['admin users', '/admin/users'], ['admin providers', '/admin/providers'],
      ['admin outbound', '/admin/outbound'], ['audit log', '/admin/audit'], ['analytics', '/admin/analytics'],
    ];
    const tooWide = [];
    for (const [name, url] of pages) {
      const res = await visit(page, url);
      assert.ok(res.status() < 400, `${name} (${url}) answered ${res.status()}`);
      const width = await wide();
      if (width > 360) tooWide.push(`${name} ${width} px`);
    }
    assert.deepEqual(tooWide, [], `pages wider than 360 px (${scheme})`);
    await page.setViewportSize({ width: 390, height: 844 });
    await visit(page, `${ws}?template=${id}`);
    await page.screenshot({ path: join(OUT, `chat-playground-390-${scheme}.png`), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
    await visit(page, templatePath);
    await page.screenshot({ path: join(OUT, `chat-template-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
});

step('an admin allows a private model server from the web UI', async () => {
  await visit(page, '/admin/outbound');
  await page.getByRole('heading', { name: 'Outbound access', exact: true }).waitFor();
  await page.getByLabel('Addresses and ranges', { exact: true }).fill('192.168.1.0/24');
  await page.getByLabel('Ports', { exact: true }).fill('8000');
  await submit(page, 'Save and apply');
  assert.match(await textOf(page.getByRole('status')), /in force now/);
  assert.equal(await page.getByLabel('Ports', { exact: true }).inputValue(), '8000');
  await page.screenshot({ path: join(OUT, 'admin-outbound.png'), fullPage: true });
});

step('the browser console stayed free of errors', async () => {
  assert.deepEqual(consoleProblems, []);
});
