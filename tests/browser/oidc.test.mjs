// OIDC login end to end, in headless Chromium, against a real OpenID provider (the certified
// `oidc-provider` package, started on loopback by oidc-provider.mjs): a first login makes an
// account, an existing account is refused until its owner links the provider, linking and
// unlinking from the account page, linking by verified email where the operator allows it, the
// admin role from the groups claim, the domain restriction, and every kind of bad answer the
// relying party must refuse (a tampered ID token, a wrong nonce, an expired token, a token for
// another client, a replayed code). The audit log is checked to list what happened.
//
// Run after `cargo build`:  node --test tests/browser/oidc.test.mjs

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  OUT,
  freePort,
  login,
  path,
  startServer,
  stepsFor,
  stopServer,
  submit,
  textOf,
  visit,
  assertSignedIn,
  logOut,
} from './harness.mjs';
import { startProvider } from './oidc-provider.mjs';

const ADMIN = { email: 'root@corp.test', name: 'Root Admin', password: 'root-password-1234' };
const DAVE = { email: 'dave@corp.test', name: 'Dave Local', password: 'dave-password-1234' };
const ERIN = { email: 'erin@corp.test', name: 'Erin Local', password: 'erin-password-1234' };

const ACCOUNTS = {
  alice: { email: 'alice@corp.test', email_verified: true, name: 'Alice Example', groups: ['promptyard-admins'] },
  dave: { email: DAVE.email, email_verified: true, name: 'Dave at Corp', groups: [] },
  erin: { email: ERIN.email, email_verified: true, name: 'Erin at Corp', groups: [] },
  frank: { email: 'frank@corp.test', email_verified: true, name: 'Frank Example', groups: [] },
  gina: { email: 'gina@corp.test', email_verified: false, name: 'Gina Unverified', groups: [] },
  henry: { email: 'henry@corp.test', email_verified: true, name: 'Henry Invited', groups: [] },
};

let server;
let op;
let browser;
let adminPage;
const state = { failed: false, page: () => current };
let current;
const step = stepsFor('oidc', state);

before(async () => {
  mkdirSync(OUT, { recursive: true });
  const port = await freePort();
  const callback = (id) => `http://127.0.0.1:${port}/auth/oidc/${id}/callback`;
  op = await startProvider({
    clients: [
      { client_id: 'promptyard', client_secret: 'corp-secret-1', redirect_uris: [callback('corp')] },
      { client_id: 'promptyard-mail', client_secret: 'mail-secret-2', redirect_uris: [callback('mail')] },
    ],
    accounts: ACCOUNTS,
  });
  const config = `
[auth]
registration = "invite"

[outbound]
allow_cidrs = ["127.0.0.1"]
allow_ports = [${op.port}]

[[oidc.providers]]
id = "corp"
label = "Corp SSO"
issuer = "${op.issuer}"
client_id = "promptyard"
client_secret = "corp-secret-1"
scopes = ["email", "profile", "groups"]
registration = "open"
allowed_domains = ["corp.test"]
admin_claim = "groups"
admin_values = ["promptyard-admins"]

[[oidc.providers]]
id = "mail"
label = "Corp Mail"
issuer = "${op.issuer}"
client_id = "promptyard-mail"
client_secret = "mail-secret-2"
link_existing_by_email = true
`;
  server = await startServer({}, { port, config });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
  if (state.failed && server) console.log(server.log.join(''));
  await stopServer(server);
  await op?.close();
});

/** A fresh browser (no Promptyard session, no provider session). */
async function freshPage() {
  const context = await browser.newContext({ baseURL: server.base });
  context.setDefaultTimeout(10_000);
  // The provider's dev login page links a web font; nothing leaves the machine.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => route.abort());
  current = await context.newPage();
  return current;
}

/** Clicks "Continue with LABEL" and signs in at the provider as `loginName`. */
async function signInAtProvider(page, label, loginName) {
  await Promise.all([
    page.waitForURL((u) => u.port === String(op.port)),
    page.getByRole('link', { name: `Continue with ${label}`, exact: true }).click(),
  ]);
  await page.locator('input[name="login"]').fill(loginName);
  await page.locator('input[name="password"]').fill('any password');
  await Promise.all([
    page.waitForURL((u) => u.port !== String(op.port)),
    page.getByRole('button', { name: 'Sign-in' }).click(),
  ]);
  await page.waitForLoadState('load');
}

async function ssoLogin(page, label, loginName) {
  await visit(page, '/login');
  await signInAtProvider(page, label, loginName);
}

