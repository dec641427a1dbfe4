// mlcube-remote ui: one page, four views (#/hosts, #/jobs, #/job/HOST/ID,
// #/sweeps[/ID]). Everything shown comes from the controller's /api/ and is
// put into the page as text, never as HTML: job output, reasons and names
// are the tasks' and cubes' own, hence hostile.
'use strict';

const state = { csrf: '', version: '', cube: { root: '', cube_id: '' }, timer: null, source: null, charts: [], view: null };
const ACTIVE = ['RUNNING', 'PREPARING', 'QUEUED'];
const MAX_LOG_LINES = 10000;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

// The request token: handed over once, in the fragment of the address the
// token exchange redirects to, and kept in this origin's storage (which,
// unlike cookies, no other port of 127.0.0.1 can read). Every API request
// carries it; the session cookie alone gets nothing.
const TOKEN_KEY = 'mlcube-ui-request-token';
if (location.hash.startsWith('#csrf=')) {
  localStorage.setItem(TOKEN_KEY, location.hash.slice(6));
  history.replaceState(null, '', '/#/jobs');
}
state.csrf = localStorage.getItem(TOKEN_KEY) || '';

// `path` with the request token as a parameter, for what cannot send
// headers (an event stream, a download link).
function withToken(path) { return path + (path.includes('?') ? '&' : '?') + 'csrf=' + encodeURIComponent(state.csrf); }

async function api(path, options) {
  const merged = Object.assign({ credentials: 'same-origin' }, options);
  merged.headers = Object.assign({ 'X-CSRF-Token': state.csrf }, merged.headers || {});
  const response = await fetch(path, merged);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function post(path) {
  return api(path, { method: 'POST' });
}

function q(params) { return new URLSearchParams(params).toString(); }

function stateBadge(name) { return el('span', { class: 'state ' + name }, name); }

// Header cells; names in `numeric` are right-aligned like their columns.
function headerRow(names, numeric) {
  return el('tr', {}, names.map((t) => el('th', { class: (numeric || []).includes(t) ? 'num' : '' }, t)));
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d',
  '#9333ea', '#ea580c'];

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
}

function when(ms) { return ms ? new Date(ms).toLocaleString() : '-'; }

function duration(job) {
  if (!job.started_ms) return '-';
  const end = job.finished_ms || Date.now();
  let s = Math.max(0, Math.round((end - job.started_ms) / 1000));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's';
}

function setStatus(text, isError) {
  const node = document.getElementById('status');
  node.textContent = text;
  node.className = isError ? 'error' : 'muted';
}

function show(...nodes) {
  const main = document.getElementById('main');
  main.replaceChildren(...nodes);
}

function stopView() {
  clearInterval(state.timer);
  state.timer = null;
  if (state.source) { state.source.close(); state.source = null; }
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
}

// Runs `load` now and every `ms` while the view stays; errors go to the bar.
function poll(load, ms) {
  const view = state.view;
  const run = () => (document.hidden ? Promise.resolve() : load()).then(() => { if (!document.hidden) setStatus('updated ' + new Date().toLocaleTimeString()); })
    .catch((e) => { if (state.view === view) setStatus(e.message, true); });
  run();
  state.timer = setInterval(run, ms);
}

// ---- Hosts -----------------------------------------------------------------

