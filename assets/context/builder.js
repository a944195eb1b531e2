// The context builder: the user picks a local folder; its files are listed, filtered by the
// .gitignore rules and a default ignore list, read and counted in a worker, scanned for
// credentials, and assembled into one context (XML or Markdown) that the playground sends as
// `{{context}}` when the user runs. Nothing about the folder leaves this page before that: not
// names, not sizes, not contents. Selection, settings and the last built context are kept per
// folder in IndexedDB.

import { DEFAULT_IGNORES, decide, parse } from './gitignore.js';
import * as store from './store.js';

const root = document.getElementById('context-builder');
const $ = (id) => document.getElementById(id);
const LARGE = 256 * 1024;

const state = {
  folder: null, // the folder's name
  handle: null, // a FileSystemDirectoryHandle, when the browser has one
  files: new Map(), // path -> { file, size, ignored, tokens, binary, large, sha256, secrets, text, counted }
  dirs: new Set(),
  selected: new Set(),
  included: new Set(), // files with findings the user included explicitly
  again: null, // a run's manifest to compare against ("run again with the same context")
};

const worker = new Worker(root.dataset.worker, { type: 'module' });
let job = 0;

const settings = () => ({
  model: $('model').value,
  format: $('format').value,
  treeHeader: $('tree-header').checked,
  showIgnored: $('show-ignored').checked,
});
const encodingOf = () => $('model').selectedOptions[0]?.dataset.encoding ?? 'o200k_base';
const windowOf = () => Number($('model').selectedOptions[0]?.dataset.window || 0);

const kib = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const fmt = (n) => n.toLocaleString('en');

// ---------------------------------------------------------------- reading the folder

// From a directory input or a drop of a folder: { path, file } with the root folder's name cut.
function fromFileList(list) {
  const out = [];
  for (const file of list) {
    const rel = file.webkitRelativePath || file.name;
    const cut = rel.indexOf('/');
    out.push({ root: cut > 0 ? rel.slice(0, cut) : '', path: cut > 0 ? rel.slice(cut + 1) : rel, file });
  }
  return out;
}

// From a FileSystemDirectoryHandle, not descending into ignored folders.
async function fromHandle(handle) {
  const out = [];
  const ruleSets = [parse(DEFAULT_IGNORES)];
  async function walk(dir, prefix, sets) {
    const entries = [];
    for await (const entry of dir.values()) entries.push(entry);
    let local = sets;
    const gi = entries.find((e) => e.kind === 'file' && e.name === '.gitignore');
    if (gi) local = [...sets, parse(await (await gi.getFile()).text(), prefix.replace(/\/$/, ''))];
    for (const entry of entries) {
      const path = prefix + entry.name;
      if (entry.kind === 'directory') {
        if (decide(local, path, true) && !$('show-ignored').checked) {
          state.dirs.add(path);
          continue;
        }
        await walk(entry, path + '/', local);
      } else {
        out.push({ root: handle.name, path, file: await entry.getFile() });
      }
    }
  }
  await walk(handle, '', ruleSets);
  return out;
}

// From a drop: directory entries walked through the (older) entries API.
async function fromDrop(items) {
  const out = [];
  const readAll = (reader) =>
    new Promise((resolve, reject) => {
      const all = [];
      const next = () =>
        reader.readEntries((batch) => {
          if (batch.length === 0) resolve(all);
          else {
            all.push(...batch);
            next();
          }
        }, reject);
      next();
    });
  async function walk(entry, prefix, rootName) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      out.push({ root: rootName, path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      for (const child of await readAll(entry.createReader())) await walk(child, prefix + entry.name + '/', rootName);
    }
  }
  for (const item of items) {
    const entry = item.webkitGetAsEntry?.();
    if (!entry) continue;
    if (entry.isDirectory) {
      for (const child of await readAll(entry.createReader())) await walk(child, '', entry.name);
    } else await walk(entry, '', entry.name);
  }
  return out;
}