async function alertText(page) {
  return textOf(page.locator('[role="alert"]'));
}

async function assertLoggedInAs(page, name) {
  await assertSignedIn(page);
  const header = await textOf(page.locator('header'));
  assert.ok(header.includes(name), `header should name ${name}: ${header}`);
}

async function assertNotLoggedIn(page) {
  await visit(page, '/account');
  assert.equal(path(page), '/login', `expected no session, got ${page.url()}`);
}

step('first-run setup, then the admin makes two password accounts', async () => {
  adminPage = await freshPage();
  await visit(adminPage, '/');
  assert.equal(path(adminPage), '/setup');
  await adminPage.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await adminPage.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await adminPage.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(adminPage, 'Create admin account');
  for (const u of [DAVE, ERIN]) {
    await visit(adminPage, '/admin/users');
    const form = adminPage.locator('form').filter({
      has: adminPage.getByRole('button', { name: 'Create user', exact: true }),
    });
    await form.getByLabel('Email', { exact: true }).fill(u.email);
    await form.getByLabel('Name', { exact: true }).fill(u.name);
    await form.getByLabel('Password', { exact: true }).fill(u.password);
    await submit(adminPage, 'Create user', form);
    assert.ok((await textOf(adminPage.locator('main'))).includes(u.email));
  }
});

step('the login page offers both providers and the password form', async () => {
  const page = await freshPage();
  await visit(page, '/login');
  await page.getByRole('link', { name: 'Continue with Corp SSO', exact: true }).waitFor();
  await page.getByRole('link', { name: 'Continue with Corp Mail', exact: true }).waitFor();
  await page.getByRole('button', { name: 'Log in', exact: true }).waitFor();
  await page.screenshot({ path: join(OUT, 'oidc-login.png'), fullPage: true });
});

step('a first login makes an account, an admin by the groups claim', async () => {
  const page = await freshPage();
  await ssoLogin(page, 'Corp SSO', 'alice');
  assert.equal(path(page), '/', `landed on ${page.url()}`);
  await assertLoggedInAs(page, 'Alice Example');
  assert.ok((await textOf(page.locator('[role="status"]'))).includes('Your account is ready'));
  // The groups claim made her an instance admin.
  const res = await visit(page, '/admin/users');
  assert.equal(res.status(), 200);
  // After logging out, the provider still knows her: one click logs her back in, to the same
  // account.
  await logOut(page);
  await Promise.all([
    page.waitForURL((u) => u.port !== String(op.port) && u.pathname === '/'),
    page.getByRole('link', { name: 'Continue with Corp SSO', exact: true }).click(),
  ]);
  await assertLoggedInAs(page, 'Alice Example');
});

step('an existing account is not taken over: a clear refusal until its owner links', async () => {
  const page = await freshPage();
  await ssoLogin(page, 'Corp SSO', 'dave');
  assert.equal(path(page), '/auth/oidc/corp/callback');
  const text = await alertText(page);
  assert.ok(text.includes(`An account with ${DAVE.email} already exists`), text);
  assert.ok(text.includes('link your Corp SSO account'), text);
  await assertNotLoggedIn(page);
});

step('linking from the account page, then logging in through the provider', async () => {
  const page = await freshPage();
  await login(page, DAVE.email, DAVE.password);
  await visit(page, '/account');
  const methods = page.locator('section', { has: page.getByRole('heading', { name: 'Sign-in methods' }) });
  assert.ok((await textOf(methods)).includes('Not linked'));
  await Promise.all([
    page.waitForURL((u) => u.port === String(op.port)),
    methods.getByRole('button', { name: 'Link Corp SSO', exact: true }).click(),
  ]);
  await page.locator('input[name="login"]').fill('dave');
  await page.locator('input[name="password"]').fill('any password');
  await Promise.all([
    page.waitForURL((u) => u.port !== String(op.port) && u.pathname === '/account'),
    page.getByRole('button', { name: 'Sign-in' }).click(),
  ]);
  assert.ok((await textOf(page.locator('[role="status"]'))).includes('Your Corp SSO account is linked'));
  assert.ok((await textOf(methods)).includes(DAVE.email));
  await page.screenshot({ path: join(OUT, 'oidc-account.png'), fullPage: true });

  const again = await freshPage();
  await ssoLogin(again, 'Corp SSO', 'dave');
  await assertLoggedInAs(again, DAVE.name);
});

