// The wallet's service worker, served at /wallet-sw.js (scope /wallet: a worker under /static/ could not control the
// page) with two lines put in front by xacthuc/web/wallet_app.py: VERSION (a hash of the files below, so a changed
// file installs a new worker and a new cache) and ASSETS (the page's scripts, styles, library bundle and icon).
// Network first: online, the page and its files are always fresh; offline, the last copies answer, so /wallet opens
// and shows its credentials and offline QR. API calls are never cached.
/* global VERSION, ASSETS */
const PREFIX = "xacthuc-wallet-";
const CACHE = PREFIX + VERSION;
const PAGE = "/wallet";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...ASSETS]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(key);
    if (kept) return kept;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // The page in any language (?lang=) is kept as one copy: the last one opened online.
  const page = request.mode === "navigate" && url.pathname === PAGE;
  if (!page && !ASSETS.includes(url.pathname)) return;
  event.respondWith(networkFirst(request, page ? PAGE : url.pathname));
});