// Which files the ignore rules leave out: the folder's .gitignore files (each below its own
// directory) after the default list, and everything inside an ignored folder.
async function applyIgnores(list) {
  const sets = [{ base: '', rules: parse(DEFAULT_IGNORES) }];
  for (const { path, file } of list) {
    if (path === '.gitignore' || path.endsWith('/.gitignore')) {
      const base = path.slice(0, Math.max(0, path.length - '/.gitignore'.length));
      sets.push({ base: path === '.gitignore' ? '' : base, rules: parse(await file.text(), path === '.gitignore' ? '' : base) });
    }
  }
  sets.sort((a, b) => a.base.split('/').length - b.base.split('/').length || a.base.length - b.base.length);
  const ruleSets = sets.map((s) => s.rules);
  const dirVerdict = new Map();
  const dirIgnored = (dir) => {
    if (!dir) return false;
    if (!dirVerdict.has(dir)) {
      const parent = dir.includes('/') ? dir.slice(0, dir.lastIndexOf('/')) : '';
      dirVerdict.set(dir, dirIgnored(parent) || decide(ruleSets, dir, true) === true);
    }
    return dirVerdict.get(dir);
  };
  for (const entry of list) {
    const dir = entry.path.includes('/') ? entry.path.slice(0, entry.path.lastIndexOf('/')) : '';
    entry.ignored = dirIgnored(dir) || decide(ruleSets, entry.path, false) === true;
  }
  return list;
}

async function load(list, handle = null) {
  if (list.length === 0) {
    $('folder-status').textContent = 'That folder has no files.';
    return;
  }
  state.folder = list[0].root || 'folder';
  state.handle = handle;
  state.files = new Map();
  state.dirs = new Set();
  await applyIgnores(list);
  for (const { path, file, ignored } of list) {
    state.files.set(path, { file, size: file.size, ignored, tokens: null, binary: false, large: file.size > LARGE, sha256: null, secrets: [], text: null, counted: false });
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) state.dirs.add(parts.slice(0, i).join('/'));
  }
  const saved = await store.loadFolder(state.folder);
  if (saved?.settings) restoreSettings(saved.settings);
  state.included = new Set(saved?.included ?? []);
  state.selected = saved?.selected ? new Set(saved.selected.filter((p) => state.files.has(p))) : null;
  await store.setActiveFolder(state.folder);
  $('folder-name').textContent = state.folder;
  await count([...state.files].filter(([, f]) => !f.ignored).map(([p]) => p));
  if (state.selected === null) {
    // First time: every readable text file that is not ignored, large or holding a credential.
    state.selected = new Set([...state.files].filter(([, f]) => selectable(f) && !f.large && f.secrets.length === 0).map(([p]) => p));
  }
  if (state.again) compareWithRun();
  render();
  persist();
}

function selectable(f) {
  return !f.ignored && !f.binary && f.tokens !== null;
}

// Reads and counts `paths` in the worker, with progress.
function count(paths) {
  const id = ++job;
  const progress = $('progress');
  progress.hidden = false;
  progress.max = paths.length || 1;
  progress.value = 0;
  $('folder-status').textContent = `Counting ${fmt(paths.length)} files…`;
  return new Promise((resolve) => {
    const onMessage = (event) => {
      const m = event.data;
      if (m.job !== id) return;
      if (m.type === 'file') {
        const f = state.files.get(m.path);
        Object.assign(f, { tokens: m.tokens, binary: m.binary, sha256: m.sha256, secrets: m.secrets, text: m.text, counted: true });
      } else if (m.type === 'progress') {
        progress.value = m.done;
        $('folder-status').textContent = `Counting: ${fmt(m.done)} of ${fmt(m.total)} files`;
      } else if (m.type === 'done' || m.type === 'error') {
        worker.removeEventListener('message', onMessage);
        progress.hidden = true;
        const ignored = [...state.files.values()].filter((f) => f.ignored).length;
        $('folder-status').textContent = m.type === 'error'
          ? `Could not read the folder: ${m.message}`
          : `${fmt(state.files.size)} files in ${state.folder}` + (ignored ? `, ${fmt(ignored)} of them ignored` : '');
        resolve();
      }
    };
    worker.addEventListener('message', onMessage);
    worker.postMessage({ type: 'read', job: id, encoding: encodingOf(), files: paths.map((path) => ({ path, file: state.files.get(path).file })) });
  });
}

// Counts one text exactly (the built context).
function countText(text) {
  const id = `t${++job}`;
  return new Promise((resolve, reject) => {
    const onMessage = (event) => {
      if (event.data.id !== id) return;
      worker.removeEventListener('message', onMessage);
      if (event.data.type === 'error') reject(new Error(event.data.message));
      else resolve(event.data.tokens);
    };
    worker.addEventListener('message', onMessage);
    worker.postMessage({ type: 'count', id, encoding: encodingOf(), text });
  });
}

