// End-to-end test of the local-first context builder in the system Chromium: a fixture folder is
// chosen through the directory input; the tree applies nested .gitignore rules (with negation)
// and the default ignore list, skips a binary file, flags a planted fake AWS key and a .env file
// and leaves them out; counts match the server's; nothing about the folder leaves the browser
// before Run (every request and WebSocket frame is checked); after Run the provider received the
// context, the run page shows the manifest with the right SHA-256s, a reload keeps the
// selection, "run again with the same context" names the changed file, and "forget" clears it.
//
// Run after `cargo build`:  node --test tests/browser/

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, OUT, eventually, path, startServer, stepsFor, stopServer, submit, textOf, visit } from './harness.mjs';

const ADMIN = { email: 'cora@example.com', name: 'Cora Context', password: 'context-password-1234' };
const AWS_KEY = 'AKIAQWERTYUIOPASDFGH';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzKEYFAKE0';

// Texts whose token counts the browser and the server must agree on.
const TEXTS = {
  'src/main.rs': 'fn main() {\n    let greeting = "hello, context";\n    println!("{greeting} {}", 40 + 2);\n}\n',
  'src/unicode.txt': 'Ça va? Größe, naïve café — 東京都の天気は晴れです。 Привет мир! مرحبا بالعالم ไทย 한국어\n',
  'src/emoji.md': '# Emoji\n👩‍👩‍👧‍👦 family, 👍🏽 thumbs, 🇫🇷🇯🇵 flags, 🧑‍💻 coder, ❤️‍🔥 and plain ☕.\n',
  'special.txt': 'Special tokens as text: <|endoftext|> <|im_start|>user<|im_end|> <|fim_prefix|>\n',
  'long.txt': Array.from({ length: 12_000 }, (_, i) => ['alpha', 'βeta', '42', 'x_y', '🙂', 'naïve'][i % 6]).join(' '),
  'important.log': 'kept by a negated rule\n',
};

let fixture; // the folder the user picks
let folderName;
let fake; // { server, port, requests }
let server;
let browser;
let context;
let page;
let runId;
/** Everything the page sent: URLs, bodies and WebSocket frames, with the time. */
const sent = [];
const consoleProblems = [];

function makeFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'promptyard-fixture-'));
  const root = join(dir, 'acme-service');
  const put = (rel, content) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  };
  for (const [rel, text] of Object.entries(TEXTS)) put(rel, text);
  put('.gitignore', '# build output and logs\n*.log\n!important.log\nbuild/\n');
  put('src/.gitignore', 'generated.rs\n');
  put('src/generated.rs', '// generated, ignored by the nested .gitignore\n');
  put('debug.log', 'ignored by *.log\n');
  put('build/out.js', 'ignored by build/\n');
  put('node_modules/left-pad/index.js', 'module.exports = 1;\n');
  put('Cargo.lock', '# lock file, ignored by default\n');
  put('config/aws.txt', `[default]\naws_access_key_id = ${AWS_KEY}\naws_secret_access_key = ${AWS_SECRET}\n`);
  put('.env', 'DATABASE_URL=postgres://app:hunter2@db/app\n');
  put('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 1, 2, 3]));
  return root;
}

async function startFake() {
  const requests = [];
  const srv = createServer(async (req, res) => {
    const parts = [];
    for await (const part of req) parts.push(part);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8') || '{}');
    requests.push(body);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunk = (delta, finish = null) => ({ id: 'c', object: 'chat.completion.chunk', model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] });
    res.write(`data: ${JSON.stringify(chunk({ content: 'Looks fine.' }))}\n\n`);
    res.write(`data: ${JSON.stringify(chunk({}, 'stop'))}\n\n`);
    res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: body.model, choices: [], usage: { prompt_tokens: 50, completion_tokens: 2, total_tokens: 52 } })}\n\n`);
    res.end('data: [DONE]\n\n');
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  fake = { server: srv, port: srv.address().port, requests };
}

const sha256 = (rel) => createHash('sha256').update(readFileSync(join(fixture, rel))).digest('hex');
const row = (p) => page.locator(`#tree li.file[data-path="${p}"]`);
const shownPaths = () => page.locator('#tree li.file').evaluateAll((els) => els.map((e) => e.dataset.path).sort());

/** Builds the context and waits until the browser has saved it. */
async function build() {
  const before = Number((await page.locator('#context-builder').getAttribute('data-built')) ?? 0);
  await page.getByRole('button', { name: 'Build the context' }).click();
  await page.locator(`#context-builder[data-built="${before + 1}"]`).waitFor();
}

