// The community library in the system Chromium, as four people: an author, another user, a
// trusted user and a moderator (plus the admin who hands out the roles).
//
// 1. The life cycle by clicking: the author submits through the form and sees it pending; the
//    other user cannot find it (not in the list, 404 at its address); the moderator rejects it
//    with a reason from the queue, the author sees the reason, the moderator approves; the
//    other user rates, comments, forks and flags it; the trusted user's submission is public
//    at once; at the flag threshold the prompt leaves the library and is back in the queue.
// 2. 300 XSS payloads in every user-written field (title, description, prompts, models,
//    example output, comments, flag and moderation reasons): every page that shows them (the
//    library, each prompt page, the moderator's queue, the author page, the playground) is
//    checked in the DOM for injected elements, event-handler attributes and script URLs, and
//    no dialog may open.
//
// Run after `cargo build`:  node --test tests/browser/

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
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
} from './harness.mjs';

const PASSWORD = 'community-password-1234';
const PEOPLE = {
  admin: { email: 'admin@example.com', name: 'Ada Admin' },
  author: { email: 'author@example.com', name: 'Ann Author' },
  other: { email: 'other@example.com', name: 'Otto Other' },
  trusted: { email: 'trusted@example.com', name: 'Tess Trusted' },
  moderator: { email: 'mod@example.com', name: 'Max Moderator' },
};

