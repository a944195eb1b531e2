// .gitignore rules: each file's patterns apply below its directory, later rules beat earlier
// ones, deeper files beat shallower ones, `!` re-includes, a trailing `/` matches directories
// only, a pattern with a `/` before its end is anchored to its directory, `*`, `?`, `[...]` and
// `**` as git reads them. (git does not look inside an ignored directory; neither does the walk.)

// Folders and files left out of a context unless the user shows ignored files.
export const DEFAULT_IGNORES = [
  '.git/', '.hg/', '.svn/', 'node_modules/', 'bower_components/', 'vendor/bundle/',
  'target/', 'dist/', 'build/', 'out/', '.next/', '.nuxt/', '.cache/', 'coverage/',
  '__pycache__/', '.venv/', 'venv/', '.tox/', '.mypy_cache/', '.pytest_cache/', '.gradle/',
  '.idea/', '.vscode/', '.DS_Store', 'Thumbs.db', '*.pyc', '*.class', '*.o', '*.so', '*.dll',
  '*.exe', '*.min.js', '*.min.css', '*.map',
  'package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'Cargo.lock', 'poetry.lock',
  'Pipfile.lock', 'Gemfile.lock', 'composer.lock', 'go.sum', '*.lock',
].join('\n');

const escapeRe = (c) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

// The regular expression for one glob (without `!` and trailing `/`).
function globToRegExp(glob, anchored) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        if (atStart && glob[i + 2] === '/') {
          re += '(?:.*/)?'; // `**/`: any number of directories, or none
          i += 2;
          continue;
        }
        if (atStart && i + 2 === glob.length) {
          re += '.*'; // trailing `/**`: everything inside
          i += 1;
          continue;
        }
        i += 1; // `**` elsewhere is a plain `*`
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      if (body[0] === '!') body = '^' + body.slice(1);
      re += '[' + body.replace(/\\/g, '\\\\') + ']';
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      re += escapeRe(glob[++i]);
    } else {
      re += escapeRe(c);
    }
  }
  return new RegExp(anchored ? `^${re}$` : `^(?:.*/)?${re}$`);
}

// The rules of one ignore file whose directory is `base` ('' for the root).
export function parse(text, base = '') {
  const rules = [];
  for (let line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    // Trailing spaces are dropped unless escaped.
    line = line.replace(/(?<!\\)\s+$/, '');
    if (line === '') continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.replace(/\/+$/, '');
    }
    if (line === '') continue;
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    rules.push({ base, negate, dirOnly, re: globToRegExp(line, anchored), source: line });
  }
  return rules;
}

// Whether `path` (relative to the folder, `/`-separated) is ignored by `ruleSets`, which are in
// order from the root down: `true`, `false`, or `undefined` when no rule matched.
export function decide(ruleSets, path, isDir) {
  let verdict;
  for (const rules of ruleSets) {
    for (const r of rules) {
      if (r.dirOnly && !isDir) continue;
      let rel = path;
      if (r.base) {
        if (!path.startsWith(r.base + '/')) continue;
        rel = path.slice(r.base.length + 1);
      }
      if (r.re.test(rel)) verdict = !r.negate;
    }
  }
  return verdict;
}
