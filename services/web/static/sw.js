/* Sportello: the counter's pages keep working without a connection.
 *
 * Registered by offline.js with the scope /sportello (served at /sw.js so the scope may cover
 * it). Online, every page and asset comes from the network as usual, and the counter's pages and
 * their static assets are kept in a cache as they pass. Offline, a reload of /sportello is
 * answered from that cache: the page, its forms and its queue (offline.js and localStorage) are
 * there, and what is entered is queued as before. Only GET requests are touched: the forms' posts
 * always go to the network. Signing out (the sign-in page) deletes the cache.
 */
"use strict";
var CACHE = "sportello-sportello-v1";
var SHELL = ["/static/app.css", "/static/offline.js"];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) {
        return n.indexOf("sportello-") === 0 && n !== CACHE;
      }).map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function kept(request) {
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return false; }
  if (request.mode === "navigate") {
    return url.pathname === "/sportello" || url.pathname.indexOf("/sportello/") === 0;
  }
  return SHELL.indexOf(url.pathname) !== -1;
}

function fromCache(request) {
  return caches.open(CACHE).then(function (cache) {
    return cache.match(request).then(function (hit) {
      // Another tenant chosen (?inquilino=…) than the page kept: the page without it.
      return hit || cache.match(request, { ignoreSearch: true });
    });
  }).then(function (hit) {
    return hit || new Response(
      "<!doctype html><html lang=\"it\"><head><meta charset=\"utf-8\"><title>Senza connessione — Sportello Energia</title></head>" +
      "<body><main><h1>Senza connessione</h1><p>Questa pagina non è ancora stata aperta su questo dispositivo: riprova quando torna la rete.</p></main></body></html>",
      { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } }
    );
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET" || !kept(request)) { return; }
  event.respondWith(
    fetch(request).then(function (response) {
      // Only a page actually shown is kept (not a redirect to the sign-in page, not an error).
      if (response.ok && response.type === "basic" && !response.redirected) {
        var copy = response.clone();
        event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.put(request, copy); }));
      }
      return response;
    }, function () {
      return fromCache(request);
    })
  );
});