async function hostsView() {
  const table = el('table', { id: 'hosts-table' });
  show(el('h1', {}, 'Hosts'), table);
  poll(async () => {
    const [hosts, jobs] = await Promise.all([api('/api/hosts'), api('/api/jobs')]);
    const count = (host, states) => jobs.jobs.filter((j) => j.host === host && states.includes(j.state)).length;
    const rows = hosts.hosts.map((h) => {
      if (!h.reachable) {
        return el('tr', { 'data-host': h.name }, el('td', {}, h.name + (h.default ? ' *' : '')),
          el('td', {}, el('span', { class: 'down' }, 'down')), el('td', { colspan: 8, class: 'error' }, h.error));
      }
      const gpus = h.gpus.length === 0 ? '-' : h.gpus_allocated
        ? (h.gpus.length - h.gpus_free) + ' busy / ' + h.gpus.length : String(h.gpus.length);
      const slurm = jobs.jobs.some((j) => j.host === h.name && j.scheduler === 'slurm');
      return el('tr', { 'data-host': h.name },
        el('td', {}, h.name + (h.default ? ' *' : '')),
        el('td', {}, el('span', { class: 'up' }, 'up')),
        el('td', {}, h.agent_version, ' ', h.version_skew ? el('span', { class: 'skew', title: 'this controller is ' + state.version }, 'skew') : null),
        el('td', {}, h.runtimes.map((r) => r.name + ' ' + r.version).join(', ') || '-'),
        el('td', {}, count(h.name, ['RUNNING', 'PREPARING']) + ' running, ' + count(h.name, ['QUEUED']) + ' pending' + (slurm ? ' (Slurm)' : '')),
        el('td', {}, gpus),
        el('td', { class: 'num' }, bytes(h.free_bytes)),
        el('td', { class: 'num' }, bytes(h.stored_bytes) + (h.limit_stored_bytes ? ' of ' + bytes(h.limit_stored_bytes) : '')),
        el('td', { class: 'num' }, h.rtt_ms.toFixed(1) + ' ms'),
        el('td', { class: 'muted' }, h.identity));
    });
    table.replaceChildren(headerRow(['Host', 'Status', 'Agent', 'Runtimes', 'Your jobs', 'GPUs', 'Free disk', 'Yours', 'RTT', 'You are'],
      ['Free disk', 'Yours', 'RTT']), ...rows);
  }, 5000);
}

// ---- Jobs ------------------------------------------------------------------

function jobOrder(a, b) {
  const rank = (j) => (ACTIVE.includes(j.state) ? ACTIVE.indexOf(j.state) : 9);
  return rank(a) - rank(b) || b.created_ms - a.created_ms;
}

async function cancelJob(job) {
  if (!confirm('Cancel job ' + job.id + ' on ' + job.host + '?')) return;
  try {
    const result = await post('/api/cancel?' + q({ host: job.host, id: job.id }));
    setStatus('job ' + job.id + ': ' + result.state);
  } catch (e) { setStatus(e.message, true); }
}

async function rerunJob(job) {
  if (!confirm('Run job ' + job.id + ' on ' + job.host + ' again, as it was submitted?')) return;
  try {
    const fresh = await post('/api/rerun?' + q({ host: job.host, id: job.id }));
    location.hash = '#/job/' + encodeURIComponent(job.host) + '/' + encodeURIComponent(fresh.id);
  } catch (e) { setStatus(e.message, true); }
}

function jobAction(job) {
  return ACTIVE.includes(job.state)
    ? el('button', { class: 'danger', onclick: () => cancelJob(job) }, 'Cancel')
    : el('button', { onclick: () => rerunJob(job) }, 'Re-run');
}

function filterSelect(id, label, values, selected) {
  const select = el('select', { id }, el('option', { value: '' }, 'all ' + label));
  for (const v of values) {
    const option = el('option', { value: v }, v);
    if (v === selected) option.selected = true;
    select.append(option);
  }
  return select;
}

