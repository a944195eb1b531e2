// End-to-end test of accounts, sessions and administration, driven through the system Chromium
// the way a person would use them: first-run setup, logging in and out, account changes, a
// second browser whose session ends when the password changes, user administration, and
// cross-origin form posts being refused.
//
// Run after `cargo build`:  node --test tests/browser/
// The binary comes from PROMPTYARD_BIN, else $CARGO_TARGET_DIR/debug/promptyard, else
// target/debug/promptyard. Screenshots land in tests/browser/out/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '..', '..');
const OUT = join(HERE, 'out');
const CHROMIUM = process.env.PROMPTYARD_CHROMIUM ?? '/usr/bin/chromium';

const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'first-password-1234' };
const ADMIN_NEW_PASSWORD = 'second-password-5678';
const USER = { email: 'bob@example.com', name: 'Bob User', password: 'bob-password-1234' };

let server; // { child, base, log: string[], dataDir }
let browser;
let admin; // { context, page }: the admin's first browser
let other; // { context, page }: a second, independent browser
let failed = false;

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

async function startServer() {
  const bin = findBinary();
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'promptyard-browser-'));
  const log = [];
  const child = spawn(bin, ['serve'], {
    // Run from the temp dir so a developer's ./promptyard.toml is not picked up.
    cwd: dataDir,
    env: {
      ...process.env,
      PROMPTYARD_LISTEN: `127.0.0.1:${port}`,
      PROMPTYARD_DATA_DIR: join(dataDir, 'data'),
      PROMPTYARD_LOG__FORMAT: 'human',
      NO_COLOR: '1',
      // The flow below logs in as the admin more often than the default per-account limit
      // (5 a minute) allows; rate limiting has its own tests in tests/it.
      PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT: '100',
      PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_IP: '100',
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
  server = { child, base, log, dataDir };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) {
      throw new Error(`server exited early (${JSON.stringify(exited)}):\n${log.join('')}`);
    }
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not healthy after 30 s:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopServer() {
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

// Last resort if the runner is interrupted: never leave the server behind.
process.on('exit', () => {
  if (server && server.child.exitCode === null) server.child.kill('SIGKILL');
});

async function newBrowser() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { context, page };
}

function path(page) {
  return new URL(page.url()).pathname;
}

/** Clicks a submit button (by its visible text) and waits for the page it leads to. */
async function submit(page, name, within = page) {
  await submitButton(page, within.getByRole('button', { name, exact: true }));
}

async function submitButton(page, button) {
  await Promise.all([page.waitForEvent('load'), button.click()]);
}

async function visit(page, url) {
  const res = await page.goto(url);
  assert.ok(res, `no response for ${url}`);
  return res;
}

async function textOf(locator) {
  await locator.first().waitFor();
  return (await locator.allTextContents()).join(' ').replace(/\s+/g, ' ').trim();
}

async function assertLoggedIn(page) {
  await page.getByRole('button', { name: 'Log out', exact: true }).waitFor();
}

async function assertOnLogin(page) {
  assert.equal(path(page), '/login', `expected the login page, got ${page.url()}`);
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
}

async function login(page, email, password) {
  await visit(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(page, 'Log in');
}

async function loginOk(page, email, password) {
  await login(page, email, password);
  assert.equal(path(page), '/', `login as ${email} should land on /, got ${page.url()}`);
  await assertLoggedIn(page);
}

async function loginFails(page, email, password) {
  await login(page, email, password);
  await assertOnLogin(page);
  const alert = await textOf(page.getByRole('alert'));
  assert.ok(alert.length > 0, 'the failed login shows an error');
  return alert;
}

async function logout(page) {
  await submit(page, 'Log out');
  await assertOnLogin(page);
}

function usersRow(page, email) {
  return page.getByRole('row').filter({ hasText: email });
}

/** A per-user button in the users table. Its accessible name may add the email to the visible
 * text ("Disable bob@example.com"), so match on how it starts. */
function rowButton(row, label) {
  return row.getByRole('button', { name: new RegExp(`^${label}\\b`) });
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
      for (const b of [admin, other]) {
        if (!b) continue;
        const file = join(OUT, `failure-${name.replace(/[^a-z0-9]+/gi, '-')}-${b === admin ? 'a' : 'b'}.png`);
        await b.page.screenshot({ path: file, fullPage: true }).catch(() => {});
        t.diagnostic(`${b === admin ? 'first' : 'second'} browser was at ${b.page.url()}, screenshot ${file}`);
      }
      throw err;
    }
  });
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  for (const f of readdirSync(OUT)) {
    if (f.startsWith('failure-')) rmSync(join(OUT, f));
  }
  await startServer();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  admin = await newBrowser();
  other = await newBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${server.log.join('')}\n----- end of server output -----\n`);
  }
  await stopServer();
});

step('first visit offers setup; creating the admin logs in', async () => {
  const { page } = admin;
  await visit(page, '/');
  assert.equal(path(page), '/setup', 'with no users, / redirects to /setup');
  await page.getByRole('button', { name: 'Create admin account', exact: true }).waitFor();
  await page.screenshot({ path: join(OUT, 'setup.png'), fullPage: true });

  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  assert.equal(path(page), '/', `setup should land on /, got ${page.url()}`);
  await assertLoggedIn(page);
  await page.getByRole('link', { name: 'Admin', exact: true }).waitFor();
});

step('setup is closed once an admin exists', async () => {
  // A second browser with no session must not get the setup form.
  const { page } = other;
  await visit(page, '/setup');
  assert.equal(
    await page.getByRole('button', { name: 'Create admin account', exact: true }).count(),
    0,
    `setup form still offered at ${page.url()}`,
  );
});

step('log out lands on the login page', async () => {
  await logout(admin.page);
  const res = await visit(admin.page, '/account');
  assert.ok(res, 'no response');
  await assertOnLogin(admin.page);
});

step('a wrong password is refused with an error', async () => {
  const alert = await loginFails(admin.page, ADMIN.email, 'not-the-password');
  assert.match(alert, /Wrong email or password\./);
});

step('the right password logs in', async () => {
  await loginOk(admin.page, ADMIN.email, ADMIN.password);
});

step('account page: changing the name shows a confirmation', async () => {
  const { page } = admin;
  await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'Account', exact: true }).click()]);
  assert.equal(path(page), '/account');
  const name = page.getByLabel('Name', { exact: true });
  assert.equal(await name.inputValue(), ADMIN.name);
  await name.fill('Ada Lovelace');
  await submit(page, 'Save name');
  assert.ok((await textOf(page.getByRole('status'))).length > 0, 'a success message is shown');
  await visit(page, '/account');
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'Ada Lovelace');
});

step('a second browser logs in as the same admin and shows up under Sessions', async () => {
  await loginOk(other.page, ADMIN.email, ADMIN.password);
  const { page } = admin;
  await visit(page, '/account');
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
  assert.equal(await page.getByRole('row').filter({ hasText: 'This session' }).count(), 1);
  assert.ok(
    (await page.getByRole('button', { name: 'Revoke', exact: true }).count()) >= 1,
    'the other session can be revoked',
  );
  await page.getByRole('button', { name: 'Log out other sessions', exact: true }).waitFor();
  await page.screenshot({ path: join(OUT, 'account.png'), fullPage: true });
});

step('changing the password logs out the other browser but not this one', async () => {
  const { page } = admin;
  await page.getByLabel('Current password', { exact: true }).fill(ADMIN.password);
  await page.getByLabel('New password', { exact: true }).fill(ADMIN_NEW_PASSWORD);
  await submit(page, 'Change password');
  assert.match(
    await textOf(page.getByRole('status')),
    /Password changed\. Your other sessions have been logged out\./,
  );

  await visit(other.page, '/account');
  await assertOnLogin(other.page);

  await visit(page, '/account');
  assert.equal(path(page), '/account', 'the browser that changed the password stays logged in');
  await assertLoggedIn(page);
});

step('the old password no longer works and the new one does', async () => {
  await loginFails(other.page, ADMIN.email, ADMIN.password);
  await loginOk(other.page, ADMIN.email, ADMIN_NEW_PASSWORD);
  await logout(other.page);
});

step('admin creates a user', async () => {
  const { page } = admin;
  await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'Admin', exact: true }).click()]);
  if (path(page) !== '/admin/users') await visit(page, '/admin/users');
  const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Create user', exact: true }) });
  await form.getByLabel('Email', { exact: true }).fill(USER.email);
  await form.getByLabel('Name', { exact: true }).fill(USER.name);
  await form.getByLabel('Password', { exact: true }).fill(USER.password);
  assert.equal(await form.getByLabel('Administrator', { exact: true }).isChecked(), false);
  await submit(page, 'Create user', form);

  const row = usersRow(page, USER.email);
  await row.waitFor();
  const text = await textOf(row);
  assert.match(text, new RegExp(USER.name));
  assert.match(text, /Active/);
  await rowButton(row, 'Disable').waitFor();
  await rowButton(row, 'Make admin').waitFor();
  await page.screenshot({ path: join(OUT, 'admin-users.png'), fullPage: true });
});

step('the new user can log in and is not an admin', async () => {
  const { page } = admin;
  await logout(page);
  await loginOk(page, USER.email, USER.password);
  assert.equal(await page.getByRole('link', { name: 'Admin', exact: true }).count(), 0);
  await visit(page, '/admin/users');
  assert.equal(
    await page.getByRole('button', { name: 'Create user', exact: true }).count(),
    0,
    'a non-admin must not get the user administration page',
  );
});

step('admin disables the user: their session ends and they cannot log in', async () => {
  // The admin logs back in from the second browser; the first still holds the user's session.
  await loginOk(other.page, ADMIN.email, ADMIN_NEW_PASSWORD);
  const page = other.page;
  await visit(page, '/admin/users');
  const row = usersRow(page, USER.email);
  await submitButton(page, rowButton(row, 'Disable'));
  assert.match(await textOf(usersRow(page, USER.email)), /Disabled/);
  await rowButton(usersRow(page, USER.email), 'Enable').waitFor();

  await visit(admin.page, '/account');
  await assertOnLogin(admin.page);
  await loginFails(admin.page, USER.email, USER.password);
});

step('a cross-origin form post is refused with 403', async () => {
  // `other` is logged in as the admin; a post claiming another origin must not log it out.
  const res = await other.page.request.post('/logout', {
    headers: { Origin: 'http://evil.example' },
    form: {},
    maxRedirects: 0,
  });
  assert.equal(res.status(), 403, 'POST /logout with a foreign Origin');

  const res2 = await other.page.request.post('/login', {
    headers: { Origin: 'http://evil.example' },
    form: { email: ADMIN.email, password: ADMIN_NEW_PASSWORD },
    maxRedirects: 0,
  });
  assert.equal(res2.status(), 403, 'POST /login with a foreign Origin');

  await visit(other.page, '/account');
  assert.equal(path(other.page), '/account', 'the refused logout left the session alone');
  await assertLoggedIn(other.page);
});

step('a form on another origin cannot post to the app', async () => {
  // A real page on a different origin (another port: same site, different origin) whose form
  // posts to /logout, submitted by the browser that holds the admin's session.
  const evil = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><form method="post" action="${server.base}/logout">
      <button type="submit">Win a prize</button></form>`);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  try {
    const page = other.page;
    await visit(page, `http://127.0.0.1:${evil.address().port}/`);
    const [res] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${server.base}/logout`),
      page.getByRole('button', { name: 'Win a prize' }).click(),
    ]);
    assert.equal(res.status(), 403);
  } finally {
    evil.close();
    evil.closeAllConnections?.();
  }
  await visit(other.page, '/account');
  assert.equal(path(other.page), '/account', 'the admin is still logged in');
  await assertLoggedIn(other.page);
});

step('a flash message is shown once', async () => {
  const { page } = other;
  await visit(page, '/account');
  await page.getByLabel('Name', { exact: true }).fill('Ada King');
  await submit(page, 'Save name');
  assert.ok((await textOf(page.getByRole('status'))).length > 0, 'a success message is shown');
  await visit(page, '/account');
  assert.equal(
    await page.getByRole('status').count(),
    0,
    `the confirmation is shown again on the next page: ${await page.getByRole('status').allTextContents()}`,
  );
});
