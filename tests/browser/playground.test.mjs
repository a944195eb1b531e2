// End-to-end test of provider connections and the playground in the system Chromium, against a
// fake OpenAI-compatible provider served from this process: the instance admin adds a
// connection (its key is write-only: the page says "key set" and never shows it), runs one
// prompt on two models side by side, watches the fast one stream in and finish, and stops the
// slow one, which must abort the upstream call. The key reaches the provider but never the
// server's log, and the browser console must stay free of errors.
//
// Run after `cargo build`:  node --test tests/browser/
// The binary comes from PROMPTYARD_BIN, else $CARGO_TARGET_DIR/debug/promptyard, else
// target/debug/promptyard (found by harness.mjs). Screenshots land in tests/browser/out/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  clickLink,
  eventually,
  findBinary,
  freePort,
  path,
  stopServer,
  submit,
  textOf,
  visit,
  assertSignedIn,
} from './harness.mjs';

const ADMIN = { email: 'pat@example.com', name: 'Pat Playground', password: 'playground-password-1234' };
const CANARY = 'sk-canary-browser-42';
const CONNECTION = 'Fake local LLM';
const USER_PROMPT = 'Say hello to the playground.';

/** What the fake provider streams for `fast`: five chunks, 100 ms apart. */
const FAST_CHUNKS = ['Hello ', 'from ', 'the ', 'fast ', 'model.'];
const FAST_REPLY = FAST_CHUNKS.join('');
const FAST_USAGE = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
/** `slow`: sixty chunks, 250 ms apart, so there is time to stop it. */
const SLOW_CHUNKS = Array.from({ length: 60 }, (_, i) => `s${i} `);

let fake; // { server, port, requests: FakeRequest[] }
let server; // { child, base, out: string[], err: string[], dataDir }
let browser;
let page;
let failed = false;
let stopClickedAt = null;
/** Console errors and uncaught exceptions, with the page they happened on. */
const consoleProblems = [];

// ----- the fake OpenAI-compatible provider -----

/**
 * @typedef {{ model: string, authorization: string | undefined, body: any, startedAt: number,
 *   chunksSent: number, finished: boolean, closedEarly: boolean, closedAt: number | null }} FakeRequest
 */

function sse(res, value) {
  res.write(`data: ${typeof value === 'string' ? value : JSON.stringify(value)}\n\n`);
}

function chunk(model, content, finish = null) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
  };
}

async function startFake() {
  /** @type {FakeRequest[]} */
  const requests = [];
  const srv = createServer(async (req, res) => {
    const parts = [];
    for await (const part of req) parts.push(part);
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    let body;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const model = body.model;
    /** @type {FakeRequest} */
    const record = {
      model,
      authorization: req.headers.authorization,
      body,
      startedAt: Date.now(),
      chunksSent: 0,
      finished: false,
      closedEarly: false,
      closedAt: null,
    };
    requests.push(record);
    const plan =
      model === 'fast' ? { chunks: FAST_CHUNKS, every: 100 } : model === 'slow' ? { chunks: SLOW_CHUNKS, every: 250 } : null;
    if (!plan) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `model ${model} not found`, type: 'invalid_request_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let timer = null;
    const closed = () => {
      if (timer) clearTimeout(timer);
      if (!record.finished && record.closedAt === null) {
        record.closedEarly = true;
        record.closedAt = Date.now();
      }
    };
    req.on('close', closed);
    res.on('close', closed);
    const next = () => {
      if (res.destroyed || record.closedEarly) return;
      if (record.chunksSent < plan.chunks.length) {
        sse(res, chunk(model, plan.chunks[record.chunksSent]));
        record.chunksSent += 1;
        timer = setTimeout(next, plan.every);
        return;
      }
      sse(res, chunk(model, null, 'stop'));
      sse(res, { id: 'chatcmpl-fake', object: 'chat.completion.chunk', model, choices: [], usage: FAST_USAGE });
      sse(res, '[DONE]');
      record.finished = true;
      res.end();
    };
    // The first chunk goes out at once, the rest `every` ms apart.
    next();
  });
  await new Promise((ok, fail) => {
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', ok);
  });
  fake = { server: srv, port: srv.address().port, requests };
}