let server;
let browser;
const b = {}; // name -> { context, page }
let failed = false;
let promptPath = null;
const dialogs = [];

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
      for (const [who, { page }] of Object.entries(b)) {
        const file = join(OUT, `failure-community-${who}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        t.diagnostic(`${who} was at ${page.url()}, screenshot ${file}`);
      }
      throw err;
    }
  });
}

async function person(who) {
  const context = await browser.newContext({
    baseURL: server.base,
    // API calls from the page's request context carry the site's origin, as the page would.
    extraHTTPHeaders: { origin: server.base },
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  page.on('dialog', async (d) => {
    dialogs.push(`${who}: ${d.type()} ${d.message()} at ${page.url()}`);
    await d.dismiss();
  });
  b[who] = { context, page };
  return b[who];
}

/** A JSON API call in `who`'s session. */
async function api(who, method, url, data) {
  const res = await b[who].context.request.fetch(url, { method, data });
  const body = await res.json().catch(() => null);
  return { status: res.status(), body };
}

before(async () => {
  mkdirSync(OUT, { recursive: true });
  server = await startServer({
    PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_ACCOUNT: '100',
    PROMPTYARD_AUTH__LOGIN_ATTEMPTS_PER_IP: '100',
    PROMPTYARD_COMMUNITY__FLAG_THRESHOLD: '2',
    PROMPTYARD_COMMUNITY__SUBMISSIONS_PER_DAY: '1000',
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (failed && server) {
    process.stderr.write(`\n----- promptyard server output -----\n${server.log.join('')}\n-----\n`);
  }
  await stopServer(server);
});

step('the admin sets up, creates the people and gives out the community roles', async () => {
  const { page } = await person('admin');
  await visit(page, '/setup');
  await page.getByLabel('Email', { exact: true }).fill(PEOPLE.admin.email);
  await page.getByLabel('Name', { exact: true }).fill(PEOPLE.admin.name);
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await submit(page, 'Create admin account');
  for (const who of ['author', 'other', 'trusted', 'moderator']) {
    await visit(page, '/admin/users');
    const form = page.locator('form[action="/admin/users"]');
    await form.getByLabel('Email', { exact: true }).fill(PEOPLE[who].email);
    await form.getByLabel('Name', { exact: true }).fill(PEOPLE[who].name);
    await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await submit(page, 'Create user');
  }
  for (const who of ['author', 'other', 'trusted', 'moderator']) {
    const { page: p } = await person(who);
    await login(p, PEOPLE[who].email, PASSWORD);
  }
  // Roles on the author pages: the admin finds each person through their page.
  for (const [who, box] of [['moderator', 'Moderator'], ['trusted', 'Trusted']]) {
    const { body } = await api(who, 'GET', '/api/me');
    await visit(page, `/community/authors/${body.user.id}`);
    await page.getByLabel(new RegExp(`^${box}:`)).check();
    await submit(page, 'Save roles');
    assert.match(await textOf(page.getByRole('status')), /Saved the community roles/);
    assert.match(await textOf(page.locator('.meta')), new RegExp(who === 'moderator' ? 'moderator' : 'trusted'));
  }
});

step('the author submits through the form; it is pending and invisible to others', async () => {
  const { page } = b.author;
  await visit(page, '/community');
  await page.getByRole('link', { name: 'Submit a prompt' }).click();
  await page.getByLabel('Title', { exact: true }).fill('Explain a SQL query');
  await page.getByLabel('Description', { exact: true }).fill('Walks through a query clause by clause.');
  await page.getByLabel('Tags (comma-separated)').fill('sql, learning');
  await page.getByLabel('Prompt, with {{variables}}').fill('Explain this SQL query step by step:\n\n{{query}}');
  await page.getByLabel('Suggested models (comma-separated)').fill('gpt-4o-mini');
  await page.getByLabel('Output', { exact: true }).fill('1. **FROM** picks the table.\n2. **WHERE** filters rows.');
  await submit(page, 'Submit for review');
  promptPath = path(page);
  assert.match(promptPath, /^\/community\/p\//);
  assert.match(await textOf(page.getByRole('status')), /moderator will review it/);
  assert.match(await textOf(page.locator('h1')), /pending/);
  assert.equal(await page.locator('.markdown strong').first().textContent(), 'FROM');
  await page.screenshot({ path: join(OUT, 'community-pending.png'), fullPage: true });

  const other = b.other.page;
  await visit(other, '/community');
  assert.equal(await other.getByRole('link', { name: 'Explain a SQL query' }).count(), 0);
  const res = await visit(other, promptPath);
  assert.equal(res.status(), 404, 'a pending prompt does not exist for other users');
  const { status } = await api('other', 'GET', `/api${promptPath.replace('/community/p/', '/community/prompts/')}`);
  assert.equal(status, 404);
});

step('the moderator rejects it from the queue with a reason; the author sees why; then approves', async () => {
  const { page } = b.moderator;
  // The library says a submission waits, and where.
  await visit(page, '/community');
  assert.match(await textOf(page.locator('#moderation-count')), /^1 waiting$/);
  // The header says so on every page, for moderators only.
  await visit(page, '/account');
  assert.match(await textOf(page.locator('#nav-moderation-count')), /^1 waiting for moderation$/);
  await visit(b.other.page, '/account');
  assert.equal(await b.other.page.locator('#nav-moderation-count').count(), 0, 'not shown to a non-moderator');
  await visit(page, '/community/queue');
  assert.match(await textOf(page.locator('h1')), /Moderation queue/);
  await page.getByRole('link', { name: 'Explain a SQL query' }).click();
  await submit(page, 'Reject');
  assert.match(await textOf(page.getByRole('alert')), /give a reason/);
  await page.getByLabel(/^Reason/).fill('Please add an example query.');
  await submit(page, 'Reject');
  assert.match(await textOf(page.locator('h1')), /rejected/);

  const author = b.author.page;
  await visit(author, promptPath);
  assert.match(await textOf(author.locator('.flash')), /Please add an example query/);
  assert.match(await textOf(author.locator('#hist-h + ol')), /rejected/);

  await visit(page, promptPath);
  await submit(page, 'Approve');
  assert.match(await textOf(page.getByRole('status')), /Approved: now public\./);
  await visit(page, '/community');
  assert.equal(await page.locator('#moderation-count').count(), 0, 'nothing waits any more');
  assert.equal(await page.locator('#nav-moderation-count').count(), 0, 'the header count is gone too');
  await visit(page, promptPath);
  await page.screenshot({ path: join(OUT, 'community-moderated.png'), fullPage: true });
});

step('another user finds it, rates it, comments, forks it and runs it in the playground', async () => {
  const { page } = b.other;
  await visit(page, '/community?tag=sql');
  await page.getByRole('link', { name: 'Explain a SQL query' }).click();
  await page.getByLabel('4★').check();
  await submit(page, 'Rate');
  assert.match(await textOf(page.locator('.rating')), /4\.0/);
  await page.getByLabel('Add a comment (Markdown)').fill('Works **well** with <b>joins</b>.');
  await submit(page, 'Comment');
  const comment = page.locator('article.comment').first();
  assert.equal(await comment.locator('strong').textContent(), 'well');
  assert.match(await comment.textContent(), /<b>joins<\/b>/, 'raw HTML is shown as text');
  await submit(page, 'Fork as a template');
  assert.match(path(page), /^\/templates\//);
  assert.match(await textOf(page.getByRole('status')), /Forked into a new template/);
  await visit(page, promptPath);
  await page.getByRole('link', { name: 'Run in playground' }).click();
  assert.match(path(page), /\/playground$/);
  assert.equal(await page.locator('#user_prompt').inputValue(), 'Explain this SQL query step by step:\n\n{{query}}');
  await visit(page, promptPath);
  assert.match(await textOf(page.locator('.meta').first()), /used once/);
  await page.screenshot({ path: join(OUT, 'community-prompt.png'), fullPage: true });
});

step('the author cannot rate their own prompt; the trusted user publishes at once', async () => {
  const author = b.author.page;
  await visit(author, promptPath);
  assert.equal(await author.getByRole('button', { name: 'Rate' }).count(), 0);
  const { page } = b.trusted;
  await visit(page, '/community/new');
  await page.getByLabel('Title', { exact: true }).fill('Summarise release notes');
  await page.getByLabel('Prompt, with {{variables}}').fill('Summarise: {{notes}}');
  await submit(page, 'Submit for review');
  assert.match(await textOf(page.getByRole('status')), /Published/);
  await visit(b.other.page, '/community?sort=new');
  assert.equal(await b.other.page.getByRole('link', { name: 'Summarise release notes' }).count(), 1);
});

step('two flags hide the prompt until a moderator reviews it', async () => {
  for (const who of ['other', 'trusted']) {
    const { page } = b[who];
    await visit(page, promptPath);
    await page.locator('summary', { hasText: 'Report this prompt' }).click();
    await page.getByLabel('What is wrong with it?').fill(`Flagged by ${who}`);
    await submit(page, 'Flag for review');
  }
  assert.equal(path(b.trusted.page), '/community');
  assert.match(await textOf(b.trusted.page.getByRole('status')), /hidden until a moderator/);
  assert.equal(await b.trusted.page.getByRole('link', { name: 'Explain a SQL query' }).count(), 0);
  const { page } = b.moderator;
  await visit(page, '/community/queue');
  const card = page.locator('li.card', { hasText: 'Explain a SQL query' });
  assert.match(await card.textContent(), /flagged/);
  assert.match(await card.textContent(), /Flagged by other/);
  await page.screenshot({ path: join(OUT, 'community-queue.png'), fullPage: true });
  const authorPage = b.author.page;
  const { body } = await api('author', 'GET', '/api/me');
  await visit(authorPage, `/community/authors/${body.user.id}`);
  // +10 approved, -5 rejected, +1 for four stars, +2 for the fork.
  assert.equal(await authorPage.locator('#reputation').textContent(), '8');
});

// ----- XSS -----

const VECTORS = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<svg onload=alert(1)>',
  '<svg><script>alert(1)</script></svg>',
  '<iframe src="javascript:alert(1)"></iframe>',
  '<iframe srcdoc="<script>alert(1)</script>">',
  '<body onload=alert(1)>',
  '<input autofocus onfocus=alert(1)>',
  '<details open ontoggle=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '[x](javascript:alert(1))',
  '![x](javascript:alert(1))',
  '[x](data:text/html,<script>alert(1)</script>)',
  '<object data="javascript:alert(1)">',
  '<embed src="javascript:alert(1)">',
  '<math><mtext><script>alert(1)</script></mtext></math>',
  '<video><source onerror=alert(1)></video>',
  '<audio src=x onerror=alert(1)>',
  '<marquee onstart=alert(1)>',
  '<form action="javascript:alert(1)"><button>x</button></form>',
  '<style>@import "javascript:alert(1)"</style>',
  '<link rel=import href="data:text/html,<script>alert(1)</script>">',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<base href="javascript:alert(1)//">',
  '<div style="background:url(javascript:alert(1))">',
  '<scr<script>ipt>alert(1)</script>',
  '<img src=x onerror=&#97;&#108;&#101;&#114;&#116;(1)>',
  '<a href="jav&#x09;ascript:alert(1)">x</a>',
  '<template><img src=x onerror=alert(1)></template>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
];
const WRAPPERS = [
  (v) => v,
  (v) => `"${v}`,
  (v) => `'>${v}`,
  (v) => `</textarea>${v}`,
  (v) => `</title>${v}`,
  (v) => `--></script>${v}`,
  (v) => `\`${v}\``,
  (v) => `**${v}**`,
  (v) => `> ${v}`,
  (v) => `{{x}}${v}`,
];
const PAYLOADS = WRAPPERS.flatMap((w) => VECTORS.map((v) => w(v)));

/** Fails on anything a payload could have injected into the page's DOM. */
async function assertClean(page, where) {
  const found = await page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('*')) {
      for (const attr of el.getAttributeNames()) {
        if (attr.startsWith('on')) bad.push(`${el.tagName} ${attr}`);
        const value = el.getAttribute(attr) ?? '';
        if (/^\s*(javascript|data|vbscript):/i.test(value) && ['href', 'src', 'action', 'data', 'formaction', 'srcdoc'].includes(attr)) {
          bad.push(`${el.tagName} ${attr}=${value}`);
        }
      }
      if (['IFRAME', 'OBJECT', 'EMBED', 'SVG', 'MATH', 'BASE', 'VIDEO', 'AUDIO', 'MARQUEE', 'TEMPLATE', 'NOSCRIPT'].includes(el.tagName.toUpperCase())) {
        bad.push(el.tagName);
      }
      if (el.tagName === 'SCRIPT' && !(el.getAttribute('src') ?? '').startsWith('/assets/')) bad.push('inline SCRIPT');
      if (el.tagName === 'STYLE') bad.push('STYLE');
      if (el.tagName === 'META' && el.getAttribute('http-equiv')) bad.push('META refresh');
      if (el.tagName === 'LINK' && !(el.getAttribute('href') ?? '').startsWith('/assets/')) bad.push('LINK');
      // Markdown images survive only with http(s) sources (ammonia drops the rest of `src`).
      if (el.tagName === 'IMG' && el.hasAttribute('src') && !/^https?:/i.test(el.getAttribute('src'))) {
        bad.push(`IMG ${el.getAttribute('src')}`);
      }
    }
    return bad;
  });
  assert.deepEqual(found, [], `${where}: injected markup`);
  assert.deepEqual(dialogs, [], `${where}: a dialog opened`);
}