async function jobsView() {
  const filters = { host: '', state: '', cube: '' };
  const toolbar = el('div', { class: 'toolbar' });
  const table = el('table', { id: 'jobs-table' });
  const errors = el('div', { class: 'error' });
  show(el('h1', {}, 'Jobs'), toolbar, errors, table);
  let jobs = [];
  const render = () => {
    const selects = [
      filterSelect('filter-host', 'hosts', [...new Set(jobs.map((j) => j.host))].sort(), filters.host),
      filterSelect('filter-state', 'states', [...new Set(jobs.map((j) => j.state))].sort(), filters.state),
      filterSelect('filter-cube', 'cubes', [...new Set(jobs.map((j) => j.cube_id))].sort(), filters.cube)];
    selects.forEach((s, i) => s.addEventListener('change', () => { filters[['host', 'state', 'cube'][i]] = s.value; render(); }));
    toolbar.replaceChildren(...selects, el('span', { class: 'muted' }, jobs.length + ' jobs'));
    const shown = jobs.filter((j) => (!filters.host || j.host === filters.host) &&
      (!filters.state || j.state === filters.state) && (!filters.cube || j.cube_id === filters.cube));
    const rows = shown.map((j) => el('tr', { 'data-job': j.id },
      el('td', {}, el('a', { href: '#/job/' + encodeURIComponent(j.host) + '/' + encodeURIComponent(j.id) }, j.id)),
      el('td', {}, stateBadge(j.state), j.state === 'QUEUED' && (j.pending_reason || j.reason)
        ? el('span', { class: 'muted' }, ' ' + (j.pending_reason || j.reason)) : null),
      el('td', {}, j.current_task || j.tasks.join(',')),
      el('td', { class: 'muted' }, j.cube_id.slice(0, 24)),
      el('td', {}, j.host),
      el('td', {}, when(j.started_ms || j.created_ms)),
      el('td', { class: 'num' }, duration(j)),
      el('td', { class: 'num' }, ACTIVE.includes(j.state) ? '' : String(j.exit_code)),
      el('td', {}, jobAction(j))));
    table.replaceChildren(headerRow(['Job', 'State', 'Task', 'Cube', 'Host', 'Started', 'Duration', 'Exit', ''],
      ['Duration', 'Exit']), ...rows);
  };
  poll(async () => {
    const body = await api('/api/jobs?all=1');
    jobs = body.jobs.sort(jobOrder);
    errors.replaceChildren(...body.errors.map((e) => el('div', {}, e.host + ': ' + e.error)));
    render();
    // tools/bench/ui_bench.sh reads when the first table was on the page.
    if (!performance.getEntriesByName('jobs-rendered').length) performance.mark('jobs-rendered');
  }, 3000);
}

// ---- One job ---------------------------------------------------------------

// Task output with ANSI colours (SGR) as spans; other escapes are dropped.
// An escape cut by a chunk boundary is carried over to the next chunk.
class AnsiRenderer {
  constructor(target) { this.target = target; this.carry = ''; this.classes = []; this.lines = 0; this.search = ''; }