async function stopFake() {
  if (!fake) return;
  fake.server.closeAllConnections?.();
  await new Promise((r) => fake.server.close(r));
}

// ----- the promptyard server -----

function serverLog() {
  return `----- stdout -----\n${server.out.join('')}\n----- stderr -----\n${server.err.join('')}`;
}

// Started here rather than by the harness's startServer, which merges the two streams: this
// test keeps the server's stdout and stderr apart (and checks both for the key).
async function startServer() {
  const bin = findBinary();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'promptyard-browser-'));
  const out = [];
  const err = [];
  const child = spawn(bin, ['serve'], {
    // Run from the temp dir so a developer's ./promptyard.toml is not picked up and the master
    // key file (created beside the configuration) lands in the temp dir.
    cwd: dataDir,
    env: {
      ...process.env,
      PROMPTYARD_LISTEN: `127.0.0.1:${port}`,
      PROMPTYARD_DATA_DIR: join(dataDir, 'data'),
      PROMPTYARD_LOG__FORMAT: 'human',
      // Log as much as is reasonable, so a leaked key would show up.
      PROMPTYARD_LOG__LEVEL: 'debug',
      // The fake provider listens on loopback, on a port of its own.
      PROMPTYARD_OUTBOUND__ALLOW_CIDRS: '127.0.0.1',
      PROMPTYARD_OUTBOUND__ALLOW_PORTS: String(fake.port),
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => out.push(d.toString()));
  child.stderr.on('data', (d) => err.push(d.toString()));
  let exited = null;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  server = { child, base, out, err, dataDir };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      throw new Error(`server exited early (${JSON.stringify(exited)}):\n${serverLog()}`);
    }
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not healthy after 30 s:\n${serverLog()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Last resort if the runner is interrupted: never leave the server behind.
process.on('exit', () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
});

// ----- browser helpers -----

/** The result column of one model. */
function column(model) {
  return page.locator('#columns section.column').filter({ has: page.locator('h2', { hasText: new RegExp(`^${model}$`) }) });
}

/** A column's output text and state, read at one instant in the page. */
function snapshot(model) {
  return page.evaluate((m) => {
    const col = [...document.querySelectorAll('#columns section.column')].find(
      (c) => c.querySelector('h2')?.textContent === m,
    );
    if (!col) return null;
    return {
      text: col.querySelector('pre.output')?.textContent ?? '',
      state: col.dataset.state ?? null,
      meta: col.querySelector('.run-meta')?.textContent ?? '',
    };
  }, model);
}

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
        const file = join(OUT, `failure-playground-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        t.diagnostic(`the browser was at ${page.url()}, screenshot ${file}`);
      }
      if (fake) t.diagnostic(`fake provider saw: ${JSON.stringify(fake.requests.map(({ body, ...r }) => r))}`);
      throw err;
    }
  });
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) {
    if (f.startsWith('failure-playground-')) rmSync(join(OUT, f));
  }
  await startFake();
  await startServer();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    // A refused form answers 422 with the page and its error, by design; Chromium logs that.
    if (msg.type() === 'error' && !/status of 422/.test(msg.text())) {
      consoleProblems.push(`console error at ${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => consoleProblems.push(`uncaught exception at ${page.url()}: ${err.message}`));
});

