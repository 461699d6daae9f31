// The usage console: one page over the usage API (DescribeApps,
// DescribeUsageData, DescribeUsageDetails, ExportUsageDetails,
// DescribeUsagePackages, DescribeStatement(s), DescribeAlerts), asked at
// console/api as the signed-in account.
//
// Everything that comes from events (names, ids) is put on the page with
// textContent only, never as markup; the Content-Security-Policy the page is
// served with runs nothing but this file and the chart library.
"use strict";
(function () {
  const PAGE_SIZE = 20;
  const DAY_MS = 86400000;
  const HOUR_MS = 3600000;
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
  const INSTANTS = new Set(["StartTime", "EndTime"]);
  const PACKAGE_COLUMNS = [["PackageName", "Package"], ["PackageId", "ID"], ["Minutes", "Minutes"], ["UsedMinutes", "Used"], ["RemainingMinutes", "Remaining"], ["ValidFrom", "Valid from"], ["ValidTo", "Valid to"], ["Status", "Status"], ["RunOutDate", "Runs out (at the last 7 days' rate)"]];
  const ALERT_COLUMNS = [["RaisedAt", "Raised"], ["Kind", "Alert"], ["PackageName", "Package"], ["PackageId", "ID"], ["RemainingMinutes", "Minutes left then"], ["AlertId", "Alert ID"]];
  const ALERT_KINDS = { PackageLow: "Running low (a fifth or less left)", PackageExhausted: "Used up: pay-as-you-go from here", PackageExpiring: "Expires within 7 days" };
  // A statement's own month and each adjustment it carries, one line each.
  const STATEMENT_COLUMNS = [["Statement", "Statement"], ["Status", "Status"], ["ClosesAt", "Closes"], ["Line", "Line"],
    ["AvSeconds", "A/V seconds"], ["AvBillable", "A/V billable min"], ["AvPackage", "From packages (min)"], ["AvPayg", "Pay-as-you-go (min)"],
    ["RecSeconds", "Recording seconds"], ["RecBillable", "Recording billable min"], ["Audio", "Audio s"], ["V480", "480p s"],
    ["V720", "720p s"], ["V1080", "1080p s"], ["PeakBytes", "Storage peak bytes"]];
  const SERIES_COLORS = ["#1f6feb", "#e8710a", "#2da44e", "#8250df", "#cf222e"];

  const $ = (id) => document.getElementById(id);
  const el = {
    service: $("service"), app: $("app"), period: $("period"), custom: $("custom"),
    from: $("from"), to: $("to"), controls: $("controls"), window: $("window"), status: $("status"),
    totals: $("totals"), chart: $("chart"), chartData: $("chart-data"), detailsSection: $("details-section"),
    details: $("details"), prev: $("page-prev"), next: $("page-next"), pageInfo: $("page-info"),
    download: $("download"), packages: $("packages"), signin: $("signin"), zone: $("zone"),
    statements: $("statements"), alerts: $("alerts"),
  };
  const signIn = readSignIn();
  const view = { appId: null, service: "AudioVideo", period: "7d", from: null, to: null, page: 1 };
  let plot = null;
  let shown = null; // the window drawn last: pages and the download ask for it
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

  // ------------------------------------------------- the app's time zone --
  // Every day and time on the page is the app's billing time zone (the
  // TimeZone of DescribeApps): its local dates, and instants written with
  // the zone's UTC offset at that instant. A day runs from one local
  // midnight to the next: 23, 24 or 25 hours where clocks change.
  const zones = new Map(); // AppId -> TimeZone, from DescribeApps
  const clocks = new Map(); // zone -> Intl.DateTimeFormat

  /** The zone's clock, or null where this browser does not know the zone. */
  function clockOf(zone) {
    if (!clocks.has(zone)) {
      let format = null;
      try {
        format = new Intl.DateTimeFormat("en-US", {
          timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
          hour: "2-digit", minute: "2-digit", second: "2-digit",
        });
      } catch (error) {
        format = null; // a RangeError: a name this browser's zone data lacks
      }
      clocks.set(zone, format);
    }
    return clocks.get(zone);
  }
  /** The zone the page computes with: the app's, or UTC where the browser does not know it. */
  function zoneOf(appId) {
    const zone = zones.get(appId) || "UTC";
    return clockOf(zone) ? zone : "UTC";
  }
  function pad(n) { return String(n).padStart(2, "0"); }

  /** The wall clock in `zone` at the instant `ms`: its local time read as if
   *  it were UTC (`local`), its date and times as text, and its UTC offset. */
  function wall(ms, zone) {
    const parts = {};
    for (const part of clockOf(zone).formatToParts(new Date(ms))) parts[part.type] = part.value;
    const hour = Number(parts.hour) % 24;
    const local = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), hour, Number(parts.minute), Number(parts.second));
    const offset = Math.round((local - Math.floor(ms / 1000) * 1000) / 60000);
    const sign = offset < 0 ? "-" : "+";
    return {
      local,
      date: parts.year + "-" + parts.month + "-" + parts.day,
      minute: pad(hour) + ":" + parts.minute,
      second: pad(hour) + ":" + parts.minute + ":" + parts.second,
      offset: sign + pad(Math.floor(Math.abs(offset) / 60)) + ":" + pad(Math.abs(offset) % 60),
    };
  }
  function addDays(day, n) { return new Date(Date.parse(day + "T00:00:00Z") + n * DAY_MS).toISOString().slice(0, 10); }
  function utcText(ms) { return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z"); }

  /** The first instant of the local date `day` in `zone`: its midnight (the
   *  first, were there two), or where a clock change skips midnight, the
   *  instant the day begins. */
  function dayStart(day, zone) {
    const target = Date.parse(day + "T00:00:00Z");
    let found = null;
    for (const hours of [-36, -12, 0, 12, 36]) {
      const offsetMs = wall(target + hours * HOUR_MS, zone).local - (target + hours * HOUR_MS);
      const at = target - offsetMs;
      if (wall(at, zone).local === target && (found === null || at < found)) found = at;
    }
    if (found !== null) return found;
    // Midnight does not exist that day: the first second whose local time is
    // past it (offsets lie within -12 h … +14 h).
    let lo = (target - 15 * HOUR_MS) / 1000, hi = (target + 15 * HOUR_MS) / 1000;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (wall(mid * 1000, zone).local >= target) hi = mid; else lo = mid;
    }
    return hi * 1000;
  }

  /** An instant of an answer (RFC 3339) as the page shows it: the local date
   *  and time in the app's zone and its offset, "2026-12-02 07:30:00 +08:00". */
  function instantText(value, zone) {
    if (value === null || value === undefined) return NULL_TEXT;
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) return String(value);
    const w = wall(ms, zone);
    return w.date + " " + w.second + " " + w.offset;
  }

  /** The window's zone and the offsets in effect over it: "Asia/Shanghai (UTC+08:00)". */
  function zoneText(w) {
    // Sampled each hour (an offset holds for months at a time); a window
    // longer than the API answers, more sparsely.
    const offsets = [];
    const step = Math.max(HOUR_MS, Math.ceil((w.endMs - w.startMs) / 2000));
    for (let at = w.startMs; at < w.endMs || offsets.length === 0; at += step) {
      const offset = "UTC" + wall(at, w.zone).offset;
      if (!offsets.includes(offset)) offsets.push(offset);
    }
    const label = w.zone + " (" + offsets.join(", ") + ")";
    return w.named === w.zone ? label : w.named + " (not known to this browser; shown in " + label + ")";
  }

  // ------------------------------------------------------------ the window --
  /** [StartTime, EndTime) of the chosen period: whole local days of the app,
   *  asked as the UTC instants of their local midnights. */
  function windowOf() {
    const zone = zoneOf(view.appId);
    const today = wall(Date.now(), zone).date;
    let first = today, last = today;
    if (view.period === "7d") first = addDays(today, -6);
    else if (view.period === "30d") first = addDays(today, -29);
    else if (view.period === "custom") { first = view.from; last = view.to; }
    const startMs = dayStart(first, zone);
    const endMs = dayStart(addDays(last, 1), zone);
    const days = Math.round((Date.parse(last) - Date.parse(first)) / DAY_MS) + 1;
    const named = zones.get(view.appId) || "UTC";
    return { zone, named, first, last, days, startMs, endMs, start: utcText(startMs), end: utcText(endMs) };
  }
  /** A real date YYYY-MM-DD (not 2026-02-30). */
  function isDate(day) { return /^\d{4}-\d{2}-\d{2}$/.test(day || "") && !Number.isNaN(Date.parse(day)) && addDays(day, 0) === day; }

  /** A custom range the page cannot even ask about; every other limit (at
   *  most 31 days, not ending before it starts, not too old) is the API's to
   *  answer, so the message is the contract's own. */
  function customProblem() {
    if (!isDate(view.from) || !isDate(view.to)) {
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
    el.alerts.tHead.replaceChildren();
    el.alerts.tBodies[0].replaceChildren();
    el.pageInfo.textContent = "";
    el.prev.disabled = el.next.disabled = el.download.disabled = true;
    delete el.chart.dataset.kind;
    delete el.chart.dataset.ticks;
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

  /** Which buckets get a label on the time axis: every `step`-th day
   *  (today always), or the local hours that are a multiple of `step` hours. */
  function tickIndexes(chart, width) {
    const count = chart.xs.length;
    const fits = (labels) => labels * (chart.daily ? 52 : 46) <= width;
    if (chart.daily) {
      const step = [1, 2, 3, 5, 7, 10, 15, 31].find((n) => fits(Math.ceil(count / n))) || count;
      return chart.xs.map((_, i) => i).filter((i) => (count - 1 - i) % step === 0);
    }
    const step = [1, 2, 3, 4, 6, 12, 24].find((n) => fits(Math.ceil(count / n))) || 24;
    return chart.xs.map((_, i) => i).filter((i) => Number(chart.ticks[i].slice(0, 2)) % step === 0);
  }

  /** The trend: local days as bars (grouped, one per series, each inside its
   *  own day), local clock hours as a line; the time axis labelled with local
   *  dates or local hours, the hover legend with the bucket's local day or
   *  hour. */
  function drawChart(trend, w) {
    if (plot) { plot.destroy(); plot = null; }
    const fields = SERVICES[view.service].points;
    const points = trend.Data;
    const daily = trend.Interval !== 3600;
    const starts = points.map((p) => Date.parse(p.Timestamp));
    // A bucket ends where the next begins; the last one where the window ends.
    const ends = starts.map((ms, i) => i + 1 < starts.length ? starts[i + 1] : daily ? (w.endMs > ms ? w.endMs : ms + DAY_MS) : ms + HOUR_MS);
    const clock = starts.map((ms) => wall(ms, w.zone));
    const chart = {
      daily,
      // Hover and table: the local day, or the local hour with its offset.
      labels: clock.map((c) => daily ? c.date : c.date + " " + c.minute + " " + c.offset),
      // The axis: "12-02", or "07:00".
      ticks: clock.map((c) => daily ? c.date.slice(5) : c.minute),
      // A day's bars stand in the middle of the day; an hour's point at its start.
      xs: starts.map((ms, i) => (daily ? (ms + ends[i]) / 2 : ms) / 1000),
    };
    const rows = points.map((p, i) => Object.assign({}, p, { Timestamp: chart.labels[i] }));
    fillTable(el.chartData, [["Timestamp", (daily ? "Day" : "Hour") + " (" + w.zone + ")"], ...fields], rows, (p, key) => text(p[key]));
    el.chart.dataset.kind = daily ? "bars" : "line";
    el.chart.dataset.ticks = "";
    if (points.length === 0) return;

    const index = new Map(chart.xs.map((x, i) => [x, i]));
    const data = [chart.xs, ...fields.map(([key]) => points.map((p) => p[key]))];
    const last = chart.xs.length - 1;
    let series;
    let range;
    if (daily) {
      // Grouped bars: each series gets an equal slice of the middle 80% of
      // the shortest day; a 23- or 25-hour day keeps its own span.
      const shortest = Math.min(...starts.map((ms, i) => ends[i] - ms)) / 1000;
      const width = 0.8 * shortest / fields.length;
      series = fields.map(([, label], s) => {
        const left = chart.xs.map((x) => x - 0.4 * shortest + s * width);
        return {
          label, stroke: SERIES_COLORS[s], fill: SERIES_COLORS[s], width: 1, points: { show: false },
          paths: uPlot.paths.bars({ disp: { x0: { unit: 1, values: () => left }, size: { unit: 1, values: () => [width] } } }),
        };
      });
      range = [starts[0] / 1000, ends[last] / 1000];
    } else {
      series = fields.map(([, label], s) => ({ label, stroke: SERIES_COLORS[s], width: 2, points: { show: points.length <= 48 } }));
      range = last > 0 ? [chart.xs[0], chart.xs[last]] : [chart.xs[0] - 1800, chart.xs[0] + 1800];
    }
    const opts = {
      width: Math.max(200, el.chart.clientWidth),
      height: 240,
      scales: {
        x: { time: false, range: () => range },
        y: { range: (u, min, max) => uPlot.rangeNum(0, Math.max(max || 0, 1), 0.1, true) },
      },
      series: [{ label: daily ? "Day" : "Hour", value: (u, v, s, i) => i === null || i === undefined ? NULL_TEXT : chart.labels[i] }, ...series],
      axes: [{
        splits: (u) => tickIndexes(chart, Math.max(100, u.width - 90)).map((i) => chart.xs[i]),
        values: (u, splits) => {
          el.chart.dataset.ticks = splits.map((x) => chart.labels[index.get(x)]).join("|");
          return splits.map((x) => chart.ticks[index.get(x)]);
        },
        grid: { show: !daily },
      }, { size: 70 }],
      legend: { live: true },
      // The hover marks a day's group of bars by the legend alone.
      cursor: daily ? { points: { show: false }, y: false } : {},
    };
    plot = new uPlot(opts, data, el.chart);
  }

  function drawDetails(details, w) {
    if (!details) return;
    fillTable(el.details, DETAIL_COLUMNS, details.Records, (row, key) =>
      key === "Packages" ? packagesText(row.Packages) : INSTANTS.has(key) ? instantText(row[key], w.zone) : text(row[key]));
    const pages = Math.max(1, Math.ceil(details.TotalCount / PAGE_SIZE));
    el.pageInfo.textContent = "Page " + details.PageNumber + " of " + pages + " \u00b7 " + details.TotalCount + " rows";
    el.prev.disabled = details.PageNumber <= 1;
    el.next.disabled = details.PageNumber >= pages;
    el.download.disabled = details.TotalCount === 0;
  }

  function drawPackages(answer) {
    fillTable(el.packages, PACKAGE_COLUMNS, answer.Packages, (row, key) => text(row[key]));
  }

  /** The app's alerts, newest first, each kind said in words and its instant in the app's zone. */
  function drawAlerts(answer, zone) {
    fillTable(el.alerts, ALERT_COLUMNS, answer.Alerts, (row, key) =>
      key === "Kind" ? (ALERT_KINDS[row.Kind] || row.Kind) : key === "RaisedAt" ? instantText(row.RaisedAt, zone) : text(row[key]));
  }

  /** The current and last month's statements (newest first) as lines. */
  function statementLines(statements) {
    const lines = [];
    const figures = (av, rec) => ({
      AvSeconds: av.DurationSeconds, AvBillable: av.BillableMinutes, AvPackage: av.PackageMinutes,
      AvPayg: av.PayAsYouGoMinutes, RecSeconds: rec.DurationSeconds, RecBillable: rec.BillableMinutes,
      Audio: rec.AudioSeconds, V480: rec.V480Seconds, V720: rec.V720Seconds, V1080: rec.V1080Seconds,
    });
    for (const s of statements) {
      const head = { Statement: s.Month, Status: s.Status, ClosesAt: s.ClosesAt };
      lines.push(Object.assign({}, head, { Line: "Own month" }, figures(s.AudioVideo, s.Recording), { PeakBytes: s.Storage.PeakBytes }));
      for (const a of s.Adjustments) {
        lines.push(Object.assign({}, head, { Line: "Adjustment of " + a.Month }, figures(a.AudioVideo, a.Recording), { PeakBytes: null }));
      }
    }
    return lines;
  }

  function drawStatements(statements) {
    fillTable(el.statements, STATEMENT_COLUMNS, statementLines(statements), (row, key) => text(row[key]));
  }

  /** This month's and last month's statements: the months from DescribeStatements. */
  async function statementsOf(appId) {
    const list = await ask({ Action: "DescribeStatements", AppId: appId });
    return Promise.all(list.Statements.slice(0, 2).map((s) => ask({ Action: "DescribeStatement", AppId: appId, Month: s.Month })));
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
      if (problem) { clearData(); el.window.textContent = el.zone.textContent = ""; setState("error", problem); return; }
    }
    const w = shown = windowOf();
    el.window.textContent = w.first === w.last ? w.first : w.first + " \u2013 " + w.last + " (" + w.days + " days)";
    el.zone.textContent = zoneText(w);
    setState("loading", "Loading\u2026");
    const interval = w.days === 1 ? 3600 : 86400;
    try {
      const [trend, details, packages, statements, alerts] = await Promise.all([
        ask(windowParams(w, { Action: "DescribeUsageData", Interval: String(interval) })),
        SERVICES[view.service].details ? ask(windowParams(w, { Action: "DescribeUsageDetails", PageNumber: String(view.page), PageSize: String(PAGE_SIZE) })) : null,
        ask({ Action: "DescribeUsagePackages", AppId: view.appId }),
        statementsOf(view.appId),
        ask({ Action: "DescribeAlerts", AppId: view.appId }),
      ]);
      if (ticket !== loadTicket) return;
      drawTotals(trend, details);
      drawChart(trend, w);
      drawDetails(details, w);
      drawPackages(packages);
      drawStatements(statements);
      drawAlerts(alerts, w.zone);
      drawn();
      if (isEmpty(trend, details)) setState("empty", "No usage in this period.");
      else setState("ready", "Updated " + wall(Date.now(), w.zone).second + " (" + w.zone + ").");
    } catch (error) {
      if (ticket !== loadTicket) return;
      showError(error);
    }
  }

  async function turnPage(page) {
    const ticket = ++loadTicket;
    const w = shown;
    setState("loading", "Loading\u2026");
    try {
      const details = await ask(windowParams(w, { Action: "DescribeUsageDetails", PageNumber: String(page), PageSize: String(PAGE_SIZE) }));
      if (ticket !== loadTicket) return;
      view.page = page;
      drawDetails(details, w);
      setState(document.body.dataset.state === "empty" ? "empty" : "ready", "Page " + page + ".");
    } catch (error) {
      if (ticket !== loadTicket) return;
      showError(error);
    }
  }

  async function download() {
    el.download.disabled = true;
    try {
      const response = await call(windowParams(shown, { Action: "ExportUsageDetails" }));
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
    for (const a of apps) zones.set(a.AppId, typeof a.TimeZone === "string" && a.TimeZone ? a.TimeZone : "UTC");
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
