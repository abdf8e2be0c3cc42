// mssbridge — poste de relecture. Plain script, no library: keyboard shortcuts, list
// selection, the recipient picker and the confirmation dialogs. Everything works without it
// except the directory search and the shortcuts.
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  var csrf = body.getAttribute("data-csrf");

  function typing(el) {
    if (!el) return false;
    var t = el.tagName;
    return t === "INPUT" || t === "TEXTAREA" || t === "SELECT" || el.isContentEditable;
  }
  function openDialog(d) { if (d && !d.open) { d.showModal(); } }
  function go(href) { if (href) window.location.assign(href); }

  // Dialogs: [data-open=ID] opens, [data-close] closes, [data-help] opens the help.
  document.addEventListener("click", function (e) {
    var t = e.target.closest("[data-open],[data-close],[data-help]");
    if (!t) return;
    if (t.hasAttribute("data-help")) openDialog(document.getElementById("help"));
    if (t.hasAttribute("data-open")) openDialog(document.getElementById(t.getAttribute("data-open")));
    if (t.hasAttribute("data-close")) t.closest("dialog").close();
  });

  // Lists: j/k move the selection, Enter or o opens it, a click opens a row.
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.list tbody tr[data-href]"));
  var sel = -1;
  function select(i) {
    if (!rows.length) return;
    if (sel >= 0) rows[sel].classList.remove("sel");
    sel = Math.max(0, Math.min(rows.length - 1, i));
    rows[sel].classList.add("sel");
    rows[sel].scrollIntoView({ block: "nearest" });
  }
  rows.forEach(function (r, i) {
    r.addEventListener("click", function (e) {
      if (e.target.closest("a,button,input,form")) return;
      go(r.getAttribute("data-href"));
    });
  });
  if (rows.length && page !== "overview") select(0);

  // The review page.
  var form = document.getElementById("release");
  var list = document.getElementById("rcpts");
  var empty = document.getElementById("rcpts-empty");
  var q = document.getElementById("dir-q");
  var results = document.getElementById("dir-results");
  var confirmDlg = document.getElementById("confirm-release");
  var confirmed = false;

  function chips() { return list ? Array.prototype.slice.call(list.querySelectorAll("li[data-address]")) : []; }
  function refreshEmpty() { if (empty) empty.hidden = chips().length > 0; }

  function addRecipient(r, role) {
    var addr = (r.address || "").toLowerCase().trim();
    if (!addr || !list) return;
    var existing = chips().filter(function (li) { return li.getAttribute("data-address") === addr; })[0];
    if (existing) { existing.querySelector("input").checked = true; setRole(existing, role); return; }
    var li = document.createElement("li");
    li.setAttribute("data-address", addr);
    if (r.in_trust === false) li.className = "out";
    var cb = document.createElement("input");
    cb.type = "checkbox"; cb.name = role; cb.value = addr; cb.checked = true;
    cb.setAttribute("aria-label", "envoyer à " + addr);
    var rb = document.createElement("button");
    rb.type = "button"; rb.className = "role"; rb.setAttribute("data-role", "");
    rb.textContent = role === "cc" ? "Cc" : "À";
    var who = document.createElement("span"); who.className = "who";
    var strong = document.createElement("strong"); strong.textContent = r.name || addr; who.appendChild(strong);
    if (r.dematerialised) { var f = document.createElement("span"); f.className = "flag demat"; f.textContent = "Dématérialisation"; f.title = "Ce destinataire a demandé à ne plus recevoir de papier"; who.appendChild(document.createTextNode(" ")); who.appendChild(f); }
    if (r.in_trust === false) { var o = document.createElement("span"); o.className = "flag out"; o.textContent = "hors espace de confiance"; who.appendChild(document.createTextNode(" ")); who.appendChild(o); }
    if (r.detail) { var d = document.createElement("div"); d.className = "detail"; d.textContent = r.detail; who.appendChild(d); }
    var a = document.createElement("div"); a.className = "addr"; a.textContent = addr; who.appendChild(a);
    li.appendChild(cb); li.appendChild(rb); li.appendChild(who);
    var x = document.createElement("button"); x.type = "button"; x.setAttribute("data-remove", ""); x.title = "Retirer"; x.textContent = "✕";
    li.appendChild(x);
    list.insertBefore(li, empty);
    refreshEmpty();
  }
  function setRole(li, role) {
    var cb = li.querySelector("input[type=checkbox]");
    cb.name = role;
    li.querySelector("[data-role]").textContent = role === "cc" ? "Cc" : "À";
  }
  if (list) {
    list.addEventListener("click", function (e) {
      var li = e.target.closest("li[data-address]");
      if (!li) return;
      if (e.target.closest("[data-remove]")) { li.remove(); refreshEmpty(); if (q) { showSuggestions(); q.focus(); } }
      if (e.target.closest("[data-role]")) setRole(li, li.querySelector("input").name === "cc" ? "to" : "cc");
    });
  }

  // The directory search: POSTed (a name never goes into a URL), debounced.
  var found = [], cur = -1, timer = null, seq = 0;
  // Suggestions from the letter (the homonyms the reasons name), shown while nothing is typed.
  var suggestions = results ? Array.prototype.slice.call(results.querySelectorAll("li[data-suggestion]")).map(function (li) {
    return { address: li.getAttribute("data-address"), name: li.getAttribute("data-name"), detail: li.getAttribute("data-detail"),
      dematerialised: li.getAttribute("data-demat") === "true", in_trust: true };
  }) : [];
  var suggestNote = "Proposés d'après le courrier : ↓ puis Entrée pour ajouter";
  function renderResults(items, note, noPreselect) {
    results.textContent = "";
    found = items || []; cur = found.length && !noPreselect ? 0 : -1;
    found.forEach(function (r, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", i === cur ? "true" : "false");
      var s = document.createElement("strong"); s.textContent = r.name || r.address; li.appendChild(s);
      if (r.dematerialised) { var f = document.createElement("span"); f.className = "flag demat"; f.textContent = " Dématérialisation"; li.appendChild(document.createTextNode(" ")); li.appendChild(f); }
      var d = document.createElement("div"); d.className = "d"; d.textContent = (r.detail ? r.detail + " · " : "") + r.address; li.appendChild(d);
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i, e.shiftKey ? "cc" : "to"); });
      results.appendChild(li);
    });
    if (note) {
      var n = document.createElement("li"); n.className = "note"; n.textContent = note;
      if (noPreselect) results.insertBefore(n, results.firstChild); else results.appendChild(n);
    }
  }
  function showSuggestions() {
    var left = suggestions.filter(function (r) { return !chips().some(function (li) { return li.getAttribute("data-address") === r.address; }); });
    renderResults(left, left.length ? suggestNote : "", true);
  }
  function highlight(i) {
    var lis = results.querySelectorAll("li[role=option]");
    if (!lis.length) return;
    cur = i < 0 && cur < 0 ? lis.length - 1 : (i + lis.length) % lis.length;
    lis.forEach(function (li, k) { li.setAttribute("aria-selected", k === cur ? "true" : "false"); });
    lis[cur].scrollIntoView({ block: "nearest" });
  }
  function pick(i, role) {
    if (i < 0 || i >= found.length) return;
    addRecipient(found[i], role);
    q.value = ""; showSuggestions();
    q.focus();
  }
  function search() {
    var text = q.value.trim();
    if (!text) { showSuggestions(); return; }
    if (text.length < 2 || q.getAttribute("data-directory") !== "true") { renderResults([], text.indexOf("@") > 0 ? "Entrée : ajouter l'adresse " + text : ""); return; }
    var mine = ++seq;
    var data = new URLSearchParams(); data.set("q", text);
    fetch("/annuaire", { method: "POST", headers: { "X-CSRF-Token": csrf }, body: data, credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (items) {
        if (mine !== seq) return;
        if (items && items.error) { renderResults([], items.error); return; }
        var note = items.length ? "" : "Personne dans l'annuaire pour « " + text + " »";
        if (!items.length && text.indexOf("@") > 0) note = "Entrée : ajouter l'adresse " + text;
        renderResults(items, note);
      })
      .catch(function () { renderResults([], "L'annuaire ne répond pas : saisissez l'adresse."); });
  }
  if (q) {
    showSuggestions();
    q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(search, 200); });
    q.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") { e.preventDefault(); highlight(cur + 1); }
      else if (e.key === "ArrowUp") { e.preventDefault(); highlight(cur - 1); }
      else if (e.key === "Enter") {
        e.preventDefault();
        var role = e.shiftKey ? "cc" : "to";
        if (cur >= 0 && found.length) { pick(cur, role); return; }
        var text = q.value.trim();
        if (text.indexOf("@") > 0 && text.indexOf(" ") < 0) { addRecipient({ address: text }, role); q.value = ""; showSuggestions(); }
      } else if (e.key === "Escape") {
        if (q.value) { q.value = ""; showSuggestions(); } else { q.blur(); }
        e.preventDefault();
      } else if (e.key === "Backspace" && !q.value) {
        var c = chips(); if (c.length) { c[c.length - 1].remove(); refreshEmpty(); }
      }
    });
  }

  // The INS: say at once whether the key matches (the server checks again).
  var ins = document.getElementById("f-ins");
  var insState = document.getElementById("ins-state");
  function insKeyOK(v) {
    v = v.replace(/[\s.\-]/g, "").toUpperCase();
    if (!/^[123478][0-9]{4}(2A|2B|[0-9]{2})[0-9]{8}$/.test(v)) return null;
    var dep = v.slice(5, 7);
    var num = Number(v.slice(0, 5) + (dep === "2A" ? "19" : dep === "2B" ? "18" : dep) + v.slice(7, 13));
    return 97 - (num % 97) === parseInt(v.slice(13), 10);
  }
  if (ins && insState) {
    ins.addEventListener("input", function () {
      var v = ins.value.trim();
      if (!v) { insState.textContent = ""; insState.className = "ins-state"; return; }
      var ok = insKeyOK(v);
      insState.textContent = ok === null ? "format : 15 caractères" : ok ? "clé INS correcte" : "clé INS incorrecte";
      insState.className = "ins-state " + (ok ? "ok" : "bad");
    });
  }

  // Release: the form never leaves without the confirmation dialog.
  function openConfirm() {
    var ul = document.getElementById("confirm-list");
    ul.textContent = "";
    var n = 0;
    chips().forEach(function (li) {
      var cb = li.querySelector("input");
      if (!cb.checked) return;
      n++;
      var item = document.createElement("li");
      item.textContent = (cb.name === "cc" ? "en copie : " : "") + li.querySelector(".who strong").textContent + " <" + cb.value + ">";
      ul.appendChild(item);
    });
    if (!n) { var w = document.createElement("li"); w.textContent = "aucun destinataire : ajoutez-en un d'abord"; ul.appendChild(w); }
    var warn = document.getElementById("confirm-warn");
    var badINS = ins && ins.value.trim() && insKeyOK(ins.value.trim()) !== true;
    warn.textContent = badINS ? "L'INS saisi n'est pas valide : corrigez-le ou videz le champ avant d'envoyer." : "";
    document.getElementById("confirm-send").disabled = n === 0 || badINS;
    var fam = form.querySelector("[name=family_name]").value, giv = form.querySelector("[name=given_names]").value;
    document.getElementById("confirm-patient").textContent = fam || giv ? "Patient : " + fam + " " + giv : "";
    openDialog(confirmDlg);
  }
  if (form && confirmDlg) {
    form.addEventListener("submit", function (e) { if (!confirmed) { e.preventDefault(); openConfirm(); } });
    document.getElementById("confirm-send").addEventListener("click", function () {
      confirmed = true; confirmDlg.close(); form.submit();
    });
  }

  // Shortcuts.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    var a = document.activeElement;
    if (e.key === "Escape" && typing(a) && !a.closest("dialog")) { a.blur(); return; }
    if (typing(a) || document.querySelector("dialog[open]")) return;
    var k = e.key;
    if (k === "?") { openDialog(document.getElementById("help")); e.preventDefault(); return; }
    // Digits by their key position (Digit1…), so that they work without Shift on AZERTY too.
    var digit = /^(Digit|Numpad)([1-5])$/.exec(e.code || "");
    if (digit || /^[1-5]$/.test(k)) {
      var n = document.querySelector("nav a[data-go='" + (digit ? digit[2] : k) + "']");
      if (n) { go(n.getAttribute("href")); }
      return;
    }
    if (k === "/") {
      var s = q || document.querySelector("[data-search]");
      if (s) { e.preventDefault(); s.focus(); s.select && s.select(); }
      return;
    }
    if (page === "held") {
      if (k === "j") { var nx = document.querySelector("[data-next]"); if (nx) go(nx.getAttribute("href")); }
      else if (k === "k") { var pv = document.querySelector("[data-prev]"); if (pv) go(pv.getAttribute("href")); }
      else if (k === "r") { e.preventDefault(); openConfirm(); }
      else if (k === "x") { e.preventDefault(); openDialog(document.getElementById("reject-dialog")); }
      else if (k === "p") { e.preventDefault(); document.getElementById("f-family").focus(); }
      else if (k === "i") { e.preventDefault(); ins.focus(); }
      return;
    }
    if (page === "job" && k === "r") {
      var rf = document.getElementById("retry-form");
      if (rf && window.confirm("Relancer l'envoi de ce document ?")) rf.submit();
      return;
    }
    if (page === "overview" && k === "Enter") {
      var st = document.querySelector("[data-key=Enter]"); if (st) go(st.getAttribute("href"));
      return;
    }
    if (!rows.length) return;
    if (k === "j" || k === "ArrowDown") { e.preventDefault(); select(sel + 1); }
    else if (k === "k" || k === "ArrowUp") { e.preventDefault(); select(sel - 1); }
    else if ((k === "Enter" || k === "o") && sel >= 0) { go(rows[sel].getAttribute("data-href")); }
  });
})();
