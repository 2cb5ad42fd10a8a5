// fwtrust-server dashboard: overview, rollouts, devices, alerts. Every string from the
// server (device-reported ones included) goes into the page as text (textContent),
// never as HTML. State-changing requests carry the session's CSRF token.
"use strict";

let csrf = null;

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k === "onclick") e.addEventListener("click", v);
    else e.setAttribute(k, String(v));
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
  }
  return e;
}

function table(head, rows) {
  return el("table", {}, el("tr", {}, ...head.map((h) => el("th", {}, h))),
    ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c)))));
}

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") {
    opts.headers["X-CSRF-Token"] = csrf || "";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch(path, opts);
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(j.detail || j.error || ("HTTP " + r.status));
    err.status = r.status;
    throw err;
  }
  return j;
}

function show(...nodes) {
  const m = document.getElementById("main");
  m.replaceChildren(...nodes);
}

function fmtTime(t) {
  return t ? new Date(t * 1000).toISOString().replace(".000Z", "Z") : "-";
}

function pct(v) {
  return v === null || v === undefined ? "-" : (v * 100).toFixed(1) + "%";
}

function login(msg) {
  const input = el("input", { type: "password", id: "token", size: 70, autocomplete: "off" });
  const form = el("form", { id: "login" },
    el("p", {}, "Sign in with an admin token (fwtrust-server admin-token create NAME --role ROLE)."),
    input, " ", el("button", { type: "submit" }, "Sign in"),
    msg ? el("p", { class: "error" }, msg) : null);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const s = await api("POST", "/v1/session", { token: input.value });
      csrf = s.csrf;
      input.value = "";
      signedIn(s);
      route();
    } catch (e) {
      login(e.message);
    }
  });
  show(form);
}

function signedIn(s) {
  document.getElementById("who").replaceChildren(
    document.createTextNode(s.name + " (" + s.role + ") "),
    el("button", { id: "logout", onclick: async () => { await api("POST", "/v1/session/logout"); csrf = null; login(); } }, "Sign out"));
}

// A line chart (uPlot); the plotted values are also on the element for checks.
function chart(id, title, xs, series, label) {
  const box = el("div", { id, class: "chart" }, el("h3", {}, title));
  box.dataset.values = JSON.stringify(series);
  if (xs.length && window.uPlot) {
    const opts = {
      width: 560, height: 220,
      series: [{}, { label, stroke: "#2a6", width: 2, points: { show: true, size: 6 } }],
      scales: { y: { range: [0, 1] } },
    };
    setTimeout(() => new window.uPlot(opts, [xs, series], box), 0);
  } else {
    box.appendChild(el("p", {}, "no data yet"));
  }
  return box;
}

async function overview() {
  const [m, rs, al] = await Promise.all([api("GET", "/v1/admin/metrics"), api("GET", "/v1/admin/rollouts"),
    api("GET", "/v1/admin/alerts")]);
  const d = m.devices, rec = m.recovery;
  const ot = (m.updates.over_time || []).slice().sort((a, b) => a.hour - b.hour);
  const cards = el("div", { class: "cards" },
    el("div", { class: "card", id: "card-devices" }, "devices", el("div", { class: "v" }, d.active)),
    el("div", { class: "card", id: "card-vulnerable" }, "on vulnerable versions", el("div", { class: "v" }, d.on_vulnerable_version)),
    el("div", { class: "card", id: "card-ttr" }, "time to recover (mean / p90)",
      el("div", { class: "v" }, rec.mean_seconds === null ? "-" : rec.mean_seconds.toFixed(0) + " s / " + rec.p90_seconds + " s")),
    el("div", { class: "card", id: "card-tamper" }, "tamper detections", el("div", { class: "v" }, m.tamper.total)),
    el("div", { class: "card", id: "card-alerts" }, "alerts", el("div", { class: "v" }, al.alerts.length)));
  show(el("h2", {}, "Fleet"), cards,
    chart("chart-success", "Update success rate over time (per hour)", ot.map((o) => o.hour),
      ot.map((o) => o.success_rate), "success rate"),
    el("h3", {}, "Versions"),
    table(["version", "devices"], Object.entries(d.by_version).map(([v, n]) => [v, n])),
    el("h3", {}, "Check-in freshness"),
    table(["fresh", "late", "stale", "never"], [[d.checkin.fresh, d.checkin.late, d.checkin.stale, d.checkin.never]]),
    el("h3", {}, "Tamper detections by reason"),
    table(["reason", "count"], Object.entries(m.tamper.by_reason)),
    el("h3", {}, "Rollouts"),
    table(["rollout", "name", "target", "state", "success rate"], rs.rollouts.map((r) => {
      const st = m.updates.by_rollout.find((x) => x.rollout === r.id);
      return [el("a", { href: "#/rollout/" + encodeURIComponent(r.id) }, r.id), r.name, r.target,
        el("span", { class: "state-" + r.state }, r.state), pct(st ? st.success_rate : null)];
    })),
    el("h3", {}, "Latest alerts"), alertTable(al.alerts.slice(0, 10)));
}