step('a provider the operator allows links a verified email on first login', async () => {
  const page = await freshPage();
  await ssoLogin(page, 'Corp Mail', 'erin');
  await assertLoggedInAs(page, ERIN.name);
  // ...but never an unverified one: gina has no account, and Corp Mail follows the registration
  // policy (invite only), so without an invite link she gets none.
  const gina = await freshPage();
  await ssoLogin(gina, 'Corp Mail', 'gina');
  const text = await alertText(gina);
  assert.ok(text.includes('does not let new accounts sign up'), text);
  await assertNotLoggedIn(gina);
});

step('an invite link lets a new person sign up through a provider and join', async () => {
  const res = await adminPage.request.post('/api/workspaces', { data: { name: 'Corp team' } });
  assert.equal(res.status(), 201, await res.text());
  const ws = (await res.json()).id;
  const invite = await adminPage.request.post(`/api/workspaces/${ws}/invites`, { data: { role: 'editor' } });
  assert.ok(invite.ok(), await invite.text());
  const { url } = await invite.json();
  // An unverified email gets no account even with the invite, and the invite stays open.
  const gina = await freshPage();
  await visit(gina, url);
  await Promise.all([gina.waitForEvent('load'), gina.getByRole('link', { name: 'Create an account', exact: true }).click()]);
  await signInAtProvider(gina, 'Corp Mail', 'gina');
  const refused = await alertText(gina);
  assert.ok(refused.includes('does not say that gina@corp.test is verified'), refused);
  await assertNotLoggedIn(gina);
  const page = await freshPage();
  await visit(page, url);
  await Promise.all([page.waitForEvent('load'), page.getByRole('link', { name: 'Create an account', exact: true }).click()]);
  await signInAtProvider(page, 'Corp Mail', 'henry');
  assert.equal(path(page), `/w/${ws}/templates`, `landed on ${page.url()}`);
  await assertLoggedInAs(page, 'Henry Invited');
  const members = await adminPage.request.get(`/api/workspaces/${ws}/members`);
  const list = JSON.stringify(await members.json());
  assert.ok(list.includes('henry@corp.test') || list.includes('Henry Invited'), list);
  // The invite was single-use: the next person gets the plain refusal.
  const late = await freshPage();
  await visit(late, url);
  assert.equal((await late.getByRole('link', { name: 'Continue with Corp Mail' }).count()), 0);
});

step('only verified emails of the allowed domain get in through Corp SSO', async () => {
  const page = await freshPage();
  await ssoLogin(page, 'Corp SSO', 'bob'); // bob@example.test, unverified
  const text = await alertText(page);
  assert.ok(text.includes('limited to verified email addresses at corp.test'), text);
  await assertNotLoggedIn(page);
});

for (const [mode, expected] of [
  ['tamper-signature', "the ID token's signature is invalid"],
  ['wrong-nonce', "the ID token's nonce does not match this sign-in"],
  ['expired', 'the ID token has expired'],
  ['wrong-audience', 'the ID token was issued to another application'],
]) {
  step(`a bad ID token is refused: ${mode}`, async () => {
    op.setMode(mode);
    try {
      const page = await freshPage();
      await ssoLogin(page, 'Corp SSO', 'frank');
      const text = await alertText(page);
      assert.ok(text.includes(expected), `${mode}: ${text}`);
      assert.ok(text.includes('Nobody was logged in'), text);
      await assertNotLoggedIn(page);
    } finally {
      op.setMode('normal');
    }
  });
}

step('a replayed callback and a replayed code are refused', async () => {
  const page = await freshPage();
  let callbackUrl;
  page.on('request', (r) => {
    if (r.url().includes('/auth/oidc/corp/callback')) callbackUrl = r.url();
  });
  await visit(page, '/login');
  await Promise.all([
    page.waitForURL((u) => u.port === String(op.port)),
    page.getByRole('link', { name: 'Continue with Corp SSO', exact: true }).click(),
  ]);
  const pending = (await page.context().cookies()).find((c) => c.name === 'promptyard_oidc');
  assert.ok(pending, 'the sign-in in progress is kept in a cookie');
  await page.locator('input[name="login"]').fill('frank');
  await page.locator('input[name="password"]').fill('any password');
  await Promise.all([
    page.waitForURL((u) => u.port !== String(op.port)),
    page.getByRole('button', { name: 'Sign-in' }).click(),
  ]);
  await assertLoggedInAs(page, 'Frank Example');
  assert.ok(callbackUrl, 'saw the callback');

  // The same answer again in another browser: no sign-in in progress there.
  const thief = await freshPage();
  const res = await visit(thief, callbackUrl);
  assert.equal(res.status(), 403);
  assert.ok((await alertText(thief)).includes('expired or was already used'));
  await assertNotLoggedIn(thief);

  // With the pending cookie copied too, the state matches, and the provider refuses the used code.
  const before = op.tokenRequests.length;
  await thief.context().addCookies([{ ...pending }]);
  await visit(thief, callbackUrl);
  const text = await alertText(thief);
  assert.ok(text.includes('refused the sign-in code: it was already used'), text);
  assert.equal(op.tokenRequests.length, before + 1);
  assert.equal(op.tokenRequests.at(-1).error, 'invalid_grant');
  await assertNotLoggedIn(thief);
});