// ---------------------------------------------------------------- the tree

function render() {
  const tree = $('tree');
  tree.replaceChildren();
  const show = $('show-ignored').checked;
  const paths = [...state.files.keys()].filter((p) => show || !state.files.get(p).ignored).sort();
  const dirsShown = new Set();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!dirsShown.has(dir)) {
        dirsShown.add(dir);
        tree.append(dirRow(dir, i - 1));
      }
    }
    tree.append(fileRow(path, parts.length - 1));
  }
  updateTotals();
}

function dirRow(dir, depth) {
  const li = document.createElement('li');
  li.className = 'dir';
  li.dataset.dir = dir;
  li.style.setProperty('--depth', depth);
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.setAttribute('aria-label', `Select everything in ${dir}`);
  box.addEventListener('change', () => {
    for (const [p, f] of state.files) {
      if (p.startsWith(dir + '/') && selectable(f) && (f.secrets.length === 0 || state.included.has(p))) {
        if (box.checked) state.selected.add(p);
        else state.selected.delete(p);
      }
    }
    syncBoxes();
    persist();
  });
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = dir.split('/').pop() + '/';
  const tokens = document.createElement('span');
  tokens.className = 'tokens muted';
  li.append(box, name, tokens);
  return li;
}

function fileRow(path, depth) {
  const f = state.files.get(path);
  const li = document.createElement('li');
  li.className = 'file';
  li.dataset.path = path;
  li.style.setProperty('--depth', depth);
  const box = document.createElement('input');
  box.type = 'checkbox';
  box.id = `f-${path}`;
  box.disabled = f.binary || (f.tokens === null && !f.ignored);
  box.addEventListener('change', async () => {
    if (box.checked) {
      if (f.ignored && !f.counted) {
        await count([path]);
        render();
      }
      if (f.secrets.length > 0 && !state.included.has(path)) {
        const what = f.secrets.map((s) => (s.line ? `${s.kind} (line ${s.line})` : s.kind)).join(', ');
        if (!confirm(`${path} looks like it holds a credential: ${what}. Include it anyway?`)) {
          box.checked = false;
          return;
        }
        state.included.add(path);
      }
      state.selected.add(path);
    } else state.selected.delete(path);
    syncBoxes();
    persist();
  });
  const label = document.createElement('label');
  label.htmlFor = box.id;
  label.className = 'name';
  label.textContent = path.split('/').pop();
  const size = document.createElement('span');
  size.className = 'size muted';
  size.textContent = kib(f.size);
  const tokens = document.createElement('span');
  tokens.className = 'tokens';
  if (f.tokens !== null) {
    tokens.dataset.tokens = f.tokens;
    tokens.textContent = `${fmt(f.tokens)} tokens`;
  }
  const flags = document.createElement('span');
  flags.className = 'flags';
  const flag = (cls, text) => {
    const s = document.createElement('span');
    s.className = `badge ${cls}`;
    s.textContent = text;
    flags.append(s);
  };
  if (f.ignored) flag('flag-ignored', 'ignored');
  if (f.binary) flag('flag-binary', 'binary, skipped');
  if (f.large) flag('flag-large', 'large');
  if (f.size > 20 * 1024 * 1024) flag('flag-large', 'too large to read');
  for (const s of f.secrets) flag('flag-secret', s.line ? `${s.kind}, line ${s.line}` : s.kind);
  if (f.changed) flag('flag-changed', f.changed);
  if (f.secrets.length > 0) li.classList.add('secret');
  li.append(box, label, size, tokens, flags);
  return li;
}

function syncBoxes() {
  for (const li of $('tree').querySelectorAll('li.file')) li.querySelector('input').checked = state.selected.has(li.dataset.path);
  for (const li of $('tree').querySelectorAll('li.dir')) {
    const dir = li.dataset.dir;
    let sum = 0;
    let any = false;
    let all = true;
    for (const [p, f] of state.files) {
      if (!p.startsWith(dir + '/') || !selectable(f)) continue;
      if (state.selected.has(p)) {
        any = true;
        sum += f.tokens;
      } else all = false;
    }
    const box = li.querySelector('input');
    box.checked = any && all;
    box.indeterminate = any && !all;
    li.querySelector('.tokens').textContent = any ? `${fmt(sum)} tokens selected` : '';
  }
  updateTotals();
}