async function pickFolder() {
  await page.locator('#folder-input').setInputFiles(fixture);
  await eventually('the folder is read and counted', async () => /^16 files in acme-service, 5 of them ignored$/.test(await page.locator('#folder-status').textContent()), 20_000);
}

const run = { failed: false, page: () => page };
const step = stepsFor('context', run);

before(async () => {
  mkdirSync(OUT, { recursive: true });
  fixture = makeFixture();
  folderName = basename(fixture);
  await startFake();
  server = await startServer({
    PROMPTYARD_OUTBOUND__ALLOW_CIDRS: '127.0.0.1',
    PROMPTYARD_OUTBOUND__ALLOW_PORTS: String(fake.port),
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ baseURL: server.base, viewport: { width: 1280, height: 1000 } });
  context.setDefaultTimeout(10_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 422/.test(msg.text())) consoleProblems.push(`console error at ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => consoleProblems.push(`uncaught exception at ${page.url()}: ${err.message}`));
  context.on('request', (req) => sent.push({ at: Date.now(), what: `${req.method()} ${req.url()}`, body: req.postData() ?? '' }));
  page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push({ at: Date.now(), what: `ws ${ws.url()}`, body: String(f.payload) })));
});

after(async () => {
  await browser?.close().catch(() => {});
  if (run.failed && server) process.stderr.write(`\n----- server output -----\n${server.log.join('')}\n`);
  await stopServer(server);
  fake?.server.closeAllConnections?.();
  await new Promise((r) => (fake ? fake.server.close(r) : r()));
  if (fixture) rmSync(join(fixture, '..'), { recursive: true, force: true });
});

step('setup and a connection to a local model', async () => {
  await visit(page, '/');
  await page.getByLabel('Email', { exact: true }).fill(ADMIN.email);
  await page.getByLabel('Name', { exact: true }).fill(ADMIN.name);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await submit(page, 'Create admin account');
  await visit(page, '/admin/providers');
  const form = page.locator('form').filter({ has: page.locator('#new-name') });
  await page.locator('#new-name').fill('Local');
  await form.locator('select[name=kind]').selectOption('openai-compatible');
  await page.locator('#new-url').fill(`http://127.0.0.1:${fake.port}/v1`);
  await page.locator('#new-models').fill('local-coder');
  await submit(page, 'Add connection', form);
});

let sentBeforePick;
step('the tree applies the ignore rules and flags binaries and credentials', async () => {
  await visit(page, '/context');
  await page.getByRole('heading', { name: 'Context builder' }).waitFor();
  await page.locator('#context-builder[data-ready=true]').waitFor();
  sentBeforePick = sent.length;
  await pickFolder();
  assert.equal(await page.locator('#folder-name').textContent(), 'acme-service');
  assert.deepEqual(await shownPaths(), [
    '.env', '.gitignore', 'config/aws.txt', 'important.log', 'logo.png', 'long.txt', 'special.txt',
    'src/.gitignore', 'src/emoji.md', 'src/main.rs', 'src/unicode.txt',
  ]);
  // Binary: listed, skipped, cannot be chosen.
  assert.match(await textOf(row('logo.png')), /binary, skipped/);
  assert.equal(await row('logo.png').locator('input').isDisabled(), true);
  // Credentials: flagged with what and where, and not selected.
  assert.match(await textOf(row('config/aws.txt')), /AWS access key id, line 2/);
  assert.match(await textOf(row('.env')), /environment file/);
  assert.equal(await row('config/aws.txt').locator('input').isChecked(), false);
  assert.equal(await row('.env').locator('input').isChecked(), false);
  assert.equal(await row('src/main.rs').locator('input').isChecked(), true);
  // Showing ignored files lists them, marked.
  await page.getByLabel('Show ignored files').check();
  for (const p of ['debug.log', 'build/out.js', 'node_modules/left-pad/index.js', 'Cargo.lock', 'src/generated.rs']) {
    assert.match(await textOf(row(p)), /ignored/, p);
  }
  await page.getByLabel('Show ignored files').uncheck();
  assert.equal(await row('debug.log').count(), 0);
  await page.screenshot({ path: join(OUT, 'context-tree.png'), fullPage: true });
});

step('the total follows the selection', async () => {
  const tokens = async (p) => Number(await row(p).locator('.tokens').getAttribute('data-tokens'));
  const total = async () => Number(await page.locator('#totals').getAttribute('data-tokens'));
  const before = await total();
  assert.ok(before > 0);
  const long = await tokens('long.txt');
  await row('long.txt').locator('input').uncheck();
  assert.equal(await total(), before - long);
  assert.match(await textOf(page.locator('#totals')), /files selected/);
});

step('the built context holds the selected files and no credential', async () => {
  await build();
  const out = await page.locator('#output').inputValue();
  assert.match(out, /^<tree>\nacme-service\//);
  assert.ok(out.includes(`<file path="src/main.rs">\n${TEXTS['src/main.rs']}</file>`));
  assert.ok(!out.includes(AWS_KEY) && !out.includes('hunter2'), 'a credential got into the context');
  assert.ok(!out.includes('<file path="long.txt">'), 'an unselected file got into the context');
  assert.match(await textOf(page.locator('#output-total')), /Context: 7 files, [\d,]+ tokens of gpt-4o's 128,000-token window/);
});

step('Markdown output fences each file by its language', async () => {
  await page.locator('#format').selectOption('markdown');
  await build();
  await eventually('the Markdown context is built', async () => (await page.locator('#output').inputValue()).startsWith('```\nacme-service/'));
  const out = await page.locator('#output').inputValue();
  assert.ok(out.includes(`## src/main.rs\n\n\`\`\`rust\n${TEXTS['src/main.rs']}\`\`\`\n`), out.slice(0, 400));
  await page.locator('#format').selectOption('xml');
  await build();
  await eventually('the XML context is built again', async () => (await page.locator('#output').inputValue()).startsWith('<tree>'));
});

step('a flagged file goes in only when the user says so', async () => {
  const box = row('.env').locator('input');
  page.once('dialog', (d) => d.dismiss());
  await box.check({ force: true }).catch(() => {});
  assert.equal(await box.isChecked(), false, 'dismissing keeps it out');
  page.once('dialog', (d) => {
    assert.match(d.message(), /\.env looks like it holds a credential: environment file/);
    d.accept();
  });
  await box.check();
  assert.equal(await box.isChecked(), true);
  await box.uncheck();
  await eventually('the browser saved the selection without .env', async () => {
    const selected = await page.evaluate(async () => (await (await import(document.querySelector('#context-builder').dataset.worker.replace('worker.js', 'store.js'))).loadFolder('acme-service')).selected);
    return selected.length === 7 && !selected.includes('.env');
  });
});

step('nothing about the folder left the browser before Run', async () => {
  const needles = [folderName, 'main.rs', 'unicode.txt', 'aws.txt', AWS_KEY, 'greeting', '東京都', 'generated.rs'];
  const after = sent.slice(sentBeforePick);
  assert.ok(after.length > 0, 'the worker loaded its modules');
  for (const s of after) {
    for (const n of needles) assert.ok(!s.what.includes(n) && !s.body.includes(n), `"${n}" left the browser in ${s.what}`);
  }
});

step('a reload keeps the folder, the selection and the built context', async () => {
  await page.reload();
  await page.locator('#context-builder[data-ready=true]').waitFor();
  assert.match(await textOf(page.locator('#remembered-text')), /acme-service: 7 files selected/);
  assert.ok((await page.locator('#output').inputValue()).includes('<file path="src/main.rs">'));
  await pickFolder();
  assert.equal(await row('long.txt').locator('input').isChecked(), false, 'the unchecked file stays unchecked');
  assert.equal(await row('src/main.rs').locator('input').isChecked(), true);
});

step('Run sends the context; the run keeps its manifest', async () => {
  await page.getByRole('link', { name: 'Use it in the playground' }).click();
  await page.locator('#playground').waitFor();
  await eventually('the context panel offers the context', async () => /acme-service: 7 files/.test(await page.locator('#context-status').textContent()));
  await page.locator('#playground input[name=model][value=local-coder]').check();
  await page.locator('#user_prompt').fill('Review this code:\n{{context}}');
  const sentBeforeRun = sent.length;
  await page.getByRole('button', { name: 'Run', exact: true }).click();
  const col = page.locator('#columns section.column');
  await eventually('the run finishes', async () => (await col.getAttribute('data-state')) === 'completed', 15_000);
  runId = await col.getAttribute('data-run');
  const prompt = fake.requests.at(-1).messages.at(-1).content;
  assert.ok(prompt.startsWith('Review this code:\n<tree>'), prompt.slice(0, 80));
  assert.ok(prompt.includes(TEXTS['src/emoji.md']));
  assert.ok(!prompt.includes(AWS_KEY));
  assert.ok(sent.slice(sentBeforeRun).some((s) => s.body.includes('main.rs')), 'the context went with the run');

  const runPage = `${path(page).replace(/playground$/, '')}runs/${runId}`;
  // The recorder writes the run just after it finishes.
  await eventually('the run is recorded', async () => (await context.request.get(runPage)).status() === 200);
  await visit(page, runPage);
  const manifest = page.locator('#context-manifest');
  await manifest.waitFor();
  for (const p of ['src/main.rs', 'src/unicode.txt', 'special.txt']) {
    assert.equal(await manifest.locator(`tr[data-path="${p}"] code[title]`).getAttribute('title'), sha256(p), p);
  }
  assert.equal(await manifest.locator('tr[data-path="config/aws.txt"]').count(), 0);
  await page.screenshot({ path: join(OUT, 'context-run.png'), fullPage: true });
});

step('the browser counts what the server counts', async () => {
  await visit(page, '/context');
  await page.locator('#context-builder[data-ready=true]').waitFor();
  await pickFolder();
  for (const encoding of ['o200k_base', 'cl100k_base']) {
    if (encoding === 'cl100k_base') {
      await page.locator('#model').selectOption('gpt-4');
      await eventually('recounted', async () => /^16 files in acme-service, 5 of them ignored$/.test(await page.locator('#folder-status').textContent()), 20_000);
    }
    for (const [p, text] of Object.entries(TEXTS)) {
      const browserCount = Number(await row(p).locator('.tokens').getAttribute('data-tokens'));
      const res = await context.request.post('/api/tokens/count', { data: { text, encoding } });
      assert.equal(res.status(), 200);
      const server = (await res.json()).tokens;
      assert.equal(browserCount, server, `${encoding} ${p}: browser ${browserCount}, server ${server}`);
    }
  }
  await page.locator('#model').selectOption('gpt-4o');
});

step('run again with the same context names the changed file', async () => {
  writeFileSync(join(fixture, 'src/main.rs'), TEXTS['src/main.rs'] + '// changed after the run\n');
  await visit(page, path(page) === '/context' ? `/w/${await wsOfRun()}/runs/${runId}/context` : '/');
  await page.locator('#context-builder[data-ready=true]').waitFor();
  await pickFolder();
  assert.match(await textOf(page.locator('#again-status')), /Changed since the run: src\/main\.rs\./);
  assert.match(await textOf(row('src/main.rs')), /changed since the run/);
});

step('a large tree is counted in the worker with progress', async () => {
  const big = join(fixture, '..', 'big-tree');
  for (let d = 0; d < 30; d++) {
    mkdirSync(join(big, `pkg${d}`), { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(big, `pkg${d}`, `m${f}.js`), `export const v${f} = ${JSON.stringify('lorem ipsum '.repeat(300))};\n`);
  }
  await visit(page, '/context');
  await page.locator('#context-builder[data-ready=true]').waitFor();
  // Every status line the page shows while it counts.
  await page.evaluate(() => {
    window.statusLines = [];
    new MutationObserver(() => window.statusLines.push(document.getElementById('folder-status').textContent)).observe(document.getElementById('folder-status'), { childList: true, characterData: true, subtree: true });
  });
  await page.locator('#folder-input').setInputFiles(big);
  await eventually('the big tree is counted', async () => /^1,500 files in big-tree$/.test(await page.locator('#folder-status').textContent()), 60_000);
  const lines = await page.evaluate(() => window.statusLines);
  const partial = lines.filter((l) => /^Counting: [\d,]+ of 1,500 files$/.test(l) && !l.startsWith('Counting: 1,500 '));
  assert.ok(partial.length > 10, `the page showed progress while counting: ${lines.slice(0, 5)}`);
  assert.equal(Number(await page.locator('#totals').getAttribute('data-tokens')) > 0, true);
  await page.getByRole('button', { name: 'Forget this folder' }).click();
  await eventually('forgotten', async () => /Forgotten/.test(await page.locator('#folder-status').textContent()));
});

step('forget this folder clears what the browser kept', async () => {
  await visit(page, `/w/${await wsOfRun()}/runs/${runId}/context`);
  await page.locator('#context-builder[data-ready=true]').waitFor();
  await pickFolder();
  await page.getByRole('button', { name: 'Forget this folder' }).click();
  await eventually('the page says it forgot', async () => /Forgotten/.test(await page.locator('#folder-status').textContent()));
  await visit(page, '/context');
  await page.locator('#context-builder[data-ready=true]').waitFor();
  assert.equal(await page.locator('#remembered').isHidden(), true);
  assert.equal(await page.locator('#output').inputValue(), '');
  assert.deepEqual(consoleProblems, []);
});

async function wsOfRun() {
  const res = await context.request.get('/');
  const html = await res.text();
  return html.match(/\/w\/([0-9a-f-]{36})\/playground/)[1];
}