function alertTable(alerts) {
  return table(["time", "rule", "subject", "detail", "containment", "webhooks"], alerts.map((a) => [
    fmtTime(a.time), a.rule,
    a.device_id ? el("a", { href: "#/device/" + encodeURIComponent(a.device_id) }, a.subject) : a.subject,
    a.detail, a.containment, a.delivered + "/" + a.webhooks]));
}

async function alertsPage() {
  const al = await api("GET", "/v1/admin/alerts");
  show(el("h2", {}, "Alerts"), alertTable(al.alerts));
}

async function rolloutPage(id) {
  const r = await api("GET", "/v1/admin/rollouts/" + encodeURIComponent(id));
  const msg = el("p", { id: "action-result" });
  const act = (a) => async () => {
    try {
      const body = a === "approve" ? {} : { reason: "from the dashboard" };
      await api("POST", "/v1/admin/rollouts/" + encodeURIComponent(id) + "/" + a, body);
      await rolloutPage(id);
      document.getElementById("action-result").textContent = a + ": done";
    } catch (e) {
      msg.textContent = a + ": " + e.message;
      msg.className = "error";
    }
  };
  show(el("h2", {}, "Rollout " + r.id + " (" + r.name + ")"),
    el("p", {}, "target ", r.target, " for ", r.hardware_id, "; state ",
      el("span", { id: "rollout-state", class: "state-" + r.state }, r.state), r.reason ? ": " + r.reason : ""),
    el("p", {}, "created by ", r.created_by, "; approvals: ", r.approvals.join(", ") || "none",
      " (", r.approvals_needed, " needed beyond the first group)"),
    el("div", {},
      el("button", { id: "btn-halt", onclick: act("halt") }, "Halt"),
      el("button", { id: "btn-resume", onclick: act("resume") }, "Resume"),
      el("button", { id: "btn-approve", onclick: act("approve") }, "Approve"),
      el("button", { id: "btn-cancel", onclick: act("cancel") }, "Cancel")),
    msg,
    table(["group", "devices", "pending", "assigned", "in flight", "confirmed", "failed", "progress", "started"],
      r.groups.map((g) => [g.name, g.devices, g.pending, g.assigned, g.in_flight, g.confirmed, g.failed,
        el("span", { class: "bar" }, el("span", { style: "width:" + (g.devices ? Math.round(200 * g.confirmed / g.devices) : 0) + "px" })),
        g.started ? "yes" : "no"])));
}

// The newest remote attestation record (docs/attestation.md): verdict, reason, what the TPM
// quote proves the device booted, and the key's enrollment state.
function attestationPart(d) {
  const a = d.attestation;
  const key = "attestation key: " + (d.attestation_key || "none");
  if (!a) return el("div", {}, el("h3", {}, "Attestation"), el("p", { id: "device-attestation" }, "no attestation; " + key));
  const c = (a.record && a.record.signed) || {};
  return el("div", {}, el("h3", {}, "Attestation"),
    table(["time", "verdict", "reason", "detail", "booted", "boot count"],
      [[fmtTime(a.time), el("span", { id: "device-attestation", class: a.verdict === "pass" ? "ok" : "bad" }, a.verdict),
        a.reason, a.detail, a.running || "-", c.bootcount === undefined ? "-" : String(c.bootcount)]]),
    el("p", {}, key + "; the record is signed by the server (GET /v1/admin/devices/ID)"));
}

async function devicePage(id) {
  const [d, ev] = await Promise.all([api("GET", "/v1/admin/devices/" + encodeURIComponent(id)),
    api("GET", "/v1/admin/devices/" + encodeURIComponent(id) + "/events")]);
  const run = d.running || {};
  show(el("h2", {}, "Device " + d.id),
    table(["hardware", "serial", "status", "running", "version", "tags", "last seen"],
      [[d.hardware_id, d.serial, d.status, run.name || "-", el("span", { id: "device-version" }, run.version || "-"),
        (d.tags || []).join(", "), fmtTime(d.last_seen)]]),
    attestationPart(d),
    el("h3", {}, "History"),
    table(["time", "kind", "actor", "detail"], ev.events.map((e) => [fmtTime(e.time), e.kind, e.actor, e.detail])));
}

async function route() {
  const h = decodeURIComponent(location.hash || "#/");
  try {
    if (h.startsWith("#/rollout/")) await rolloutPage(h.slice(10));
    else if (h.startsWith("#/device/")) await devicePage(h.slice(9));
    else if (h === "#/alerts") await alertsPage();
    else await overview();
  } catch (e) {
    if (e.status === 401) login();
    else show(el("p", { class: "error" }, e.message));
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  try {
    const s = await api("GET", "/v1/session");
    if (!s.signed_in) return login();
    csrf = s.csrf;
    signedIn(s);
    route();
  } catch (e) {
    login();
  }
});