step('300 XSS payloads in every user-written field execute nowhere, the queue included', async () => {
  assert.equal(PAYLOADS.length, 300);
  // The check itself catches an injected handler.
  const probe = await b.other.context.newPage();
  await probe.setContent('<p><img src="x" onerror="void 0"></p>');
  await assert.rejects(assertClean(probe, 'probe'), /injected markup/);
  await probe.close();
  const ids = [];
  // Ten pending prompts carry all 300 payloads between their fields; the trusted user's copies
  // are published, so the library and author pages show them too.
  for (let i = 0; i < 10; i += 1) {
    const chunk = PAYLOADS.slice(i * 30, i * 30 + 30);
    const take = (n, k) => chunk.slice(n, n + k).join(' ');
    for (const who of ['author', 'trusted']) {
      const { status, body } = await api(who, 'POST', '/api/community/prompts', {
        title: chunk[0].slice(0, 120),
        description: take(1, 5),
        system_prompt: take(6, 6),
        prompt: take(12, 6),
        models: chunk.slice(18, 21).map((m) => m.slice(0, 200)),
        examples: [{ model: chunk[21].slice(0, 200), output: take(22, 8) }],
      });
      assert.equal(status, 201, JSON.stringify(body));
      ids.push([who, body.id]);
      // Comments, flag reasons and moderation reasons carry them as well.
      if (who === 'trusted') {
        for (const p of chunk) {
          const c = await api('other', 'POST', `/api/community/prompts/${body.id}/comments`, { body: p });
          assert.equal(c.status, 201);
        }
        const f = await api('other', 'POST', `/api/community/prompts/${body.id}/flags`, { reason: chunk[0] });
        assert.equal(f.status, 200);
      } else {
        const m = await api('moderator', 'POST', `/api/community/prompts/${body.id}/moderation`, { action: 'reject', reason: chunk[1] });
        assert.equal(m.status, 200, JSON.stringify(m.body));
      }
    }
  }
  // Rejected prompts go back to pending in the queue view by being re-submitted: one more
  // pending prompt with the first payloads keeps the queue non-empty.
  const pending = await api('author', 'POST', '/api/community/prompts', { title: PAYLOADS[1], description: PAYLOADS[2], prompt: PAYLOADS[3] });
  assert.equal(pending.status, 201);

  const mod = b.moderator.page;
  await visit(mod, '/community/queue');
  assert.ok((await mod.locator('li.card').count()) >= 1, 'the queue lists the payload prompts');
  await assertClean(mod, 'moderation queue');
  await mod.screenshot({ path: join(OUT, 'community-xss-queue.png'), fullPage: true });
  for (const [, id] of ids) {
    await visit(mod, `/community/p/${id}`);
    await assertClean(mod, `prompt page ${id} (moderator)`);
  }
  const other = b.other.page;
  for (const url of ['/community', '/community?sort=new', '/community?sort=used']) {
    await visit(other, url);
    await assertClean(other, url);
  }
  const { body: me } = await api('trusted', 'GET', '/api/me');
  await visit(other, `/community/authors/${me.user.id}`);
  await assertClean(other, 'author page');
  const { page: author } = b.author;
  await visit(author, '/community/queue');
  await assertClean(author, "the author's review page");
  await visit(author, `/community/p/${pending.body.id}`);
  await assertClean(author, 'pending prompt (author)');
  await author.getByRole('link', { name: 'Run in playground' }).click();
  await assertClean(author, 'playground with a payload prompt');
  await visit(other, `/community/p/${ids[1][1]}`);
  await other.screenshot({ path: join(OUT, 'community-xss-prompt.png'), fullPage: true });
  // The payloads are on the page, as text.
  assert.equal((await other.locator('h1').textContent()).trim(), PAYLOADS[0]);
  assert.ok((await other.locator('body').textContent()).includes('<svg onload=alert(1)>'));
  const shown = await other.locator('article.comment').count();
  assert.equal(shown, 30, 'every payload comment is shown (as text)');
});