function updateTotals() {
  let files = 0;
  let tokens = 0;
  let bytes = 0;
  for (const p of state.selected ?? []) {
    const f = state.files.get(p);
    if (!f || f.tokens === null) continue;
    files += 1;
    tokens += f.tokens;
    bytes += f.size;
  }
  const total = $('totals');
  total.dataset.tokens = tokens;
  total.textContent = `${fmt(files)} files selected · ${kib(bytes)} · ${fmt(tokens)} tokens (${encodingOf()})`;
  $('build').disabled = files === 0;
  $('forget').disabled = !state.folder;
}

// ---------------------------------------------------------------- output

function language(path) {
  const ext = path.includes('.') ? path.split('.').pop().toLowerCase() : '';
  const map = { rs: 'rust', js: 'javascript', mjs: 'javascript', ts: 'typescript', tsx: 'tsx', jsx: 'jsx', py: 'python', rb: 'ruby', go: 'go', java: 'java', kt: 'kotlin', c: 'c', h: 'c', cpp: 'cpp', cc: 'cpp', hpp: 'cpp', cs: 'csharp', php: 'php', sh: 'bash', bash: 'bash', zsh: 'bash', sql: 'sql', md: 'markdown', json: 'json', toml: 'toml', yaml: 'yaml', yml: 'yaml', html: 'html', css: 'css', xml: 'xml', swift: 'swift', scala: 'scala', lua: 'lua', r: 'r' };
  return map[ext] ?? '';
}

function treeText(paths) {
  const lines = [state.folder + '/'];
  const seen = new Set();
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const key = parts.slice(0, i).join('/');
      if (seen.has(key)) continue;
      seen.add(key);
      lines.push('  '.repeat(i) + parts[i - 1] + (i < parts.length ? '/' : ''));
    }
  }
  return lines.join('\n');
}