step('an answer naming another issuer is refused (mix-up defence)', async () => {
  op.setMode('wrong-iss');
  try {
    const page = await freshPage();
    await ssoLogin(page, 'Corp SSO', 'frank');
    const text = await alertText(page);
    assert.ok(text.includes('came from another issuer than Corp SSO'), text);
    await assertNotLoggedIn(page);
  } finally {
    op.setMode('normal');
  }
});

step('unlinking keeps at least one way to log in', async () => {
  // Alice has only her Corp SSO account: refused.
  const alice = await freshPage();
  await ssoLogin(alice, 'Corp SSO', 'alice');
  await visit(alice, '/account');
  await submit(alice, 'Unlink Corp SSO');
  assert.ok((await alertText(alice)).includes('this is your only way to log in'));
  // Dave has a password too: allowed.
  const dave = await freshPage();
  await login(dave, DAVE.email, DAVE.password);
  await visit(dave, '/account');
  await submit(dave, 'Unlink Corp SSO');
  assert.ok((await textOf(dave.locator('[role="status"]'))).includes('Your Corp SSO account is unlinked'));
  const methods = dave.locator('section', { has: dave.getByRole('heading', { name: 'Sign-in methods' }) });
  assert.ok((await textOf(methods)).includes('Not linked'));
});

step('the audit log lists the logins, refusals and links', async () => {
  current = adminPage;
  await visit(adminPage, '/admin/audit?action=login.failed');
  const failed = await textOf(adminPage.locator('table'));
  for (const why of ['signature is invalid', 'nonce does not match', 'has expired', 'another application', 'already used', 'already exists']) {
    assert.ok(failed.includes(why), `failed logins should include "${why}": ${failed}`);
  }
  await visit(adminPage, '/admin/audit?action=identity.');
  const links = await textOf(adminPage.locator('table'));
  assert.ok(links.includes('identity.link') && links.includes('identity.unlink'), links);
  assert.ok(links.includes('by verified email erin@corp.test'), links);
  await visit(adminPage, '/admin/audit?action=login');
  const logins = await textOf(adminPage.locator('table'));
  assert.ok(logins.includes('via Corp SSO') && logins.includes('with password'), logins);
  await adminPage.screenshot({ path: join(OUT, 'oidc-audit.png'), fullPage: true });
});

/** A `w`×`h` RGB PNG with a gradient, written to `file`. */
function writePng(file, w, h) {
  const chunk = (type, data) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < h; y++) {
    const row = Buffer.alloc(1 + 3 * w);
    for (let x = 0; x < w; x++) row.set([(x * 255) / w, (y * 255) / h, 160], 1 + 3 * x);
    rows.push(row);
  }
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  writeFileSync(file, png);
}

step('a signed-in person sets a profile picture; a wrong file is refused', async () => {
  const page = await freshPage();
  await ssoLogin(page, 'Corp SSO', 'alice');
  await visit(page, '/account');
  const good = join(OUT, 'oidc-avatar-upload.png');
  writePng(good, 320, 200);
  await page.setInputFiles('#avatar-file', good);
  await submit(page, 'Upload picture');
  assert.ok((await textOf(page.locator('[role="status"]'))).includes('Your picture is saved'));
  // The header shows it: our re-encoded 256-pixel square, not the 320×200 upload.
  const img = page.locator('header img.avatar');
  await img.waitFor();
  await page.waitForFunction(() => document.querySelector('header img.avatar')?.complete);
  assert.equal(await img.evaluate((i) => `${i.naturalWidth}x${i.naturalHeight}`), '256x256');
  const bad = join(OUT, 'oidc-avatar-not-an-image.png');
  writeFileSync(bad, '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
  await page.setInputFiles('#avatar-file', bad);
  await submit(page, 'Upload picture');
  assert.ok((await alertText(page)).includes('use a PNG, JPEG or WebP picture'));
  await page.locator('header img.avatar').waitFor();
});