step('search: results update as you type, show only what the searcher may see, and stay inert', async () => {
  const { page } = b.other;
  await visit(page, '/community');
  await page.getByLabel('Search the library').fill('release');
  await submit(page, 'Search');
  assert.equal(path(page), '/search');
  // The indexer follows the store within a fraction of a second.
  await page.waitForFunction(() => document.querySelector('#search-count')?.textContent.startsWith('1 '), null, { timeout: 10_000 }).catch(async () => {
    await page.reload();
  });
  await page.locator('#search-results li', { hasText: 'Summarise release notes' }).waitFor();
  // A marker on the window survives only if the page is never reloaded.
  await page.evaluate(() => { window.__noReload = true; });
  await page.locator('#search-q').fill('');
  await page.locator('#search-q').pressSequentially('explain', { delay: 30 });
  // "Explain a SQL query" is flagged (hidden) and the author's payload prompts are pending or
  // rejected: none of them may appear for this user.
  await page.waitForFunction(() => document.querySelector('#search-count')?.textContent === '0 results');
  assert.equal(await page.evaluate(() => window.__noReload), true, 'results came without reloading the page');
  await page.locator('#search-q').fill('"unclosed');
  await page.locator('#search-q').dispatchEvent('input');
  await page.locator('#search-error .flash').waitFor();
  assert.match(await page.locator('#search-error').textContent(), /quote is not closed/);
  await page.screenshot({ path: join(OUT, 'search-community.png'), fullPage: true });

  // The run history's filter controls.
  await visit(page, '/search?scope=history&q=&state=completed');
  assert.equal(await page.locator('#search-state').inputValue(), 'completed');
  await page.locator('#search-count').waitFor();
  await page.screenshot({ path: join(OUT, 'search-history.png'), fullPage: true });

  // The moderator searches the payload prompts: the page stays free of injected markup.
  const mod = b.moderator.page;
  await visit(mod, '/search?scope=community&q=alert');
  await mod.locator('#search-results li').first().waitFor();
  assert.ok((await mod.locator('#search-results li').count()) > 5);
  await assertClean(mod, 'search results (moderator)');
  await mod.locator('#search-q').fill('alert svg');
  await mod.locator('#search-q').dispatchEvent('input');
  await mod.waitForFunction(() => /^[1-9]\d* results/.test(document.querySelector('#search-count')?.textContent ?? '') && document.querySelector('#search-q').value === 'alert svg');
  await mod.waitForTimeout(300);
  assert.ok((await mod.locator('#search-results li').count()) > 0);
  await assertClean(mod, 'search results after typing');
  await mod.screenshot({ path: join(OUT, 'search-xss.png'), fullPage: true });
});
