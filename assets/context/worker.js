// The context builder's worker: reads the chosen files, skips binaries, counts tokens with the
// same BPE encodings as the server (o200k_base, cl100k_base), hashes each file (SHA-256) and
// scans it for credentials, reporting each file and its progress. It makes no request except
// for the tokenizer's own modules from this server.

import { scan } from './secrets.js';

const encodings = {};
async function encoding(name) {
  if (!encodings[name]) {
    const file = name === 'cl100k_base' ? 'cl100k_base' : 'o200k_base';
    encodings[name] = import(`../vendor/gpt-tokenizer/esm/encoding/${file}.js`);
  }
  return encodings[name];
}

// Special tokens such as `<|endoftext|>` count as ordinary text, as on the server.
const AS_TEXT = { disallowedSpecial: new Set() };

// Files above this are listed but not read.
const MAX_READ = 20 * 1024 * 1024;

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

async function sha256(bytes) {
  if (!self.crypto?.subtle) return null; // not a secure context (plain HTTP off localhost)
  return hex(await self.crypto.subtle.digest('SHA-256', bytes));
}

function isBinary(bytes) {
  const head = bytes.subarray(0, 8000);
  if (head.includes(0)) return true;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return false;
  } catch {
    return true;
  }
}

// Counts one text (for the token-count comparison and the prompt).
async function count(encodingName, text) {
  const enc = await encoding(encodingName);
  return text === '' ? 0 : enc.countTokens(text, AS_TEXT);
}

self.onmessage = async (event) => {
  const msg = event.data;
  try {
    if (msg.type === 'count') {
      self.postMessage({ type: 'counted', id: msg.id, tokens: await count(msg.encoding, msg.text) });
      return;
    }
    if (msg.type !== 'read') return;
    const enc = await encoding(msg.encoding);
    const total = msg.files.length;
    let done = 0;
    for (const { path, file } of msg.files) {
      const out = { type: 'file', job: msg.job, path, size: file.size, tokens: null, binary: false, sha256: null, secrets: [], text: null };
      if (file.size <= MAX_READ) {
        const bytes = new Uint8Array(await file.arrayBuffer());
        out.sha256 = await sha256(bytes);
        if (isBinary(bytes)) {
          out.binary = true;
        } else {
          const text = new TextDecoder().decode(bytes);
          out.tokens = text === '' ? 0 : enc.countTokens(text, AS_TEXT);
          out.secrets = scan(path, text);
          out.text = text;
        }
      }
      done += 1;
      self.postMessage(out);
      self.postMessage({ type: 'progress', job: msg.job, done, total });
    }
    self.postMessage({ type: 'done', job: msg.job });
  } catch (err) {
    self.postMessage({ type: 'error', job: msg.job, id: msg.id, message: String(err?.message ?? err) });
  }
};
