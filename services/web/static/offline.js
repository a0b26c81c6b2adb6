/* Sportello: the counter's forms keep working without a connection.
 *
 * A case or an appointment entered while offline (or when the server cannot be reached) is kept
 * in this browser (localStorage) with its own Idempotency-Key, and sent when the connection
 * returns. intake answers a repeated key with the first answer, so a form sent twice (a lost
 * answer, a second tab) is still one case. The page lists what is still waiting to be sent.
 */
(function () {
  "use strict";
  var STORE = "sportello.coda.v1";
  var LABELS = { caso: "Apertura caso", appuntamento: "Prenotazione" };
  // The connection is trusted again only after it has held this long: a network coming back
  // flaps (a counter's Wi-Fi reconnecting), and a browser may report "online" for an instant
  // while the page is being left, when a send could start but never hear its answer.
  var SETTLE_MS = 1000;
  var sending = false;
  var leaving = false;
  var settling = null;

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(items) { localStorage.setItem(STORE, JSON.stringify(items)); }

  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return "web-" + window.crypto.randomUUID(); }
    return "web-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function payload(form) {
    var data = {};
    new FormData(form).forEach(function (value, name) {
      if (name === "idempotency_key") { return; }
      (data[name] = data[name] || []).push(String(value));
    });
    return data;
  }

  function render() {
    var items = load();
    var box = document.getElementById("coda");
    var list = document.getElementById("coda-elenco");
    var state = document.getElementById("coda-stato");
    if (!box) { return; }
    box.hidden = items.length === 0;
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = LABELS[item.kind] + " del " + new Date(item.at).toLocaleString("it-IT") +
        (item.error ? " — non accettata: " + item.error : " — in attesa");
      if (item.error) {
        var drop = document.createElement("button");
        drop.type = "button";
        drop.textContent = "Elimina";
        drop.addEventListener("click", function () {
          save(load().filter(function (i) { return i.key !== item.key; }));
          render();
        });
        li.appendChild(document.createTextNode(" "));
        li.appendChild(drop);
      }
      list.appendChild(li);
    });
    var waiting = items.filter(function (i) { return !i.error; }).length;
    state.textContent = waiting
      ? (navigator.onLine
          ? "Invio in corso di " + waiting + " elementi…"
          : "Senza connessione: " + waiting + " elementi saranno inviati quando torna la rete.")
      : "";
  }

  function send(item) {
    return fetch(item.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Idempotency-Key": item.key
      },
      body: JSON.stringify(item.data)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    });
  }

  function flush() {
    if (sending || leaving || !navigator.onLine) { render(); return; }
    var next = load().filter(function (i) { return !i.error; })[0];
    if (!next) { render(); return; }
    sending = true;
    render();
    send(next).then(function (answer) {
      sending = false;
      var items = load();
      if (answer.status === 201) {
        save(items.filter(function (i) { return i.key !== next.key; }));
      } else if (answer.status === 401) {
        render();  // signed out meanwhile: the items wait for the next sign-in
        return;
      } else if (answer.status >= 500 || answer.status === 409 && answer.body.code === "idempotency_in_progress") {
        render();
        setTimeout(flush, 5000);  // the server is down or busy: try again shortly
        return;
      } else {
        items.forEach(function (i) { if (i.key === next.key) { i.error = answer.body.message || ("errore " + answer.status); } });
        save(items);
      }
      flush();
    }, function () {
      sending = false;  // no connection after all: wait for the "online" event
      render();
    });
  }

  function enqueue(form, data, key) {
    var items = load();
    items.push({ kind: form.getAttribute("data-offline"), url: form.action, data: data, key: key, at: Date.now() });
    save(items);
    // Cleared, so the same case is not typed in and queued twice by mistake.
    form.reset();
    render();
  }

  function showErrors(form, body) {
    form.querySelectorAll(".js-error").forEach(function (e) { e.remove(); });
    var errors = body.errors || {};
    Object.keys(errors).forEach(function (field) {
      var input = form.querySelector('[name="' + field + '"]');
      var p = document.createElement("p");
      p.className = "field-error js-error";
      p.id = form.id + "-" + field + "-err";
      p.textContent = errors[field].join(" ");
      if (input && field !== "_form") {
        var holder = input.closest("fieldset") || input.closest(".field") || input.parentNode;
        holder.appendChild(p);
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", p.id);
      } else {
        p.setAttribute("role", "alert");
        form.insertBefore(p, form.firstChild);
      }
    });
    var first = form.querySelector('[aria-invalid="true"]');
    if (first) { first.focus(); }
  }

  function onSubmit(event) {
    var form = event.target;
    if (!form.hasAttribute("data-offline")) { return; }
    event.preventDefault();
    var data = payload(form);
    var key = newKey();
    var status = form.querySelector(".form-status");
    if (!navigator.onLine) {
      enqueue(form, data, key);
      if (status) { status.textContent = "Senza connessione: salvato su questo dispositivo, sarà inviato appena torna la rete."; }
      return;
    }
    send({ url: form.action, data: data, key: key }).then(function (answer) {
      if (answer.status === 201) {
        if (form.getAttribute("data-offline") === "caso") {
          window.location.assign("/casi/" + encodeURIComponent(answer.body.id) + "?nuovo=1");
        } else {
          window.location.assign(window.location.pathname + "?fatto=appuntamento");
        }
      } else if (answer.status >= 500) {
        enqueue(form, data, key);
        if (status) { status.textContent = "Servizio non raggiungibile: salvato su questo dispositivo, sarà inviato più tardi."; }
      } else {
        showErrors(form, answer.body);
        if (status) { status.textContent = answer.body.message || "Controlla i campi indicati."; }
      }
    }, function () {
      enqueue(form, data, key);
      if (status) { status.textContent = "Senza connessione: salvato su questo dispositivo, sarà inviato appena torna la rete."; }
    });
  }

  // One more bill in the case form: a copy of the empty bill, numbered after the last one.
  function setupBills() {
    var button = document.getElementById("aggiungi-bolletta");
    var model = document.getElementById("bolletta-modello");
    if (!button || !model) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var last = -1;
      document.querySelectorAll("#bollette fieldset.bill").forEach(function (f) {
        last = Math.max(last, parseInt(f.getAttribute("data-bill"), 10));
      });
      var next = last + 1;
      var holder = document.createElement("div");
      holder.innerHTML = model.innerHTML.replace(/__n__/g, String(next)).replace(/__N__/g, String(next + 1));
      var bill = holder.firstElementChild;
      button.parentNode.insertBefore(bill, button);
      bill.querySelector("select, input").focus();
    });
  }

  // The service worker keeps the counter's pages for a reload without a connection (sw.js).
  // The first page of a visit is not fetched through it: that one is put in its cache here.
  function setupWorker() {
    if (!("serviceWorker" in navigator) || !window.caches) { return; }
    var first = !navigator.serviceWorker.controller;
    navigator.serviceWorker.register("/sw.js", { scope: "/sportello" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      if (first && navigator.onLine) {
        return caches.open("sportello-sportello-v1").then(function (cache) {
          return cache.add(window.location.href);
        });
      }
    }).catch(function () { /* no service worker: the queue still works while the page is open */ });
  }

  document.addEventListener("submit", onSubmit);
  if (document.readyState !== "loading") { setupBills(); } else { document.addEventListener("DOMContentLoaded", setupBills); }
  setupWorker();
  function onOnline() {
    clearTimeout(settling);
    settling = setTimeout(flush, SETTLE_MS);
  }
  function onOffline() {
    clearTimeout(settling);
    render();
  }

  window.addEventListener("online", onOnline);
  window.addEventListener("offline", onOffline);
  // A page being left starts no send; back from the browser's cache, it may send again.
  window.addEventListener("pagehide", function () { leaving = true; clearTimeout(settling); });
  window.addEventListener("pageshow", function (event) { if (event.persisted) { leaving = false; flush(); } });
  document.addEventListener("DOMContentLoaded", flush);
  if (document.readyState !== "loading") { flush(); }
})();
