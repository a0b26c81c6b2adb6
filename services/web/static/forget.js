/* Sportello: nobody is signed in on this page, so nothing of the last person's counter pages
 * stays on this device: the service worker's cache is deleted and the worker unregistered.
 * (The offline queue in localStorage is kept: what was entered offline still has to be sent.) */
(function () {
  "use strict";
  if (window.caches) {
    caches.keys().then(function (names) {
      names.filter(function (n) { return n.indexOf("sportello-") === 0; })
        .forEach(function (n) { caches.delete(n); });
    });
  }
  if (navigator.serviceWorker && navigator.serviceWorker.getRegistrations) {
    navigator.serviceWorker.getRegistrations().then(function (all) {
      all.forEach(function (r) { r.unregister(); });
    });
  }
})();