after(async () => {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${serverLog()}\n----- end of server output -----\n`);
  }
  await stopServer(server);
  await stopFake();
});

// ----- the steps -----

step('setup creates the instance admin', async () => {
  await visit(page, '/');
  assert.equal(path(page), '/setup');
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  assert.equal(path(page), '/');
  await assertSignedIn(page);
});

step('the admin adds an OpenAI-compatible connection; its key is never shown', async () => {
  await visit(page, '/admin/providers');
  await page.getByRole('heading', { name: 'Provider connections', exact: true }).waitFor();
  const form = page.locator('form').filter({ has: page.locator('#new-name') });
  await page.locator('#new-name').fill(CONNECTION);
  await form.locator('select[name=kind]').selectOption('openai-compatible');
  await page.locator('#new-url').fill(`http://127.0.0.1:${fake.port}/v1`);
  await page.locator('#new-key').fill(CANARY);
  await page.locator('#new-models').fill('fast\nslow');
  await submit(page, 'Add connection', form);

  assert.equal(path(page), '/admin/providers', `landed on ${page.url()}`);
  assert.match(await textOf(page.getByRole('status')), new RegExp(`Added ${CONNECTION}\\.`));
  const panel = page.locator('section.panel').filter({ has: page.getByRole('heading', { name: new RegExp(`^${CONNECTION}`) }) });
  const listed = await textOf(panel);
  assert.match(listed, /OpenAI-compatible/);
  assert.match(listed, new RegExp(`http://127\\.0\\.0\\.1:${fake.port}/v1`));
  assert.match(listed, /key set/);
  assert.deepEqual(await panel.locator('.tag').allTextContents(), ['fast', 'slow']);
  // Write-only: neither the text nor the markup (e.g. a value attribute) carries the key.
  const html = await page.content();
  assert.ok(!html.includes(CANARY), 'the providers page contains the API key');
  const fetched = await (await page.request.get('/admin/providers')).text();
  assert.ok(!fetched.includes(CANARY), 'the providers page (as served) contains the API key');
  // Adding the connection calls nothing upstream.
  assert.equal(fake.requests.length, 0);
});

