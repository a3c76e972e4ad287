// The wallet's storage: one IndexedDB database on this device. "keys" holds the holder key pair as CryptoKey objects
// (the private key was made non-extractable: no script, ours included, can read its bytes); "credentials" holds each
// credential (compact SD-JWT) with what the card shows. Nothing here is sent anywhere.
const DB = "xacthuc-wallet";
const VERSION = 1;

let opened = null;

function db() {
  opened ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, VERSION);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("keys");
      request.result.createObjectStore("credentials", { keyPath: "id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function run(store, mode, action) {
  const tx = (await db()).transaction(store, mode);
  const request = action(tx.objectStore(store));
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export const getKey = (name) => run("keys", "readonly", (s) => s.get(name));
export const putKey = (name, value) => run("keys", "readwrite", (s) => s.put(value, name));
export const allCredentials = () => run("credentials", "readonly", (s) => s.getAll());
export const putCredential = (entry) => run("credentials", "readwrite", (s) => s.put(entry));
export const deleteCredential = (id) => run("credentials", "readwrite", (s) => s.delete(id));
