// What the context builder keeps in this browser (IndexedDB, never sent anywhere): per folder,
// the selection, the settings and the last built context; which folder is active; and, where the
// browser has the File System Access API, the folder's handle so it can be read again.

const DB = 'promptyard-context';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('folders');
      req.result.createObjectStore('meta');
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(store, mode, fn) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const t = db.transaction(store, mode);
    const req = fn(t.objectStore(store));
    t.oncomplete = () => {
      db.close();
      resolve(req?.result);
    };
    t.onerror = () => reject(t.error);
  });
}

export const loadFolder = (name) => tx('folders', 'readonly', (s) => s.get(name));
export const saveFolder = (name, record) => tx('folders', 'readwrite', (s) => s.put(record, name));
export const forgetFolder = async (name) => {
  await tx('folders', 'readwrite', (s) => s.delete(name));
  if ((await activeFolder()) === name) await tx('meta', 'readwrite', (s) => s.delete('active'));
};
export const activeFolder = () => tx('meta', 'readonly', (s) => s.get('active'));
export const setActiveFolder = (name) => tx('meta', 'readwrite', (s) => s.put(name, 'active'));

// The last built context of the active folder: { folder, text, manifest, tokens, encoding }.
export async function activeContext() {
  const name = await activeFolder();
  if (!name) return null;
  const record = await loadFolder(name);
  return record?.built ? { folder: name, ...record.built } : null;
}