step('the playground streams the fast model and stops the slow one', async (t) => {
  await visit(page, '/');
  await clickLink(page, 'Playground', page.getByRole('navigation', { name: 'Main' }));
  assert.match(path(page), /^\/w\/[0-9a-f-]+\/playground$/, `landed on ${page.url()}`);
  await page.getByRole('heading', { name: 'Playground', exact: true }).waitFor();
  // No "no model" warning: the instance connection serves this workspace.
  assert.equal(await page.locator('.flash-error').count(), 0);

  await page.locator('#user_prompt').fill(USER_PROMPT);
  const fast = page.locator('#playground input[name=model][value=fast]');
  const slow = page.locator('#playground input[name=model][value=slow]');
  await fast.check();
  await slow.check();
  assert.deepEqual(
    await page.locator('#playground input[name=model]:checked').evaluateAll((els) => els.map((e) => e.value)),
    ['fast', 'slow'],
  );
  assert.equal(await page.locator('#stop').isDisabled(), true, 'Stop is disabled before a run');

  await page.locator('#run').click();
  await column('fast').waitFor();
  await column('slow').waitFor();
  assert.equal(await page.locator('#stop').isDisabled(), false, 'Stop is enabled while running');

  // Read the fast column while it streams, until it settles.
  const samples = [];
  const deadline = Date.now() + 10_000;
  for (;;) {
    const s = await snapshot('fast');
    if (s) samples.push(s);
    if (s?.state) break;
    if (Date.now() > deadline) assert.fail(`the fast column never finished: ${JSON.stringify(samples.at(-1))}`);
    await new Promise((r) => setTimeout(r, 15));
  }
  const streaming = samples.filter((s) => !s.state && s.text !== '');
  const partials = [...new Set(streaming.map((s) => s.text))];
  assert.ok(
    partials.length >= 2,
    `the fast output grew while streaming: read ${JSON.stringify(partials)} before it finished`,
  );
  for (const text of partials) {
    assert.ok(FAST_REPLY.startsWith(text), `partial ${JSON.stringify(text)}`);
  }
  // Each read extends the one before.
  for (let i = 1; i < partials.length; i++) {
    assert.ok(partials[i].startsWith(partials[i - 1]) && partials[i].length > partials[i - 1].length, JSON.stringify(partials));
  }

  const done = samples.at(-1);
  assert.equal(done.state, 'completed', `fast ended ${JSON.stringify(done)}`);
  assert.equal(done.text, FAST_REPLY);
  assert.equal(await column('fast').locator('pre.output').textContent(), FAST_REPLY);
  const meta = await textOf(column('fast').locator('.run-meta'));
  assert.match(meta, /^completed\b/, meta);
  assert.match(meta, /12 in \/ 5 out tokens/, meta);
  assert.match(meta, /\d+ ms/, meta);
  assert.equal(await column('fast').getByRole('alert').count(), 0, 'the fast column shows no error');

  // The slow model is still streaming: stop it.
  await eventually('the slow column shows some output', async () => {
    const s = await snapshot('slow');
    return (s && s.text.length > 0 && !s.state) || JSON.stringify(s);
  });
  const slowRequest = fake.requests.find((r) => r.model === 'slow');
  assert.ok(slowRequest, 'the fake provider got the slow request');
  assert.equal(slowRequest.closedEarly, false, 'the slow request is still open before Stop');
  stopClickedAt = Date.now();
  await page.locator('#stop').click();

  await eventually('the slow column is marked stopped', async () => {
    const s = await snapshot('slow');
    return s.state === 'cancelled' || /stopped/i.test(s.meta) || JSON.stringify(s);
  });
  const slowNow = await snapshot('slow');
  assert.ok(slowNow.text.startsWith('s0 s1 '), `slow output so far: ${JSON.stringify(slowNow.text)}`);
  assert.ok(!/s59/.test(slowNow.text), 'the slow output stopped before its end');

  // The server aborts the upstream call: the provider sees its connection close early.
  await eventually(
    'the fake provider saw the slow request close early',
    () => slowRequest.closedEarly || JSON.stringify({ ...slowRequest, body: undefined }),
    2_000,
    25,
  );
  assert.ok(slowRequest.closedAt - stopClickedAt <= 2_000, `closed ${slowRequest.closedAt - stopClickedAt} ms after Stop`);
  assert.ok(slowRequest.chunksSent < SLOW_CHUNKS.length, 'the slow stream was cut short');
  t.diagnostic(
    `fast read ${partials.length} partial outputs; slow ended ${JSON.stringify(slowNow.state)} (${slowNow.meta}), ` +
      `its upstream connection closed ${slowRequest.closedAt - stopClickedAt} ms after Stop, ` +
      `after ${slowRequest.chunksSent} of ${SLOW_CHUNKS.length} chunks`,
  );
  const fastRequest = fake.requests.find((r) => r.model === 'fast');
  assert.ok(fastRequest.finished && !fastRequest.closedEarly, 'the fast request ran to its end');

  await eventually('Run is enabled again', async () => (await page.locator('#run').isEnabled()) || 'disabled');
  assert.equal(await page.locator('#stop').isDisabled(), true, 'Stop is disabled after the run');
  // Both columns are still there, side by side.
  assert.equal(await page.locator('#columns section.column').count(), 2);
  await column('fast').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(OUT, 'playground.png'), fullPage: true });
});

step('the runs are recorded: the fast one completed, the slow one cancelled', async () => {
  const ws = path(page).replace(/\/playground$/, '');
  const runs = {};
  for (const model of ['fast', 'slow']) {
    runs[model] = await column(model).getAttribute('data-run');
    assert.match(runs[model] ?? '', /^[0-9a-f-]+$/, `the ${model} column knows its run id`);
  }
  const expected = { fast: 'completed', slow: 'cancelled' };
  for (const model of ['fast', 'slow']) {
    // The recorder writes in the background: the run may take a moment to settle.
    await eventually(`the ${model} run is recorded as ${expected[model]}`, async () => {
      const res = await visit(page, `${ws}/runs/${runs[model]}`);
      if (res.status() !== 200) return `status ${res.status()}`;
      const badge = await textOf(page.locator('main p.muted .badge'));
      return badge === expected[model] || badge;
    });
    await page.getByRole('heading', { name: `Run of ${model}`, exact: true }).waitFor();
  }
  await visit(page, `${ws}/runs/${runs.fast}`);
  assert.equal(await page.locator('#run-output').textContent(), FAST_REPLY);
  assert.match(await textOf(page.locator('main p.muted').first()), /12 in \/ 5 out tokens/);
});

