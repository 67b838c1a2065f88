/*
 * fundguard clinician pop-up page: follows the agent's alert stream (Server-Sent Events) and records the
 * clinician's decision on each alert (返回修改 / 继续执行 with a reason) through POST alerts/feedback.
 *
 * Query: workstation, dept, practitioner (filters, passed on to the stream), lang, and key (the workstation's key
 * when the agent authenticates the page, passed on to the stream and to feedback). The last cursor and the
 * cards on screen are kept in sessionStorage, so a reload resumes where the page was (?cursor=) and an
 * EventSource reconnect resumes by itself (Last-Event-ID). The server validates every decision; the page shows
 * its refusal on the card. Plain ES2017, no build step, nothing loaded from outside the agent.
 */
(function () {
  "use strict";

  var MAX_CARDS = 100; // on screen; the oldest decided ones go first
  var KEPT_CARDS = 50; // across a reload
  var RETRY_MS = 5000; // when the stream was refused or texts could not be read

  var params = new URLSearchParams(window.location.search);
  var filter = {
    workstation: (params.get("workstation") || "").trim(),
    dept: (params.get("dept") || "").trim(),
    practitioner: (params.get("practitioner") || "").trim()
  };
  var lang = (params.get("lang") || "").trim();
  var key = (params.get("key") || "").trim(); // the workstation's key, when the agent requires one ([auth])
  var storageKey = ["fundguard.alerts", filter.workstation, filter.dept, filter.practitioner, lang].join("|");
  var texts = {};
  var state = { cursor: null, cards: [] }; // cards: the card data, newest first, with their decision
  var entries = {}; // jr_id -> {data, el, form, reason, refusal, decision, buttons}
  var cardsEl = document.getElementById("cards");

  function query(extra) {
    var q = new URLSearchParams();
    Object.keys(filter).forEach(function (key) {
      if (filter[key]) q.set(key, filter[key]);
    });
    if (lang) q.set("lang", lang);
    if (key) q.set("key", key);
    Object.keys(extra || {}).forEach(function (key) {
      q.set(key, extra[key]);
    });
    var s = q.toString();
    return s ? "?" + s : "";
  }

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : whole;
    });
  }

  function load() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(storageKey) || "null");
      if (saved && Array.isArray(saved.cards)) state = saved;
    } catch (e) {
      state = { cursor: null, cards: [] };
    }
  }

  function save() {
    try {
      var kept = { cursor: state.cursor, cards: state.cards.slice(0, KEPT_CARDS) };
      window.sessionStorage.setItem(storageKey, JSON.stringify(kept));
    } catch (e) {
      /* storage full or disabled: the page still works, a reload starts from now */
    }
  }

  function setStatus(name) {
    var el = document.getElementById("status");
    el.dataset.state = name;
    el.textContent = texts[name] || name;
  }

  function refresh() {
    var open = state.cards.filter(function (card) {
      return !card.decision;
    }).length;
    document.title = (open ? "(" + open + ") " : "") + (texts.title || document.title);
    document.getElementById("empty").hidden = cardsEl.children.length > 0;
  }

  function chrome() {
    document.getElementById("title").textContent = texts.title;
    document.getElementById("empty").textContent = texts.empty;
    var scope = ["workstation", "dept", "practitioner"]
      .filter(function (key) {
        return filter[key];
      })
      .map(function (key) {
        return texts[key] + " " + filter[key];
      });
    document.getElementById("scope").textContent = texts.filter + ": " + (scope.join(" · ") || texts.all);
    setStatus("connecting");
  }

  function text(root, selector, value) {
    root.querySelector(selector).textContent = value;
  }

  function build(card) {
    var el = document.getElementById("card-template").content.firstElementChild.cloneNode(true);
    el.dataset.jrId = card.jr_id;
    el.classList.add("sev-" + card.sev_deg, "impact-" + card.workflow_impact);
    text(el, ".sev", card.sev_label);
    text(el, ".impact", card.impact_label);
    text(el, ".rule", card.rule_name || card.rule_id);
    text(el, ".arrived", card.arrived || "");
    text(el, ".summary", card.summary);
    text(el, ".more-label", texts.detail);
    text(el, ".detail", card.detail);
    text(el, ".meta", texts.kb_revision + ": " + card.kb_revision + " · " + card.rule_id + " · " + card.kp_id);
    var orders = card.lines.map(function (line) {
      return line.rx_id + " (" + line.role + ")";
    });
    var lines = el.querySelector(".lines");
    [["orders", texts.lines, orders.join(", ")], ["amount", texts.amount, card.vola_amt]].forEach(function (row) {
      if (!row[2]) return;
      var li = document.createElement("li");
      li.className = row[0];
      li.textContent = row[1] + ": " + row[2];
      lines.appendChild(li);
    });

    var entry = {
      data: card,
      el: el,
      form: el.querySelector(".decide"),
      reason: el.querySelector(".reason"),
      refusal: el.querySelector(".refusal"),
      decision: el.querySelector(".decision"),
      buttons: [el.querySelector(".modify"), el.querySelector(".continue")]
    };
    text(el, ".reason-text", texts.reason_label);
    entry.reason.placeholder = texts.reason_placeholder;
    var choice = el.querySelector(".reason-choice");
    [{ code: "", label: texts.reason_choose }].concat(card.override_reasons).forEach(function (reason) {
      var option = document.createElement("option");
      option.value = reason.code ? reason.label : "";
      option.textContent = reason.label;
      choice.appendChild(option);
    });
    choice.addEventListener("change", function () {
      if (choice.value) entry.reason.value = choice.value;
    });
    entry.buttons[0].textContent = texts.modify;
    entry.buttons[1].textContent = texts.continue;
    entry.buttons[0].addEventListener("click", function () {
      send(entry, "2");
    });
    entry.buttons[1].addEventListener("click", function () {
      send(entry, "1");
    });
    entry.form.addEventListener("submit", function (event) {
      event.preventDefault();
    });
    if (card.decision) decided(entry, card.decision, false);
    return entry;
  }

  function add(card, fresh) {
    var known = entries[card.jr_id];
    if (known) {
      if (card.decision && !known.data.decision) decided(known, card.decision, false);
      return;
    }
    if (fresh) {
      card.arrived = new Date().toLocaleTimeString();
      state.cards.unshift(card);
    }
    var entry = build(card);
    entries[card.jr_id] = entry;
    cardsEl.insertBefore(entry.el, cardsEl.firstChild);
    trim();
    refresh();
  }

  function notice(data) {
    // a check that did not finish in time: never silence, the clinician is told the order is not known to comply
    var el = document.getElementById("unavailable-template").content.firstElementChild.cloneNode(true);
    el.dataset.cursor = String(data.cursor);
    text(el, ".sev", texts.unavailable_title);
    text(el, ".rule", data.mdtrt_id);
    text(el, ".arrived", new Date().toLocaleTimeString());
    text(el, ".summary", fill(texts.unavailable_body, { mdtrt_id: data.mdtrt_id }));
    text(el, ".meta", texts.unavailable_reason + ": " + data.reason);
    var dismiss = el.querySelector(".dismiss");
    dismiss.textContent = texts.dismiss;
    dismiss.addEventListener("click", function () {
      el.remove();
      refresh();
    });
    cardsEl.insertBefore(el, cardsEl.firstChild);
    document.getElementById("empty").hidden = true;
  }

  function trim() {
    while (state.cards.length > MAX_CARDS) {
      var victim = -1;
      for (var n = state.cards.length - 1; n >= 0 && victim < 0; n--) {
        if (state.cards[n].decision) victim = n;
      }
      if (victim < 0) victim = state.cards.length - 1;
      var gone = state.cards.splice(victim, 1)[0];
      entries[gone.jr_id].el.remove();
      delete entries[gone.jr_id];
    }
  }

  function decided(entry, decision, earlier) {
    entry.data.decision = decision;
    entry.el.classList.add("decided", decision.dspo_way === "1" ? "continued" : "modified");
    entry.form.hidden = true;
    entry.refusal.hidden = true;
    var said = decision.dspo_way === "1"
      ? fill(texts.decided_continue, { reason: decision.dspo_way_rea })
      : texts.decided_modify;
    entry.decision.textContent = said + (earlier ? " " + texts.decided_earlier : "");
    entry.decision.hidden = false;
    save();
    refresh();
  }

  function refuse(entry, message) {
    entry.refusal.textContent = message;
    entry.refusal.hidden = !message;
    entry.el.classList.toggle("refused", Boolean(message));
  }

  function refusal(body, reason) {
    if (body && body.field === "dspo_way_rea") return reason ? texts.refused_reason_long : texts.refused_reason;
    var why = body && body.message ? (body.field ? body.field + ": " : "") + body.message : "";
    return fill(texts.refused, { message: why });
  }

  function send(entry, way) {
    var reason = way === "1" ? entry.reason.value.trim() : "";
    entry.buttons.forEach(function (button) {
      button.disabled = true;
    });
    refuse(entry, "");
    entry.decision.textContent = texts.sending;
    entry.decision.hidden = false;
    var body = { jr_id: entry.data.jr_id, dspo_way: way, dspo_way_rea: reason };
    fetch("alerts/feedback" + query(), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    })
      .then(function (response) {
        return response.json().then(function (answer) {
          return { status: response.status, answer: answer };
        });
      })
      .then(function (reply) {
        entry.decision.hidden = true;
        if (reply.status === 200 && reply.answer.decision) {
          decided(entry, reply.answer.decision, reply.answer.outcome === "conflict");
        } else {
          refuse(entry, refusal(reply.answer, reason));
        }
      })
      .catch(function () {
        entry.decision.hidden = true;
        refuse(entry, texts.send_failed);
      })
      .then(function () {
        entry.buttons.forEach(function (button) {
          button.disabled = false;
        });
      });
  }

  function advance(event) {
    var cursor = Number(event.lastEventId);
    if (event.lastEventId !== "" && !isNaN(cursor)) {
      state.cursor = cursor;
      save();
    }
  }

  function connect() {
    var extra = state.cursor === null ? {} : { cursor: String(state.cursor) };
    var source = new EventSource("alerts/events" + query(extra));
    source.addEventListener("ready", function (event) {
      advance(event);
      setStatus("connected");
    });
    source.addEventListener("cursor", advance);
    source.addEventListener("alert", function (event) {
      var card = JSON.parse(event.data);
      if (card.gap_before) {
        var gap = document.getElementById("gap");
        gap.textContent = texts.gap;
        gap.hidden = false;
      }
      add(card, true);
      advance(event);
    });
    source.addEventListener("unavailable", function (event) {
      notice(JSON.parse(event.data));
      advance(event);
    });
    source.onerror = function () {
      setStatus("reconnecting");
      if (source.readyState === EventSource.CLOSED) {
        // refused (not an event stream): EventSource gives up, so start again from the saved cursor
        source.close();
        window.setTimeout(connect, RETRY_MS);
      }
    };
  }

  function start() {
    load();
    fetch("alerts/texts" + (lang ? "?lang=" + encodeURIComponent(lang) : ""))
      .then(function (response) {
        if (!response.ok) throw new Error("texts: HTTP " + response.status);
        return response.json();
      })
      .then(function (doc) {
        texts = doc.texts;
        document.documentElement.lang = doc.locale;
        chrome();
        state.cards
          .slice()
          .reverse()
          .forEach(function (card) {
            add(card, false);
          });
        refresh();
        connect();
      })
      .catch(function () {
        window.setTimeout(start, RETRY_MS);
      });
  }

  start();
})();