  append(text, stream) {
    text = this.carry + text;
    this.carry = '';
    const cut = text.lastIndexOf('\x1b');
    if (cut >= 0 && !/^\x1b\[[0-9;?]*[A-Za-z]/.test(text.slice(cut))) { this.carry = text.slice(cut); text = text.slice(0, cut); }
    const parts = text.replace(/\r(?!\n)/g, '').split(/\x1b\[([0-9;?]*)([A-Za-z])/);
    for (let i = 0; i < parts.length; i += 3) {
      if (parts[i]) this.emit(parts[i], stream);
      if (i + 2 < parts.length && parts[i + 2] === 'm') this.sgr(parts[i + 1]);
    }
    this.trim();
  }

  sgr(codes) {
    for (const code of (codes || '0').split(';').map(Number)) {
      if (code === 0) this.classes = [];
      else if (code === 1 || (code >= 30 && code <= 37)) this.classes.push('ansi-' + code);
      else if (code >= 90 && code <= 97) this.classes.push('ansi-' + (code - 60));
    }
  }

  emit(text, stream) {
    const span = el('span', { class: [stream, ...this.classes].join(' ') });
    this.lines += (text.match(/\n/g) || []).length;
    if (this.search && text.toLowerCase().includes(this.search)) span.classList.add('hit');
    span.textContent = text;
    this.target.append(span);
  }

  trim() {
    while (this.lines > MAX_LOG_LINES && this.target.firstChild) {
      const first = this.target.firstChild;
      this.lines -= (first.textContent.match(/\n/g) || []).length;
      first.remove();
      this.target.dataset.trimmed = '1';
    }
  }
}

function highlight(pre, needle) {
  let hits = 0;
  for (const span of pre.children) {
    const text = span.textContent;
    if (span.querySelector('mark')) span.textContent = text;
    if (!needle) continue;
    const at = text.toLowerCase().indexOf(needle);
    if (at < 0) continue;
    hits++;
    span.replaceChildren(text.slice(0, at), el('mark', {}, text.slice(at, at + needle.length)), text.slice(at + needle.length));
  }
  const first = pre.querySelector('mark');
  if (first) first.scrollIntoView({ block: 'center' });
  return hits;
}

function followLog(job, pre, timeline, onState) {
  const renderer = new AnsiRenderer(pre);
  let offset = 0;
  const open = () => {
    const source = new EventSource(withToken('/api/events?' + q({ host: job.host, id: job.id, from: offset })));
    state.source = source;
    source.addEventListener('log', (e) => {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      const event = JSON.parse(e.data);
      renderer.append(event.text, event.stream);
      offset = Number(e.lastEventId);
      pre.dataset.offset = String(offset);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    });
    source.addEventListener('state', (e) => {
      const event = JSON.parse(e.data);
      offset = Number(e.lastEventId);
      timeline.append(el('li', {}, stateBadge(event.state), ' ', new Date(event.unix_ms).toLocaleTimeString(),
        event.task ? ' ' + event.task : '', event.reason ? ' — ' + event.reason : ''));
      onState();
    });
    source.addEventListener('end', () => { source.close(); pre.dataset.ended = '1'; onState(); });
    source.addEventListener('failed', (e) => { source.close(); setStatus(JSON.parse(e.data).error, true); });
    // The browser reconnects by itself with Last-Event-ID; if it gives up,
    // start again from the last offset shown.
    source.addEventListener('error', () => {
      if (source.readyState === EventSource.CLOSED && state.source === source) setTimeout(open, 1000);
    });
  };
  open();
  // Tests cut the stream on purpose: the page resumes where it was.
  window.mlcubeCutLogStream = () => { state.source.close(); open(); };
  // A browser keeps about 6 connections to one address: a page in a tab
  // nobody looks at gives its stream back and resumes from its offset when
  // it is shown again, so many job pages can stay open.
  const view = state.view;
  const onVisibility = () => {
    if (state.view !== view) { document.removeEventListener('visibilitychange', onVisibility); return; }
    if (document.hidden && state.source) { state.source.close(); state.source = null; }
    else if (!document.hidden && !state.source && pre.dataset.ended !== '1') open();
  };
  document.addEventListener('visibilitychange', onVisibility);
}

async function jobView(host, id) {
  const job = { host, id };
  const facts = el('dl', { class: 'facts', id: 'job-facts' });
  const timeline = el('ol', { class: 'timeline', id: 'timeline' });
  const pre = el('pre', { id: 'log' });
  const search = el('input', { id: 'log-search', type: 'search', placeholder: 'search the log' });
  const hits = el('span', { class: 'muted' });
  search.addEventListener('input', () => {
    hits.textContent = search.value ? highlight(pre, search.value.toLowerCase()) + ' chunks match' : '';
  });
  const cancel = el('button', { class: 'danger', id: 'cancel', onclick: () => cancelJob(job).then(refresh) }, 'Cancel');
  const rerun = el('button', { id: 'rerun', onclick: () => rerunJob(job) }, 'Re-run');
  const pull = el('button', { id: 'pull', hidden: '', title: 'into ' + state.cube.root }, 'Pull outputs');
  pull.addEventListener('click', async () => {
    pull.disabled = true;
    try {
      const got = await post('/api/pull?' + q({ host, id }));
      setStatus('pulled ' + got.files_written + ' files (' + bytes(got.bytes) + ') into ' + got.workspace +
        (got.conflicts.length ? '; kept your changed ' + got.conflicts.join(', ') + ' (the host\'s copy beside them, .remote)' : ''));
    } catch (e) { setStatus(e.message, true); }
    pull.disabled = false;
  });
  const download = el('a', { href: withToken('/api/log?' + q({ host, id })), id: 'download' }, 'Download the whole log');
  show(el('h1', {}, 'Job ', id, el('span', { class: 'muted' }, ' on ' + host)), facts, timeline,
    el('div', { class: 'toolbar' }, search, hits, download, cancel, rerun, pull), pre);
  const refresh = async () => {
    const j = await api('/api/job?' + q({ host, id }));
    const rows = [['State', stateBadge(j.state)], ['Task', j.current_task || j.tasks.join(', ')], ['Cube', j.cube_id],
      ['Runtime', j.runtime + (j.scheduler ? ' (' + j.scheduler + (j.scheduler_job_id ? ' job ' + j.scheduler_job_id : '') + ')' : '')],
      ['Created', when(j.created_ms)], ['Started', when(j.started_ms)], ['Finished', when(j.finished_ms)],
      ['Duration', duration(j)]];
    if (j.pending_reason) rows.push(['Waiting for', j.pending_reason]);
    if (!ACTIVE.includes(j.state)) rows.push(['Exit code', String(j.exit_code)]);
    if (j.reason) rows.push(['Reason', j.reason]);
    if (j.gpus.length) rows.push(['GPUs', j.gpus.join(', ')]);
    facts.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
    cancel.hidden = !ACTIVE.includes(j.state);
    rerun.hidden = ACTIVE.includes(j.state);
    pull.hidden = ACTIVE.includes(j.state) || !state.cube.cube_id || j.cube_id !== state.cube.cube_id;
  };
  poll(refresh, 5000);
  followLog(job, pre, timeline, () => refresh().catch(() => {}));
}

// ---- Sweeps ----------------------------------------------------------------

async function sweepsView() {
  const body = el('div');
  show(el('h1', {}, 'Sweeps'), body);
  poll(async () => {
    const data = await api('/api/sweeps');
    if (!data.workspace) {
      body.replaceChildren(el('p', { class: 'muted' }, 'Start the dashboard with --mlcube=DIR to see that cube\'s sweeps.'));
      return;
    }
    const rows = data.sweeps.slice().reverse().map((s) => {
      const counts = {};
      for (const r of s.runs) counts[r.state] = (counts[r.state] || 0) + 1;
      return el('tr', { 'data-sweep': s.id },
        el('td', {}, el('a', { href: '#/sweeps/' + encodeURIComponent(s.id) }, s.id)),
        el('td', {}, s.cube), el('td', {}, s.tasks.join(',')), el('td', { class: 'num' }, String(s.runs.length)),
        el('td', {}, Object.entries(counts).map(([k, v]) => [stateBadge(k), ' ' + v + ' '])),
        el('td', {}, when(s.created_ms)));
    });
    body.replaceChildren(el('p', { class: 'muted' }, 'Workspace ' + data.workspace),
      el('table', { id: 'sweeps-table' }, headerRow(['Sweep', 'Cube', 'Tasks', 'Runs', 'States', 'Created'], ['Runs']), ...rows),
      ...data.errors.map((e) => el('div', { class: 'error' }, e.error)));
  }, 5000);
}

// Chart.js (200 KB) is loaded by the first page that draws a chart.
let chartLibrary = null;
function loadChartLibrary() {
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = el('script', { src: '/assets/chart.min.js' });
      script.addEventListener('load', resolve);
      script.addEventListener('error', () => reject(new Error('could not load Chart.js')));
      document.head.append(script);
    });
  }
  return chartLibrary;
}