const attr = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function assemble(paths, format, treeHeader) {
  const parts = [];
  if (format === 'markdown') {
    if (treeHeader) parts.push('```\n' + treeText(paths) + '\n```\n');
    for (const p of paths) {
      const text = state.files.get(p).text;
      const runs = text.match(/`{3,}/g) ?? [];
      const fence = '`'.repeat(Math.max(3, ...runs.map((r) => r.length + 1)));
      parts.push(`## ${p}\n\n${fence}${language(p)}\n${text}${text.endsWith('\n') ? '' : '\n'}${fence}\n`);
    }
    return parts.join('\n');
  }
  if (treeHeader) parts.push(`<tree>\n${treeText(paths)}\n</tree>`);
  for (const p of paths) {
    const text = state.files.get(p).text;
    parts.push(`<file path="${attr(p)}">\n${text}${text.endsWith('\n') ? '' : '\n'}</file>`);
  }
  return parts.join('\n') + '\n';
}

async function build() {
  const paths = [...state.selected].filter((p) => state.files.get(p)?.text !== null).sort();
  const s = settings();
  const text = assemble(paths, s.format, s.treeHeader);
  const tokens = await countText(text);
  const manifest = paths.map((p) => {
    const f = state.files.get(p);
    return { path: p, size: f.size, sha256: f.sha256, tokens: f.tokens };
  });
  const built = { text, manifest, tokens, encoding: encodingOf(), model: s.model, at: new Date().toISOString() };
  showBuilt(built);
  await persist(built);
  // Saved: a reload from here on finds this context.
  root.dataset.built = String(Number(root.dataset.built ?? 0) + 1);
}

function showBuilt(built) {
  $('output').value = built.text;
  const win = windowOf();
  const out = $('output-total');
  out.dataset.tokens = built.tokens;
  let line = `Context: ${fmt(built.manifest.length)} files, ${fmt(built.tokens)} tokens`;
  if (win) {
    const share = ((built.tokens / win) * 100).toFixed(1);
    line += ` of ${$("model").value}'s ${fmt(win)}-token window (${share}%)`;
    out.classList.toggle("field-error", built.tokens > win);
    if (built.tokens > win) line += ': too large for this model';
  }
  out.textContent = line + '. Use it as {{context}} in the playground.';
  $('built').hidden = false;
}

// ---------------------------------------------------------------- "run again with the same context"

function compareWithRun() {
  const changed = [];
  state.selected = new Set();
  for (const m of state.again) {
    const f = state.files.get(m.path);
    if (!f) {
      changed.push(`${m.path} (missing)`);
      continue;
    }
    if (m.sha256 && f.sha256 && m.sha256 !== f.sha256) {
      f.changed = 'changed since the run';
      changed.push(m.path);
    }
    if (selectable(f)) {
      state.selected.add(m.path);
      if (f.secrets.length) state.included.add(m.path);
    }
  }
  const note = $('again-status');
  note.hidden = false;
  note.textContent = changed.length === 0
    ? `Every file of the run's context is unchanged (${state.again.length} files).`
    : `Changed since the run: ${changed.join(', ')}.`;
}

// ---------------------------------------------------------------- persistence

function restoreSettings(s) {
  if (s.model && [...$('model').options].some((o) => o.value === s.model)) $('model').value = s.model;
  if (s.format) $('format').value = s.format;
  $('tree-header').checked = !!s.treeHeader;
  $('show-ignored').checked = !!s.showIgnored;
}

async function persist(built) {
  if (!state.folder) return;
  const previous = (await store.loadFolder(state.folder)) ?? {};
  await store.saveFolder(state.folder, {
    selected: [...(state.selected ?? [])],
    included: [...state.included],
    settings: settings(),
    built: built ?? previous.built ?? null,
    handle: state.handle ?? previous.handle ?? null,
  });
}

async function restore() {
  const name = await store.activeFolder();
  if (!name) return;
  const record = await store.loadFolder(name);
  if (!record) return;
  state.folder = name;
  $('forget').disabled = false;
  $('folder-name').textContent = name;
  if (record.settings) restoreSettings(record.settings);
  $('remembered').hidden = false;
  $('remembered-text').textContent = `${name}: ${record.selected?.length ?? 0} files selected. Choose the folder again to read its files.`;
  if (record.handle) {
    $('reopen').hidden = false;
    $('reopen').onclick = async () => {
      if ((await record.handle.requestPermission({ mode: 'read' })) === 'granted') load(await fromHandle(record.handle), record.handle);
    };
  }
  if (record.built) showBuilt(record.built);
}

// ---------------------------------------------------------------- wiring

$('folder-input').addEventListener('change', (e) => load(fromFileList(e.target.files)));
// One picker: the browser's folder dialog where it has one (it can be read again later),
// else the file input; never both.
if ('showDirectoryPicker' in window) {
  $('pick-folder').hidden = false;
  $('folder-input').closest('.field').hidden = true;
  $('pick-folder').addEventListener('click', async () => {
    try {
      const handle = await window.showDirectoryPicker({ mode: 'read' });
      load(await fromHandle(handle), handle);
    } catch (err) {
      if (err.name !== 'AbortError') $('folder-status').textContent = `Could not open the folder: ${err.message}`;
    }
  });
}
const drop = $('drop-zone');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', async (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  load(await fromDrop([...e.dataTransfer.items]));
});
$('show-ignored').addEventListener('change', () => {
  render();
  syncBoxes();
  persist();
});
for (const id of ['format', 'tree-header']) $(id).addEventListener('change', () => persist());
$('model').addEventListener('change', async () => {
  if (state.files.size) {
    await count([...state.files].filter(([, f]) => f.counted).map(([p]) => p));
    render();
    syncBoxes();
  }
  persist();
});
$('build').addEventListener('click', build);
$('forget').addEventListener('click', async () => {
  if (!state.folder) return;
  await store.forgetFolder(state.folder);
  state.folder = null;
  state.files = new Map();
  state.selected = new Set();
  $('tree').replaceChildren();
  $('output').value = '';
  $('built').hidden = true;
  $('remembered').hidden = true;
  $('folder-name').textContent = '';
  $('folder-status').textContent = 'Forgotten: nothing about that folder is kept in this browser.';
  updateTotals();
});

const againData = document.getElementById('again-manifest');
if (againData) state.again = JSON.parse(againData.textContent);

restore().then(() => {
  root.dataset.ready = 'true';
});
// After the first load of a folder the tree's boxes reflect the selection.
const observer = new MutationObserver(() => syncBoxes());
observer.observe($('tree'), { childList: true });
