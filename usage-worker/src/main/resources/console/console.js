// Tally operator console: a read-only view over the worker's JSON API and /metrics.
//
// Everything shown comes from documented endpoints (docs/http-api.md), asked with the bearer
// token typed in above, so the page sees exactly what that token may see. Text from the API is
// only ever set as textContent (never parsed as HTML): dead letters hold arbitrary producer input.
'use strict';

(function () {
  const REFRESH_MS = 10000;
  const FIRST_RATE_MS = 2000; // a second /metrics sample soon after connecting gives a first rate
  const MAX_WINDOWS = 2000;
  const TIERS = ['ACTIVE', 'PENDING', 'SEALED_DETAIL', 'SEALED_ROLLUP', 'QUARANTINED'];

  const $ = (id) => document.getElementById(id);
  const state = { token: '', tenant: '', connected: false, timer: null, lastSample: null, generation: 0, meterSeq: 0 };

  // ------------------------------------------------------------------ DOM helpers

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v; else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function kv(dl, rows) {
    dl.replaceChildren();
    for (const [k, v, cls, id] of rows) {
      dl.append(el('dt', null, k), el('dd', { class: cls, 'data-key': id }, v));
    }
  }

  function fmtInt(n) {
    return n === null || n === undefined || Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US');
  }

  function fmtBytes(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
  }

  function fmtAgo(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
    if (seconds < 1) return 'just now';
    if (seconds < 90) return Math.round(seconds) + ' s ago';
    if (seconds < 5400) return Math.round(seconds / 60) + ' min ago';
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + ' h ago';
    return (seconds / 86400).toFixed(1) + ' days ago';
  }

  function fmtDuration(seconds) {
    if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
    if (seconds < 120) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s';
    if (seconds < 7200) return (seconds / 60).toFixed(1) + ' min';
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + ' h';
    return (seconds / 86400).toFixed(1) + ' days';
  }

  function shortTime(iso) {
    return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—';
  }

  // ------------------------------------------------------------------ API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // Keeps every JSON number named "value" as its exact text: meter values are DECIMAL(38,9), more
  // digits than a double holds (JSON.parse source text access; older browsers fall back to the double).
  function exactValues(key, value, context) {
    if (key === 'value' && typeof value === 'number') {
      return context && typeof context.source === 'string' ? context.source : String(value);
    }
    return value;
  }

  async function api(path, kind) {
    const headers = { Accept: kind === 'text' ? 'text/plain' : 'application/json' };
    if (state.token) headers.Authorization = 'Bearer ' + state.token;
    const r = await fetch(path, { headers, cache: 'no-store', credentials: 'omit' });
    const text = await r.text();
    if (kind === 'text' && r.ok) return text;
    let body = null;
    try { body = JSON.parse(text, exactValues); } catch (e) { body = null; }
    if (!r.ok && !(kind === 'ready' && r.status === 503 && body)) {
      throw new ApiError(r.status, body && body.error ? body.error : 'http_' + r.status,
        body && body.message ? body.message : text.slice(0, 200));
    }
    return body;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
    const s = q.toString();
    return s ? '?' + s : '';
  }

  // ------------------------------------------------------------------ /metrics (Prometheus text)

  function parseMetrics(text) {
    const out = new Map();
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[2]) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
        let l;
        while ((l = re.exec(m[2])) !== null) labels[l[1]] = l[2];
      }
      if (!out.has(m[1])) out.set(m[1], []);
      out.get(m[1]).push({ labels, value: Number(m[3]) });
    }
    return out;
  }

  function metric(ms, name, labels) {
    const series = ms.get(name) || [];
    let sum = null;
    for (const s of series) {
      if (labels && !Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
      sum = (sum || 0) + s.value;
    }
    return sum;
  }

  // ------------------------------------------------------------------ connect

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }

  function disconnect(message) {
    state.connected = false;
    state.generation++;
    clearTimeout(state.timer);
    $('main').hidden = true;
    // Drop everything shown for the previous token, so nothing of it stays in the page.
    for (const id of ['health', 'ready-reasons', 'ingest', 'maintenance', 'dlq', 'chart', 'meter-query']) {
      $(id).replaceChildren();
    }
    for (const id of ['tiers', 'segments', 'meter-rows']) $(id).tBodies[0].replaceChildren();
    $('meter-tenant').textContent = '';
    $('dlq-total').textContent = '';
    setStatus(message, true);
  }

  async function connect() {
    state.token = $('token').value.trim();
    state.tenant = $('tenant').value.trim();
    state.lastSample = null;
    const generation = ++state.generation;
    clearTimeout(state.timer);
    sessionStorage.setItem('tally.token', state.token);
    sessionStorage.setItem('tally.tenant', state.tenant);
    setStatus('Connecting…', false);
    try {
      // A read every token may do: it tells a refused token apart before anything is shown.
      await api('/v1/segments');
    } catch (e) {
      if (generation === state.generation) disconnect(refusal(e));
      return;
    }
    if (generation !== state.generation) return;
    state.connected = true;
    $('main').hidden = false;
    setStatus('Connected' + (state.token ? ' with a token' : ' (no token)') + '. Refreshes every '
      + REFRESH_MS / 1000 + ' s.', false);
    await Promise.all([refresh(generation), refreshMeter()]);
    schedule(generation, FIRST_RATE_MS);
  }

  function refusal(e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
      return 'Refused (' + e.code + '): ' + e.message + '. Nothing is shown.';
    }
    return 'Cannot reach the API: ' + (e.message || e) + '. Nothing is shown.';
  }

  function schedule(generation, ms) {
    clearTimeout(state.timer);
    state.timer = setTimeout(async () => {
      if (generation !== state.generation) return;
      await refresh(generation);
      schedule(generation, REFRESH_MS);
    }, ms);
  }

  async function refresh(generation) {
    const tenantParam = { tenant: state.tenant };
    const results = await Promise.allSettled([
      api('/v1/segments'),
      api('/readyz', 'ready'),
      api('/metrics', 'text'),
      api('/v1/dead-letters' + query({ ...tenantParam, examples: 3 })),
    ]);
    if (generation !== state.generation) return;
    for (const r of results) {
      if (r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 401) {
        disconnect(refusal(r.reason));
        return;
      }
    }
    const [segments, ready, metrics, dlq] = results;
    const ms = metrics.status === 'fulfilled' ? parseMetrics(metrics.value) : new Map();
    renderHealth(ready, ms);
    renderIngest(ms);
    renderMaintenance(ms, ready, segments);
    if (segments.status === 'fulfilled') renderTiers(segments.value.segments);
    renderDeadLetters(dlq);
    const failed = results.filter((r) => r.status === 'rejected');
    setStatus(failed.length
      ? 'Some parts could not be read: ' + failed.map((f) => f.reason.message).join('; ')
      : 'Connected' + (state.token ? ' with a token' : ' (no token)') + '; updated '
        + new Date().toLocaleTimeString() + '.', failed.length > 0);
  }

  // ------------------------------------------------------------------ sections

  function renderHealth(ready, ms) {
    const r = ready.status === 'fulfilled' ? ready.value : null;
    const isReady = r && r.status === 'ready';
    const started = metric(ms, 'tally_start_time_seconds');
    const rows = [
      ['ready', r ? (isReady ? 'yes' : 'no') : 'unknown', isReady ? 'good' : 'bad', 'ready'],
      ['up since', started ? new Date(started * 1000).toISOString().replace(/\.\d+Z$/, 'Z')
        + ' (' + fmtDuration(Date.now() / 1000 - started) + ')' : '—', null, 'uptime'],
    ];
    for (const loop of ['import', 'maintenance']) {
      const up = metric(ms, 'tally_loop_up', { loop });
      const failing = metric(ms, 'tally_loop_consecutive_failures', { loop });
      const text = up === null ? '—' : up === 1
        ? (failing > 0 ? 'running, ' + failing + ' failed pass(es) in a row' : 'running') : 'stopped';
      rows.push([loop + ' loop', text, up === 1 && !failing ? 'good' : 'bad', loop + '-loop']);
    }
    kv($('health'), rows);
    const reasons = $('ready-reasons');
    reasons.replaceChildren(...(r && r.reasons ? r.reasons : []).map((x) => el('li', null, x)));
  }

  function renderIngest(ms) {
    const now = Date.now() / 1000;
    const sample = {
      t: now,
      accepted: metric(ms, 'tally_events_accepted_total'),
      journaled: metric(ms, 'tally_http_events_journaled_total'),
    };
    const prev = state.lastSample;
    const rate = (k) => prev && sample[k] !== null && prev[k] !== null && sample.t > prev.t
      ? Math.max(0, (sample[k] - prev[k]) / (sample.t - prev.t)) : null;
    const importRate = rate('accepted');
    const apiRate = rate('journaled');
    state.lastSample = sample;
    const lagBytes = metric(ms, 'tally_import_lag_bytes');
    const lagSeconds = metric(ms, 'tally_import_lag_seconds');
    const lastImport = metric(ms, 'tally_import_last_success_timestamp_seconds');
    kv($('ingest'), [
      ['imported', importRate === null ? 'measuring…' : importRate.toFixed(1) + ' events/s', null, 'import-rate'],
      ['received by the API', apiRate === null ? 'measuring…' : apiRate.toFixed(1) + ' events/s', null, 'api-rate'],
      ['import lag', fmtBytes(lagBytes) + (lagSeconds ? ', oldest ' + fmtDuration(lagSeconds) : ''),
        lagSeconds > 300 ? 'warn' : null, 'import-lag'],
      ['last import pass', lastImport ? fmtAgo(now - lastImport) : '—', null, 'last-import'],
      ['stored (since start)', fmtInt(sample.accepted), null, 'accepted'],
      ['duplicates dropped', fmtInt(metric(ms, 'tally_events_duplicate_total')), null, 'duplicates'],
      ['refused at the API', fmtInt(metric(ms, 'tally_events_rejected_total', { stage: 'http' })), null,
        'rejected-http'],
      ['refused by the import', fmtInt(metric(ms, 'tally_events_rejected_total', { stage: 'import' })), null,
        'rejected-import'],
    ]);
  }

  function renderMaintenance(ms, ready, segments) {
    const passes = metric(ms, 'tally_loop_passes_total', { loop: 'maintenance' });
    const failures = metric(ms, 'tally_loop_failures_total', { loop: 'maintenance' });
    const inRow = metric(ms, 'tally_loop_consecutive_failures', { loop: 'maintenance' });
    const quarantined = segments.status === 'fulfilled'
      ? segments.value.segments.filter((s) => s.state === 'QUARANTINED').length : null;
    const r = ready.status === 'fulfilled' ? ready.value : null;
    const lastError = r && r.reasons ? r.reasons.find((x) => x.startsWith('maintenance')) : null;
    kv($('maintenance'), [
      ['passes', fmtInt(passes) + (failures ? ' (' + fmtInt(failures) + ' failed)' : ''), null, 'maintenance-passes'],
      ['last pass', inRow === null ? '—' : inRow > 0 ? 'failed (' + inRow + ' in a row)' : 'succeeded',
        inRow > 0 ? 'bad' : 'good', 'maintenance-last'],
      ['segments sealed', fmtInt(metric(ms, 'tally_seals_total')) + ' in '
        + fmtDuration(metric(ms, 'tally_seal_seconds_total')), null, 'seals'],
      ['time in retention', fmtDuration(metric(ms, 'tally_retention_seconds_total')), null, 'retention'],
      ['quarantined parts', fmtInt(quarantined), quarantined > 0 ? 'bad' : null, 'quarantined'],
      ['last error', lastError || 'none', lastError ? 'bad' : null, 'maintenance-error'],
    ]);
  }

  function renderTiers(list) {
    const byTier = new Map(TIERS.map((t) => [t, { n: 0, rows: 0, bytes: 0, min: null, max: null }]));
    for (const s of list) {
      const t = byTier.get(s.state) || { n: 0, rows: 0, bytes: 0, min: null, max: null };
      byTier.set(s.state, t);
      t.n++;
      t.rows += s.rows;
      t.bytes += s.bytes;
      if (s.min_time && (!t.min || s.min_time < t.min)) t.min = s.min_time;
      if (s.max_time && (!t.max || s.max_time > t.max)) t.max = s.max_time;
    }
    const body = $('tiers').tBodies[0];
    body.replaceChildren();
    for (const [tier, t] of byTier) {
      body.append(el('tr', { 'data-tier': tier },
        el('td', null, tier.toLowerCase()), el('td', { class: 'num' }, fmtInt(t.n)),
        el('td', { class: 'num' }, fmtInt(t.rows)), el('td', { class: 'num' }, fmtBytes(t.bytes)),
        el('td', null, shortTime(t.min)), el('td', null, shortTime(t.max))));
    }
    $('segment-count').textContent = fmtInt(list.length);
    const rows = list.slice().sort((a, b) => b.seq - a.seq || a.state.localeCompare(b.state)).slice(0, 200);
    $('segments').tBodies[0].replaceChildren(...rows.map((s) => el('tr', null,
      el('td', null, s.state.toLowerCase()), el('td', { class: 'num' }, s.seq), el('td', { class: 'path' }, s.path),
      el('td', null, shortTime(s.min_time)), el('td', null, shortTime(s.max_time)),
      el('td', { class: 'num' }, fmtInt(s.rows)), el('td', { class: 'num' }, fmtBytes(s.bytes)))));
  }

  function renderDeadLetters(result) {
    const box = $('dlq');
    if (result.status !== 'fulfilled') {
      box.replaceChildren(el('p', { class: 'error' }, 'Cannot read dead letters: ' + result.reason.message));
      $('dlq-total').textContent = '';
      return;
    }
    const d = result.value;
    $('dlq-total').textContent = fmtInt(d.queued) + ' queued' + (d.tenant ? ' for ' + d.tenant : ', all tenants');
    if (!d.reasons.length) {
      box.replaceChildren(el('p', { class: 'empty-note', id: 'dlq-empty' }, 'No dead letters.'));
      return;
    }
    box.replaceChildren(...d.reasons.map((r) => el('div', { class: 'reason', 'data-reason': r.reason },
      el('h3', null, el('code', null, r.reason), ' ', el('span', { class: 'count' }, fmtInt(r.count)),
        r.count === 1 ? ' entry' : ' entries'),
      ...r.examples.map((x) => el('div', { class: 'example' },
        el('div', { class: 'where' }, x.source + (x.offset >= 0 ? ' @ byte ' + x.offset : '') + ' · '
          + (x.tenant ? 'tenant ' + x.tenant : 'no readable tenant') + ' · ' + x.attempts + ' attempt(s) · first seen '
          + shortTime(x.first_seen)),
        el('div', { class: 'message' }, x.message),
        el('pre', { class: 'original' }, (x.encoding === 'base64' ? '(not UTF-8; base64) ' : '') + x.original
          + (x.truncated ? ' … (' + fmtInt(x.length) + ' bytes in all)' : '')))))));
  }

  // ------------------------------------------------------------------ meter chart

  const RANGE_SECONDS = { PT6H: 6 * 3600, P1D: 86400, P7D: 7 * 86400, P30D: 30 * 86400, P90D: 90 * 86400 };
  const WINDOW_SECONDS = { minute: 60, hour: 3600, day: 86400, month: 28 * 86400 };

  function iso(date) {
    return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  async function refreshMeter() {
    const generation = state.generation;
    // Answers can arrive out of order when pickers change quickly: only the newest question is drawn.
    const seq = ++state.meterSeq;
    const stale = () => generation !== state.generation || seq !== state.meterSeq;
    const meter = $('meter').value.trim() || 'requests';
    const window = $('window').value;
    const range = RANGE_SECONDS[$('range').value];
    const tz = $('tz').value.trim() || 'UTC';
    const errorBox = $('meter-error');
    errorBox.hidden = true;
    if (range / WINDOW_SECONDS[window] > MAX_WINDOWS) {
      $('chart').replaceChildren();
      $('meter-rows').tBodies[0].replaceChildren();
      $('meter-query').textContent = '';
      errorBox.textContent = 'That is more than ' + MAX_WINDOWS + ' ' + window + ' windows; choose a larger window or a shorter range.';
      errorBox.hidden = false;
      return;
    }
    // The range ends at the next full hour, so a refresh within the hour asks the same question.
    const to = new Date(Math.ceil(Date.now() / 3600000) * 3600000);
    const from = new Date(to.getTime() - range * 1000);
    const path = '/v1/meters/' + encodeURIComponent(meter) + '/query' + query({
      tenant: state.tenant, from: iso(from), to: iso(to), window, tz, 'sum-subjects': 'true' });
    let answer;
    try {
      answer = await api(path);
    } catch (e) {
      if (stale()) return;
      if (e instanceof ApiError && e.status === 401) { disconnect(refusal(e)); return; }
      errorBox.textContent = e.code + ': ' + e.message;
      errorBox.hidden = false;
      $('chart').replaceChildren();
      $('meter-rows').tBodies[0].replaceChildren();
      $('meter-query').textContent = path;
      return;
    }
    if (stale()) return;
    $('meter-tenant').textContent = 'tenant ' + answer.tenant + ' · ' + answer.aggregation + ' of ' + answer.meter
      + ' per ' + window + ' (' + answer.tz + ') · from ' + answer.source;
    if (answer.partial) {
      // The store is degraded (a damaged segment, a quarantined part): the chart may miss events.
      errorBox.textContent = answer.warnings.join('\n');
      errorBox.hidden = false;
    }
    renderChart(answer);
    $('meter-rows').tBodies[0].replaceChildren(...answer.rows.map((r) => el('tr', {
      'data-start': r.window_start, 'data-value': r.value === null ? 'null' : r.value },
    el('td', null, r.window_start), el('td', null, r.window_end),
    el('td', { class: 'num' }, r.value === null ? '—' : r.value), el('td', { class: 'num' }, fmtInt(r.events)))));
    // Last: once the query shows, the chart and the table above are its answer.
    $('meter-query').textContent = path;
  }

  function windowLabel(start, window) {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}:\d{2})/.exec(start);
    if (!m) return start;
    if (window === 'month') return m[1] + '-' + m[2];
    if (window === 'day') return m[2] + '-' + m[3];
    return m[2] + '-' + m[3] + ' ' + m[4];
  }

  function renderChart(answer) {
    const box = $('chart');
    const W = 1000, H = 240, L = 70, R = 10, T = 12, B = 30;
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img',
      'aria-label': answer.meter + ' per ' + answer.window });
    const rows = answer.rows.filter((r) => r.value !== null);
    if (!rows.length) {
      s.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' },
        'No events in this range.'));
      box.replaceChildren(s);
      return;
    }
    const values = rows.map((r) => Number(r.value));
    const max = Math.max(0, ...values);
    const min = Math.min(0, ...values);
    const span = max - min || 1;
    const y = (v) => T + (H - T - B) * (1 - (v - min) / span);
    const slot = (W - L - R) / rows.length;
    s.append(svg('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'axis' }));
    s.append(svg('text', { x: L - 6, y: T + 4, 'text-anchor': 'end' }, fmtInt(max)));
    s.append(svg('text', { x: L - 6, y: y(0) + 4, 'text-anchor': 'end' }, '0'));
    const every = Math.max(1, Math.ceil(rows.length / 10));
    rows.forEach((r, i) => {
      const v = Number(r.value);
      const x = L + i * slot + slot * 0.1;
      const bar = svg('rect', { x, width: Math.max(1, slot * 0.8), y: Math.min(y(v), y(0)),
        height: Math.max(1, Math.abs(y(v) - y(0))), class: 'bar', 'data-start': r.window_start, 'data-value': r.value });
      bar.append(svg('title', {}, r.window_start + ': ' + r.value + ' (' + r.events + ' events)'));
      s.append(bar);
      if (i % every === 0) {
        s.append(svg('text', { x: L + i * slot + slot / 2, y: H - 10, 'text-anchor': 'middle' },
          windowLabel(r.window_start, answer.window)));
      }
    });
    box.replaceChildren(s);
  }

  // ------------------------------------------------------------------ start

  function init() {
    const zones = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    $('zones').replaceChildren(...['UTC', ...zones].map((z) => el('option', { value: z })));
    const own = Intl.DateTimeFormat().resolvedOptions().timeZone;
    $('tz').value = own || 'UTC';
    $('token').value = sessionStorage.getItem('tally.token') || '';
    $('tenant').value = sessionStorage.getItem('tally.tenant') || '';
    $('login').addEventListener('submit', (e) => { e.preventDefault(); connect(); });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem('tally.token');
      sessionStorage.removeItem('tally.tenant');
      $('token').value = '';
      disconnect('Token forgotten. Nothing is shown.');
    });
    $('meter-form').addEventListener('submit', (e) => { e.preventDefault(); if (state.connected) refreshMeter(); });
    for (const id of ['window', 'range']) {
      $(id).addEventListener('change', () => { if (state.connected) refreshMeter(); });
    }
    if (sessionStorage.getItem('tally.token') !== null) connect();
  }

  document.addEventListener('DOMContentLoaded', init);
}());
