// Shared pieces of the browser tests: finding the debug binary, starting it on a free port with
// a temporary data directory, stopping it, and small page helpers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '..', '..');
export const OUT = join(HERE, 'out');
export const CHROMIUM = process.env.PROMPTYARD_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function findBinary() {
  if (process.env.PROMPTYARD_BIN) return process.env.PROMPTYARD_BIN;
  const candidates = [];
  if (process.env.CARGO_TARGET_DIR) {
    candidates.push(join(process.env.CARGO_TARGET_DIR, 'debug', 'promptyard'));
  }
  candidates.push(join(REPO, 'target', 'debug', 'promptyard'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`promptyard binary not found (run cargo build); looked at: ${candidates.join(', ')}`);
  }
  return found;
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createNetServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/**
 * Starts the server with `env` added; resolves once /healthz answers. `options.port` picks the
 * port (default: a free one); `options.config` is written as promptyard.toml in its working
 * directory, which the server reads.
 */
export async function startServer(env = {}, options = {}) {
  const bin = findBinary();
  const port = options.port ?? (await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'promptyard-browser-'));
  if (options.config) writeFileSync(join(dataDir, 'promptyard.toml'), options.config);
  const log = [];
  const child = spawn(bin, ['serve'], {
    cwd: dataDir,
    env: {
      ...process.env,
      PROMPTYARD_LISTEN: `127.0.0.1:${port}`,
      PROMPTYARD_DATA_DIR: join(dataDir, 'data'),
      PROMPTYARD_LOG__FORMAT: 'human',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  let exited = null;
  child.once('exit', (code, signal) => {
    exited = { code, signal };
  });
  const base = `http://127.0.0.1:${port}`;
  const server = { child, base, log, dataDir };
  process.on('exit', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`server exited early (${JSON.stringify(exited)}):\n${log.join('')}`);
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not healthy after 30 s:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopServer(server) {
  if (!server) return;
  const { child, dataDir } = server;
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}

export function path(page) {
  return new URL(page.url()).pathname;
}

export async function visit(page, url) {
  const res = await page.goto(url);
  assert.ok(res, `no response for ${url}`);
  return res;
}

/** Clicks a button (by its exact accessible name) and waits for the page it leads to. */
export async function submit(page, name, within = page) {
  const button = within.getByRole('button', { name, exact: true });
  await Promise.all([page.waitForEvent('load'), button.click()]);
}

export async function textOf(locator) {
  await locator.first().waitFor();
  return (await locator.allTextContents()).join(' ').replace(/\s+/g, ' ').trim();
}

export async function login(page, email, password) {
  await visit(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(page, 'Log in');
  assert.equal(path(page), '/', `login as ${email} should land on /, got ${page.url()}`);
}

/** Waits until the page shows a signed-in header (the account menu). */
export async function assertSignedIn(page) {
  await page.locator('#user-menu summary').waitFor();
}

/** Opens the account menu in the header, where Account, API keys and Log out live. */
export async function openUserMenu(page) {
  const menu = page.locator('#user-menu');
  if (!(await menu.evaluate((d) => d.open))) await menu.locator('summary').click();
  return menu;
}

/** Logs out through the account menu, as a person would. */
export async function logOut(page) {
  const menu = await openUserMenu(page);
  await submit(page, 'Log out', menu);
}

/** Follows a link (by its exact accessible name) and waits for the page it leads to. */
export async function clickLink(page, name, within = page) {
  await Promise.all([page.waitForEvent('load'), within.getByRole('link', { name, exact: true }).first().click()]);
}

/** Waits until `fn` returns true, polling every `every` ms; fails with `what` after `timeout` ms. */
export async function eventually(what, fn, timeout = 5_000, every = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last === true) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) assert.fail(`${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Makes `step(name, fn)` for a test file whose steps build on each other: after a failure the
 * remaining steps are skipped, and the failing one leaves a screenshot named after `label`.
 * `state.page()` gives the page; `state.failed` is set on the first failure.
 */
export function stepsFor(label, state) {
  return (name, fn) =>
    test(name, async (t) => {
      if (state.failed) {
        t.skip('an earlier step failed');
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        state.failed = true;
        const page = state.page();
        const file = join(OUT, `failure-${label}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
        await page?.screenshot({ path: file, fullPage: true }).catch(() => {});
        t.diagnostic(`the browser was at ${page?.url()}, screenshot ${file}`);
        throw err;
      }
    });
}

/**
 * A small OpenAI-compatible provider on a free local port: `GET /v1/models` lists `model`, and
 * chat completions answer `reply` (streamed when asked). `requests` records each call.
 */
export async function startFakeProvider({ model, reply }) {
  const requests = [];
  const srv = createHttpServer(async (req, res) => {
    const parts = [];
    for await (const part of req) parts.push(part);
    requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization });
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model' }] }));
      return;
    }
    if (req.method === 'POST' && req.url === '/v1/chat/completions') {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8'));
      const usage = { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 };
      if (body.stream) {
        res.setHeader('content-type', 'text/event-stream');
        const chunk = (delta, finish) => ({
          id: 'chatcmpl-h', object: 'chat.completion.chunk', created: 1, model: body.model,
          choices: [{ index: 0, delta, finish_reason: finish }],
        });
        res.write(`data: ${JSON.stringify(chunk({ role: 'assistant', content: reply }, null))}\n\n`);
        res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`);
        res.write(`data: ${JSON.stringify({ ...chunk({}, null), choices: [], usage })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      res.end(JSON.stringify({
        id: 'chatcmpl-h', object: 'chat.completion', created: 1, model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }],
        usage,
      }));
      return;
    }
    res.statusCode = 404;
    res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  return { srv, port: srv.address().port, requests };
}

/**
 * Closes the browser and stops the server (and any fake `srv`s), printing the server's output
 * when the file `failed`.
 */
export async function shutDown({ browser, server, failed, fakes = [] }) {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${server.log.join('')}\n-----\n`);
  }
  await stopServer(server);
  for (const f of fakes) f?.srv.close();
}

// For a test that has to start the server its own way (see playground.test.mjs).
export { findBinary, freePort };
