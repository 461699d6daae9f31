// The usage console: one page over the usage API (DescribeApps,
// DescribeUsageData, DescribeUsageDetails, ExportUsageDetails,
// DescribeUsagePackages), asked at console/api as the signed-in account.
//
// Everything that comes from events (names, ids) is put on the page with
// textContent only, never as markup; the Content-Security-Policy the page is
// served with runs nothing but this file and the chart library.
"use strict";
(function () {
  const PAGE_SIZE = 20;
    const DAY_MS = 86400000;
  const NULL_TEXT = "\u2014";
  const TOKEN_KEY = "rtc-usage.idToken";
  const SIGN_IN_KEY = "rtc-usage.signIn";

  const SERVICES = {
    AudioVideo: {
      points: [["InteractiveDuration", "Interactive (s)"], ["PlaybackDuration", "Playback (s)"], ["TotalDuration", "Total (s)"]],
      summaries: [["InteractiveSummaryDuration", "Interactive seconds"], ["PlaybackSummaryDuration", "Playback seconds"], ["TotalSummaryDuration", "Total seconds"]],
      details: true,
    },
    Recording: {
      points: [["TotalDuration", "Total (s)"], ["AudioDuration", "Audio (s)"], ["V480Duration", "480p (s)"], ["V720Duration", "720p (s)"], ["V1080Duration", "1080p (s)"]],
      summaries: [["TotalSummaryDuration", "Total seconds"], ["AudioSummaryDuration", "Audio seconds"], ["V480SummaryDuration", "480p seconds"], ["V720SummaryDuration", "720p seconds"], ["V1080SummaryDuration", "1080p seconds"]],
      details: true,
    },
    Storage: {
      points: [["PeakBytes", "Peak bytes"]],
      summaries: [["PeakSummaryBytes", "Peak bytes"]],
      details: false,
    },
  };
  const DETAIL_SUMMARY = [["DurationSeconds", "Usage seconds"], ["BillableMinutes", "Billable minutes"], ["PackageMinutes", "From packages (min)"], ["PayAsYouGoMinutes", "Pay-as-you-go (min)"]];
  const DETAIL_COLUMNS = [["Date", "Date"], ["ClassName", "Class"], ["ClassId", "Class ID"], ["StartTime", "Start"], ["EndTime", "End"], ["UsageType", "Type"], ["UserCount", "Users"], ["DurationSeconds", "Seconds"], ["BillableMinutes", "Minutes"], ["Packages", "Packages"], ["PackageMinutes", "Package min"], ["PayAsYouGoMinutes", "Pay-as-you-go min"]];
  const PACKAGE_COLUMNS = [["PackageName", "Package"], ["PackageId", "ID"], ["Minutes", "Minutes"], ["UsedMinutes", "Used"], ["RemainingMinutes", "Remaining"], ["ValidFrom", "Valid from"], ["ValidTo", "Valid to"], ["Status", "Status"]];
  const SERIES_COLORS = ["#1f6feb", "#e8710a", "#2da44e", "#8250df", "#cf222e"];

  const $ = (id) => document.getElementById(id);
  const el = {
    service: $("service"), app: $("app"), period: $("period"), custom: $("custom"),
    from: $("from"), to: $("to"), controls: $("controls"), window: $("window"), status: $("status"),
    totals: $("totals"), chart: $("chart"), chartData: $("chart-data"), detailsSection: $("details-section"),
    details: $("details"), prev: $("page-prev"), next: $("page-next"), pageInfo: $("page-info"),
    download: $("download"), packages: $("packages"), signin: $("signin"),
  };
  const signIn = readSignIn();
  const view = { appId: null, service: "AudioVideo", period: "7d", from: null, to: null, page: 1 };
  let plot = null;
  let generation = 0;
  let loadTicket = 0;
  let drawnMarked = false;

  /** An answer of the API that is not 200: its contract body, or what we know. */
  class ApiError extends Error {
    constructor(status, body) {
      const code = body && typeof body.Code === "string" ? body.Code : "HTTP " + status;
      const message = body && typeof body.Message === "string" ? body.Message : "The service answered HTTP " + status + ".";
      super(message);
      this.status = status;
      this.code = code;
      this.recommend = body && typeof body.Recommend === "string" ? body.Recommend : "";
    }
  }

  // ------------------------------------------------------------------ text --
  function text(value) {
    if (value === null || value === undefined) return NULL_TEXT;
    return String(value);
  }
  function packagesText(list) {
    if (!Array.isArray(list) || list.length === 0) return NULL_TEXT;
    return list.map((p) => p.PackageName + ": " + p.Minutes + " min").join("; ");
  }
  function node(tag, content, attrs) {
    const e = document.createElement(tag);
    if (content !== undefined) e.textContent = content;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function fillTable(table, columns, rows, cell) {
    const head = node("tr");
    for (const [key, label] of columns) head.appendChild(node("th", label, { "data-key": key, scope: "col" }));
    table.tHead.replaceChildren(head);
    const body = document.createDocumentFragment();
    for (const row of rows) {
      const tr = node("tr");
      for (const [key] of columns) tr.appendChild(node("td", cell(row, key), { "data-key": key }));
      body.appendChild(tr);
    }
    table.tBodies[0].replaceChildren(body);
  }

  // ------------------------------------------------------------ the window --
  function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
  function dayMs(day) { return Date.parse(day + "T00:00:00Z"); }
  function todayMs() { return dayMs(utcDay(Date.now())); }

  /** [StartTime, EndTime) of the chosen period, in whole UTC days. */
  function windowOf() {
    const today = todayMs();
    let first = today, last = today;
    if (view.period === "7d") first = today - 6 * DAY_MS;
    else if (view.period === "30d") first = today - 29 * DAY_MS;
    else if (view.period === "custom") { first = dayMs(view.from); last = dayMs(view.to); }
    const start = new Date(first).toISOString().replace(".000Z", "Z");
    const end = new Date(last + DAY_MS).toISOString().replace(".000Z", "Z");
    const days = Math.round((last + DAY_MS - first) / DAY_MS);
    return { start, end, days, first: utcDay(first), last: utcDay(last) };
  }

  /** A custom range the page cannot even ask about; every other limit (at
   *  most 31 days, not ending before it starts, not too old) is the API's to
   *  answer, so the message is the contract's own. */
  function customProblem() {
    if (!view.from || !view.to || Number.isNaN(dayMs(view.from)) || Number.isNaN(dayMs(view.to))) {
      return "Choose both days of the custom range.";
    }
    return null;
  }

  // ------------------------------------------------------------------- API --
  function apiUrl(params) {
    const url = new URL("console/api", location.href);
    url.search = new URLSearchParams(params).toString();
    return url;
  }
  function headers() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    return token ? { Authorization: token } : {};
  }
  async function call(params) {
    const response = await fetch(apiUrl(params), { headers: headers(), credentials: "omit" });
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    return response;
  }
  async function ask(params) { return (await call(params)).json(); }

  function windowParams(w, extra) {
    return Object.assign({ StartTime: w.start, EndTime: w.end, AppId: view.appId, ServiceType: view.service }, extra);
  }

  // --------------------------------------------------------------- drawing --
  function setState(state, message) {
    document.body.dataset.state = state;
    el.status.textContent = message;
    if (state !== "loading") document.body.dataset.generation = String(++generation);
  }

  function showError(error) {
    const parts = [error.message];
    if (error.code) parts[0] += " (" + error.code + ")";
    if (error.recommend) parts.push(error.recommend);
    clearData();
    setState("error", parts.join(" "));
    if (error.status === 403 && signIn) el.signin.hidden = false;
  }

  function clearData() {
    el.totals.replaceChildren();
    el.chartData.tHead.replaceChildren();
    el.chartData.tBodies[0].replaceChildren();
    el.details.tHead.replaceChildren();
    el.details.tBodies[0].replaceChildren();
    el.packages.tHead.replaceChildren();
    el.packages.tBodies[0].replaceChildren();
    el.pageInfo.textContent = "";
    el.prev.disabled = el.next.disabled = el.download.disabled = true;
    if (plot) { plot.destroy(); plot = null; }
  }

  function drawTotals(trend, details) {
    const items = SERVICES[view.service].summaries.map(([key, label]) => [key, label, trend[key]]);
    if (details) for (const [key, label] of DETAIL_SUMMARY) items.push([key, label, details.Summary[key]]);
    el.totals.replaceChildren(...items.map(([key, label, value]) => {
      const item = node("div", undefined, { "data-key": key });
      item.append(node("dt", label), node("dd", text(value)));
      return item;
    }));
  }

  function drawChart(trend) {
    const fields = SERVICES[view.service].points;
    const points = trend.Data;
    fillTable(el.chartData, [["Timestamp", "Time (UTC)"], ...fields], points, (p, key) => text(p[key]));
    const xs = points.map((p) => Date.parse(p.Timestamp) / 1000);
    const data = [xs, ...fields.map(([key]) => points.map((p) => p[key]))];
    const width = Math.max(200, el.chart.clientWidth);
    const opts = {
      width,
      height: 240,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      series: [{}, ...fields.map(([, label], i) => ({ label, stroke: SERIES_COLORS[i], width: 2, points: { show: points.length <= 48 } }))],
      axes: [{}, { size: 70 }],
      legend: { live: true },
    };
    if (plot) plot.destroy();
    plot = new uPlot(opts, data, el.chart);
  }

  function drawDetails(details) {
    if (!details) return;
    fillTable(el.details, DETAIL_COLUMNS, details.Records, (row, key) => key === "Packages" ? packagesText(row.Packages) : text(row[key]));
    const pages = Math.max(1, Math.ceil(details.TotalCount / PAGE_SIZE));
    el.pageInfo.textContent = "Page " + details.PageNumber + " of " + pages + " \u00b7 " + details.TotalCount + " rows";
    el.prev.disabled = details.PageNumber <= 1;
    el.next.disabled = details.PageNumber >= pages;
    el.download.disabled = details.TotalCount === 0;
  }

  function drawPackages(answer) {
    fillTable(el.packages, PACKAGE_COLUMNS, answer.Packages, (row, key) => text(row[key]));
  }

  function isEmpty(trend, details) {
    const zero = SERVICES[view.service].summaries.every(([key]) => !trend[key]);
    return zero && (!details || details.TotalCount === 0);
  }

  function drawn() {
    // The moment the chart and the table are on the page, for measuring.
    if (!drawnMarked) { performance.mark("usage-drawn"); drawnMarked = true; }
  }

  // ---------------------------------------------------------------- views --
  async function load() {
    const ticket = ++loadTicket;
    writeHash();
    el.detailsSection.hidden = !SERVICES[view.service].details;
    if (view.period === "custom") {
      const problem = customProblem();
      if (problem) { clearData(); setState("error", problem); return; }
    }
    const w = windowOf();
    el.window.textContent = w.first === w.last ? w.first + " (UTC)" : w.first + " \u2013 " + w.last + " (UTC, " + w.days + " days)";
    setState("loading", "Loading\u2026");
    const interval = w.days === 1 ? 3600 : 86400;
    try {
      const [trend, details, packages] = await Promise.all([
        ask(windowParams(w, { Action: "DescribeUsageData", Interval: String(interval) })),
        SERVICES[view.service].details ? ask(windowParams(w, { Action: "DescribeUsageDetails", PageNumber: String(view.page), PageSize: String(PAGE_SIZE) })) : null,
        ask({ Action: "DescribeUsagePackages", AppId: view.appId }),
      ]);
      if (ticket !== loadTicket) return;
      drawTotals(trend, details);
      drawChart(trend);
      drawDetails(details);
      drawPackages(packages);
      drawn();
      if (isEmpty(trend, details)) setState("empty", "No usage in this period.");
      else setState("ready", "Updated " + new Date().toISOString().slice(11, 19) + " UTC.");
    } catch (error) {
      if (ticket !== loadTicket) return;
      showError(error);
    }
  }

  async function turnPage(page) {
    const ticket = ++loadTicket;
    const w = windowOf();
    setState("loading", "Loading\u2026");
    try {
      const details = await ask(windowParams(w, { Action: "DescribeUsageDetails", PageNumber: String(page), PageSize: String(PAGE_SIZE) }));
      if (ticket !== loadTicket) return;
      view.page = page;
      drawDetails(details);
      setState(document.body.dataset.state === "empty" ? "empty" : "ready", "Page " + page + ".");
    } catch (error) {
      if (ticket !== loadTicket) return;
      showError(error);
    }
  }

  async function download() {
    el.download.disabled = true;
    try {
      const response = await call(windowParams(windowOf(), { Action: "ExportUsageDetails" }));
      const disposition = response.headers.get("Content-Disposition") || "";
      const name = /filename="([^"]+)"/.exec(disposition);
      const link = node("a", undefined, { download: name ? name[1] : "usage.csv" });
      link.href = URL.createObjectURL(await response.blob());
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      showError(error);
    } finally {
      el.download.disabled = false;
    }
  }

  // ---------------------------------------------------- the URL's hash ----
  // #AppId=..&ServiceType=..&From=YYYY-MM-DD&To=YYYY-MM-DD: a view that can be
  // bookmarked and shared; From and To select the custom period.
  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get("ServiceType") in SERVICES) view.service = h.get("ServiceType");
    if (h.get("AppId")) view.appId = h.get("AppId");
    if (h.get("From") && h.get("To")) Object.assign(view, { period: "custom", from: h.get("From"), to: h.get("To") });
    else if (["today", "7d", "30d"].includes(h.get("Period"))) view.period = h.get("Period");
  }
  function writeHash() {
    const h = new URLSearchParams({ AppId: view.appId, ServiceType: view.service });
    if (view.period === "custom") { h.set("From", view.from || ""); h.set("To", view.to || ""); }
    else h.set("Period", view.period);
    history.replaceState(null, "", "#" + h.toString());
  }
  function showControls() {
    el.service.value = view.service;
    el.period.value = view.period;
    el.custom.hidden = view.period !== "custom";
    if (view.period === "custom") { el.from.value = view.from; el.to.value = view.to; }
  }

  // -------------------------------------------------------------- sign-in --
  // Amazon Cognito's hosted UI, authorization code flow with PKCE; the ID
  // token (which carries custom:accountId) goes to the API's Cognito
  // authorizer. Configured by the server in two meta tags; absent locally.
  function readSignIn() {
    const domain = document.querySelector('meta[name="rtc-usage-sign-in-domain"]');
    const client = document.querySelector('meta[name="rtc-usage-sign-in-client"]');
    return domain && client ? { domain: domain.content, client: client.content } : null;
  }
  function redirectUri() { return location.origin + location.pathname; }
  function base64url(bytes) {
    return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  async function startSignIn() {
    const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
    const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
    const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify({ verifier, state, hash: location.hash }));
    const url = new URL("https://" + signIn.domain + "/oauth2/authorize");
    url.search = new URLSearchParams({
      response_type: "code", client_id: signIn.client, redirect_uri: redirectUri(),
      scope: "openid email", state, code_challenge: challenge, code_challenge_method: "S256",
    }).toString();
    location.assign(url.toString());
  }
  /** Back from the hosted UI with ?code=..&state=..: trade the code for tokens. */
  async function finishSignIn() {
    const query = new URLSearchParams(location.search);
    if (!query.has("code") || !signIn) return false;
    const pending = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) || "null");
    sessionStorage.removeItem(SIGN_IN_KEY);
    history.replaceState(null, "", location.pathname + ((pending && pending.hash) || ""));
    if (!pending || pending.state !== query.get("state")) throw new ApiError(403, { Code: "Forbidden.RAM", Message: "The sign-in could not be completed; sign in again." });
    const response = await fetch("https://" + signIn.domain + "/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", client_id: signIn.client, code: query.get("code"), redirect_uri: redirectUri(), code_verifier: pending.verifier }),
    });
    const tokens = await response.json().catch(() => ({}));
    if (!response.ok || !tokens.id_token) throw new ApiError(403, { Code: "Forbidden.RAM", Message: "The sign-in service refused the sign-in; sign in again." });
    sessionStorage.setItem(TOKEN_KEY, tokens.id_token);
    return true;
  }

  // ------------------------------------------------------------------ start --
  async function start() {
    let justSignedIn = false;
    try {
      justSignedIn = await finishSignIn();
    } catch (error) {
      showError(error);
      return;
    }
    readHash();
    showControls();
    let apps;
    try {
      apps = (await ask({ Action: "DescribeApps" })).Apps;
    } catch (error) {
      if (error.status === 403 && signIn && !justSignedIn) {
        sessionStorage.removeItem(TOKEN_KEY);
        return startSignIn();
      }
      return showError(error);
    }
    el.app.replaceChildren(...apps.map((a) => node("option", a.AppName === null ? a.AppId : a.AppName + " (" + a.AppId + ")", { value: a.AppId })));
    if (view.appId && !apps.some((a) => a.AppId === view.appId)) {
      // A deep link to an app this account does not list: ask anyway, so the
      // answer is the API's own (the same for unknown and not yours).
      el.app.prepend(node("option", view.appId, { value: view.appId }));
    }
    if (!view.appId) {
      if (apps.length === 0) {
        clearData();
        return setState("empty", "This account has no applications yet: usage shows here once a producer registers one.");
      }
      view.appId = apps[0].AppId;
    }
    el.app.value = view.appId;
    await load();
  }

  function changed() {
    view.service = el.service.value;
    view.appId = el.app.value;
    view.page = 1;
    if (el.period.value === "custom" && view.period !== "custom") {
      // The range starts as the window shown so far; Apply moves it.
      const w = windowOf();
      Object.assign(view, { from: w.first, to: w.last });
    }
    view.period = el.period.value;
    showControls();
    load();
  }

  el.service.addEventListener("change", changed);
  el.app.addEventListener("change", changed);
  el.period.addEventListener("change", changed);
  el.controls.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(view, { from: el.from.value, to: el.to.value, period: "custom", page: 1 });
    load();
  });
  el.prev.addEventListener("click", () => turnPage(view.page - 1));
  el.next.addEventListener("click", () => turnPage(view.page + 1));
  el.download.addEventListener("click", download);
  el.signin.addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); startSignIn(); });
  window.addEventListener("resize", () => { if (plot) plot.setSize({ width: Math.max(200, el.chart.clientWidth), height: 240 }); });

  start();
})();
