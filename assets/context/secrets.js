// Credentials that should not be pasted into a prompt: each pattern names what it found. A file
// with a finding is excluded from the context until the user includes it explicitly.

const PATTERNS = [
  ['AWS access key id', /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b/],
  ['AWS secret access key', /aws_?secret_?access_?key\s*[=:]\s*["']?[A-Za-z0-9/+]{40}\b/i],
  ['private key', /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----/],
  ['GitHub token', /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b/],
  ['GitLab token', /\bglpat-[A-Za-z0-9_-]{20,}\b/],
  ['Slack token', /\bxox[abposr]-[A-Za-z0-9-]{10,}/],
  ['Stripe secret key', /\b(?:sk|rk)_live_[0-9A-Za-z]{20,}\b/],
  ['Google API key', /\bAIza[0-9A-Za-z_-]{35}\b/],
  ['Anthropic API key', /\bsk-ant-[A-Za-z0-9_-]{20,}/],
  ['OpenAI API key', /\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,}/],
  ['JSON web token', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/],
  ['password or secret assignment', /\b(?:password|passwd|secret|api[_-]?key|auth[_-]?token|access[_-]?token)\s*[=:]\s*["'][^"'\s]{8,}["']/i],
];

// `.env`, `.env.local`, ... but not the committed examples.
const ENV_FILE = /(?:^|\/)\.env(?:\.(?!example$|sample$|template$|dist$)[^/]*)?$/;

// What `text` (the content of `path`) gives away: a list of { kind, line } (1-based lines).
export function scan(path, text) {
  const found = [];
  if (ENV_FILE.test(path)) found.push({ kind: 'environment file', line: 0 });
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && found.length < 20; i++) {
    const line = lines[i];
    if (line.length > 10000) continue; // minified or data: too long to be a credential line
    for (const [kind, re] of PATTERNS) {
      if (re.test(line)) {
        found.push({ kind, line: i + 1 });
        break;
      }
    }
  }
  return found;
}