function lineChart(canvas, title) {
  const chart = new Chart(canvas, {
    type: 'line',
    data: { datasets: [] },
    options: { animation: false, parsing: false, normalized: true, maintainAspectRatio: false,
      plugins: { title: { display: true, text: title } },
      scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { type: 'linear' } } },
  });
  state.charts.push(chart);
  return chart;
}

// Replaces the data of `chart` in place: the user's hidden curves and axis
// range stay as they were.
function setDatasets(chart, datasets) {
  const old = new Map(chart.data.datasets.map((d, i) => [d.label, chart.isDatasetVisible(i)]));
  chart.data.datasets = datasets;
  datasets.forEach((d, i) => { if (old.has(d.label)) chart.setDatasetVisibility(i, old.get(d.label)); });
  chart.update('none');
}

async function sweepView(id) {
  await loadChartLibrary();
  const metricSelect = el('select', { id: 'metric' });
  const axisSelect = el('select', { id: 'axis' });
  const axisLabel = el('span', {}, ' against ', axisSelect);
  const xmin = el('input', { id: 'xmin', type: 'number', placeholder: 'from step', style: 'width:8em' });
  const xmax = el('input', { id: 'xmax', type: 'number', placeholder: 'to step', style: 'width:8em' });
  const table = el('table', { id: 'runs-table' });
  const curveCanvas = el('canvas', { id: 'curves' });
  const axisCanvas = el('canvas', { id: 'by-axis' });
  const notes = el('div', { class: 'error' });
  const rerunFailed = el('button', { id: 'rerun-failed', hidden: '' }, 'Re-run failed runs');
  rerunFailed.addEventListener('click', async () => {
    if (!confirm('Run the failed and cancelled runs of sweep ' + id + ' again?')) return;
    try {
      const result = await post('/api/rerun-failed?' + q({ sweep: id }));
      setStatus('re-run: ' + result.rerun.join(', ') + (result.errors.length ? '; ' + result.errors.join('; ') : ''), result.errors.length > 0);
    } catch (e) { setStatus(e.message, true); }
  });
  show(el('h1', {}, 'Sweep ', id, ' ', rerunFailed),
    el('div', { class: 'toolbar' }, 'Metric ', metricSelect, axisLabel, ' steps ', xmin, '–', xmax),
    el('div', { class: 'charts' }, el('div', { class: 'chart-box' }, curveCanvas), el('div', { class: 'chart-box' }, axisCanvas)),
    notes, el('h2', {}, 'Runs'), table);
  const curves = lineChart(curveCanvas, 'per run');
  const byAxis = lineChart(axisCanvas, 'latest value per run');
  const zoom = () => {
    curves.options.scales.x.min = xmin.value === '' ? undefined : Number(xmin.value);
    curves.options.scales.x.max = xmax.value === '' ? undefined : Number(xmax.value);
    curves.update('none');
  };
  xmin.addEventListener('change', zoom);
  xmax.addEventListener('change', zoom);
  let latest = null;
  const draw = () => {
    if (!latest) return;
    const [sweep, data] = latest;
    const metric = metricSelect.value;
    setDatasets(curves, data.runs.map((run, i) => ({
      label: run.label, borderWidth: 1.5, pointRadius: 2, borderColor: PALETTE[i % PALETTE.length],
      backgroundColor: PALETTE[i % PALETTE.length],
      data: run.steps.map((s, i) => ({ x: 'step' in s ? s.step : i, y: s[metric] })).filter((p) => p.y !== undefined),
    })));
    const axis = axisSelect.value;
    const points = sweep.runs.map((r) => ({ x: Number(r.values[axis]), y: Number(r.metrics[metric]) }))
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    byAxis.options.scales.x.title.text = axis;
    byAxis.options.plugins.title.text = metric + ' against ' + axis;
    setDatasets(byAxis, [{ label: metric, data: points, showLine: true, borderWidth: 1.5,
      borderColor: PALETTE[0], backgroundColor: PALETTE[0] }]);
  };
  metricSelect.addEventListener('change', draw);
  axisSelect.addEventListener('change', draw);
  poll(async () => {
    // One request: the sweep (brought up to date) and its curves.
    const data = await api('/api/curves?' + q({ sweep: id }));
    const sweep = data.sweep;
    const metrics = [...new Set(data.runs.flatMap((r) => r.steps.flatMap((s) => Object.keys(s))))].filter((m) => m !== 'step').sort();
    const keep = (select, values) => {
      const chosen = select.value;
      if (select.options.length !== values.length) select.replaceChildren(...values.map((v) => el('option', { value: v }, v)));
      if (values.includes(chosen)) select.value = chosen;
    };
    keep(metricSelect, metrics);
    keep(axisSelect, sweep.axes);
    // A sweep of repetitions only has no value to plot a metric against.
    axisCanvas.parentElement.hidden = sweep.axes.length === 0;
    axisLabel.hidden = sweep.axes.length === 0;
    latest = [sweep, data];
    draw();
    notes.replaceChildren(...data.errors.map((e) => el('div', {}, (e.run ? 'run ' + e.run + ': ' : '') + e.error)));
    // A run still going on shows the last step of its live curve (~VALUE).
    const lastSteps = new Map(data.runs.filter((c) => c.source === 'live' && c.steps.length)
      .map((c) => [c.id, c.steps[c.steps.length - 1]]));
    for (const r of sweep.runs) {
      if (Object.keys(r.metrics).length === 0 && lastSteps.has(r.id)) { r.metrics = lastSteps.get(r.id); r.metrics_live = true; }
    }
    const metricNames = [...new Set(sweep.runs.flatMap((r) => Object.keys(r.metrics)))].sort();
    const ended = (r) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.state);
    rerunFailed.hidden = !(sweep.runs.every(ended) && sweep.runs.some((r) => r.state === 'FAILED' || r.state === 'CANCELLED'));
    table.replaceChildren(headerRow(['Run', ...sweep.axes, 'Host', 'State', 'Duration', 'Exit', ...metricNames],
      ['Duration', 'Exit', ...metricNames]),
      ...sweep.runs.map((r) => el('tr', { 'data-run': r.id },
        el('td', {}, r.job_id ? el('a', { href: '#/job/' + encodeURIComponent(r.host) + '/' + encodeURIComponent(r.job_id) }, r.id) : r.id),
        ...sweep.axes.map((a) => el('td', {}, r.values[a] ?? '')), el('td', {}, r.host), el('td', {}, stateBadge(r.state)),
        el('td', { class: 'num' }, duration(r)), el('td', { class: 'num' }, r.finished_ms ? String(r.exit_code) : ''),
        ...metricNames.map((m) => el('td', { class: 'num' }, (r.metrics_live ? '~' : '') + (r.metrics[m] ?? ''))))));
  }, 3000);
}

// ---- Router ----------------------------------------------------------------

function route() {
  stopView();
  state.view = location.hash;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  for (const name of ['hosts', 'jobs', 'sweeps']) {
    document.getElementById('nav-' + name).classList.toggle('active', parts[0] === name || (name === 'jobs' && parts[0] === 'job'));
  }
  if (parts[0] === 'hosts') return hostsView();
  if (parts[0] === 'job' && parts.length === 3) return jobView(parts[1], parts[2]);
  if (parts[0] === 'sweeps' && parts[1]) return sweepView(parts[1]);
  if (parts[0] === 'sweeps') return sweepsView();
  return jobsView();
}

api('/api/session').then((session) => {
  state.version = session.version;
  state.cube = session.cube;
  window.addEventListener('hashchange', route);
  route();
}).catch((e) => setStatus(e.message + ': open the address mlcube-remote ui printed', true));