step('the provider got the prompt and the key; the server log never shows the key', async () => {
  assert.equal(fake.requests.length, 2, JSON.stringify(fake.requests.map((r) => r.model)));
  for (const r of fake.requests) {
    assert.equal(r.authorization, `Bearer ${CANARY}`, `Authorization sent for ${r.model}`);
    assert.equal(r.body.stream, true);
    const user = r.body.messages.filter((m) => m.role === 'user').map((m) => m.content);
    assert.deepEqual(user, [USER_PROMPT]);
  }
  // Give the recorder a moment to log the cancelled run, then look at everything logged.
  await new Promise((r) => setTimeout(r, 300));
  const stderr = server.err.join('');
  const stdout = server.out.join('');
  assert.ok(stderr.length > 0, 'the server logged something to stderr');
  assert.ok(!stderr.includes(CANARY), 'the API key appears in the server stderr');
  assert.ok(!stdout.includes(CANARY), 'the API key appears in the server stdout');
});

step('a workspace admin turns the response cache on; a repeated prompt is answered from it', async () => {
  await visit(page, '/');
  await clickLink(page, 'Playground', page.getByRole('navigation', { name: 'Main' }));
  const ws = path(page).replace(/\/playground$/, '');
  await visit(page, `${ws}/settings`);
  await clickLink(page, 'Gateway', page.getByRole('navigation', { name: 'Workspace' }));
  assert.equal(path(page), `${ws}/gateway`);
  await page.getByRole('heading', { name: 'Gateway settings', exact: true }).waitFor();
  assert.match(await textOf(page.locator('.spend')), /Workspace: \$0\.00 \(no budget\)/);
  // A typo is refused with the field named, and the typed values stay.
  await page.getByLabel('Workspace budget per month').fill('five');
  await page.getByLabel('Response cache lifetime (seconds, 0 = off)').fill('600');
  await submit(page, 'Save gateway settings');
  assert.match(await textOf(page.getByRole('alert')), /`five` is not an amount in USD/);
  assert.equal(await page.getByLabel('Response cache lifetime (seconds, 0 = off)').inputValue(), '600');
  await page.getByLabel('Workspace budget per month').fill('5');
  await page.getByLabel('Routes', { exact: true }).fill('slow: fast');
  await submit(page, 'Save gateway settings');
  assert.match(await textOf(page.getByRole('status')), /Saved the gateway settings\./);
  assert.match(await textOf(page.locator('.spend')), /Workspace: \$0\.00 of \$5\.00/);
  assert.equal(await page.getByLabel('Routes', { exact: true }).inputValue(), 'slow: fast\n');
  await page.screenshot({ path: join(OUT, 'gateway-settings.png'), fullPage: true });

  const before = fake.requests.length;
  await visit(page, `${ws}/playground`);
  await page.locator('#user_prompt').fill('Cache me, please.');
  await page.locator('#playground input[name=model][value=fast]').check();
  await page.getByLabel(/Answer from the response cache/).check();
  for (const expected of [/^completed ·/, /^completed \(cached\) ·/]) {
    await page.locator('#run').click();
    await eventually(`the fast column ends ${expected}`, async () => {
      const s = await snapshot('fast');
      return (s?.state === 'completed' && expected.test(s.meta)) || JSON.stringify(s);
    }, 10_000);
    assert.equal((await snapshot('fast')).text, FAST_REPLY);
    await eventually('Run is enabled again', async () => (await page.locator('#run').isEnabled()) || 'disabled');
    // The answer is stored in the cache in the background.
    await new Promise((r) => setTimeout(r, 300));
  }
  assert.equal(fake.requests.length, before + 1, 'the second run never reached the provider');
  await page.screenshot({ path: join(OUT, 'playground-cached.png'), fullPage: true });
});

step('the browser console stayed free of errors', async () => {
  assert.deepEqual(consoleProblems, []);
});
