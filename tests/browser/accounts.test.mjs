// End-to-end test of accounts, sessions and administration, driven through the system Chromium
// the way a person would use them: first-run setup, logging in and out, account changes, a
// second browser whose session ends when the password changes, user administration, and
// cross-origin form posts being refused.
//
// Run after `cargo build`:  node --test tests/browser/
// The server comes from harness.mjs: the binary from PROMPTYARD_BIN, else
// $CARGO_TARGET_DIR/debug/promptyard, else target/debug/promptyard, started from a temporary
// directory. Screenshots land in tests/browser/out/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  login,
  path,
  startServer,
  stopServer,
  submit,
  textOf,
  visit,
  assertSignedIn,
  clickLink,
  logOut,
  openUserMenu,
} from './harness.mjs';

const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'first-password-1234' };
const ADMIN_NEW_PASSWORD = 'second-password-5678';
const USER = { email: 'bob@example.com', name: 'Bob User', password: 'bob-password-1234' };

let server; // { child, base, log: string[], dataDir }
let browser;
let admin; // { context, page }: the admin's first browser
let other; // { context, page }: a second, independent browser
let failed = false;

async function newBrowser() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { context, page };
}

/** Clicks a submit button (a locator) and waits for the page it leads to. */
async function submitButton(page, button) {
  await Promise.all([page.waitForEvent('load'), button.click()]);
}

async function assertLoggedIn(page) {
  await assertSignedIn(page);
}

async function assertOnLogin(page) {
  assert.equal(path(page), '/login', `expected the login page, got ${page.url()}`);
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
}

/** Submits the login form without expecting it to succeed (the harness's `login` does). */
async function attemptLogin(page, email, password) {
  await visit(page, '/login');
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await submit(page, 'Log in');
}

async function loginOk(page, email, password) {
  // Lands on / (asserted by the harness), then the page offers Log out.
  await login(page, email, password);
  await assertLoggedIn(page);
}

async function loginFails(page, email, password) {
  await attemptLogin(page, email, password);
  await assertOnLogin(page);
  const alert = await textOf(page.getByRole('alert'));
  assert.ok(alert.length > 0, 'the failed login shows an error');
  return alert;
}

async function logout(page) {
  await logOut(page);
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
  server = await startServer({
    // The flow below logs in as the admin more often than the default per-account limit
    // (5 a minute) allows; rate limiting has its own tests in tests/it.
    PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT: '100',
    PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_IP: '100',
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  admin = await newBrowser();
  other = await newBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${server.log.join('')}\n----- end of server output -----\n`);
  }
  await stopServer(server);
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
  // The account lives in the header's account menu.
  await clickLink(page, 'Account and profile', await openUserMenu(page));
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
