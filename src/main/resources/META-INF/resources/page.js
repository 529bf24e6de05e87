// The run page: polls the REST API (runs, a run's step history, its interventions) and draws with uPlot.
// No build step: plain browser JavaScript, uPlot from its webjar. docs/rest-api.md describes the endpoints it reads.
'use strict';

const POLL_MILLIS = 2000;
/**
 * Rows a chart holds at most: `every` is chosen from the run's total steps to stay under it. The API gives one row
 * per bucket of `every` steps with the bucket's largest norms, so a one-step spike still shows.
 */
const MAX_POINTS = 2000;
/** Interventions that lost or stopped steps are drawn red, the others amber. */
const SEVERE = new Set(['skip', 'rollback', 'pause']);
const COLORS = ['#1565c0', '#e65100', '#2e7d32', '#6a1b9a', '#c62828', '#00838f', '#9e9d24', '#4e342e',
  '#ad1457', '#283593'];

const page = {
  runId: null,
  run: null,
  every: 1,
  next: 0,
  data: null,
  interventions: [],
  charts: {},
};

function emptyData(layers) {
  const d = { step: [], loss: [], heldOut: [], learningRate: [], globalNorm: [], clipThreshold: [], layers: {} };
  layers.forEach(name => { d.layers[name] = { norm: [], clipThreshold: [] }; });
  return d;
}

/** Log scales take only positive values: anything else is a gap. */
function positive(v) {
  return v != null && v > 0 ? v : null;
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  if (!response.ok) {
    let detail = response.statusText;
    try {
      detail = (await response.json()).detail || detail;
    } catch (ignored) {
      // not a problem body
    }
    throw new Error(url + ': ' + response.status + ' ' + detail);
  }
  return response.json();
}

function say(text) {
  document.getElementById('message').textContent = text || '';
}

function formatDuration(seconds) {
  if (!isFinite(seconds) || seconds < 0) {
    return '–';
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.round(seconds % 60);
  return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s + 's';
}

function number(v, digits) {
  return v == null || !isFinite(v) ? '–' : Number(v).toPrecision(digits || 4);
}

function showRuns(runs) {
  const body = document.querySelector('#runs tbody');
  body.replaceChildren(...runs.map(r => {
    const tr = document.createElement('tr');
    tr.dataset.run = r.id;
    if (r.id === page.runId) {
      tr.className = 'selected';
    }
    const cells = [r.id, r.spec.workload, r.state, r.step + ' / ' + r.totalSteps, number(r.loss),
      r.evaluation ? r.evaluation.metric + ' ' + number(r.evaluation.value) : '–'];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 2) {
        td.className = 'state-' + r.state;
      }
      tr.appendChild(td);
    });
    tr.addEventListener('click', () => {
      const url = new URL(window.location.href);
      url.searchParams.set('run', r.id);
      window.location.href = url.toString();
    });
    return tr;
  }));
}

function showStatus(r) {
  document.getElementById('run-title').textContent = 'Run ' + r.id + ': ' + r.state;
  document.getElementById('run-title').className = 'state-' + r.state;
  const spec = r.spec;
  document.getElementById('run-detail').textContent = spec.workload + ', ' + spec.optimizer + ' lr ' +
    spec.learningRate + ', batch ' + spec.batchSize + ', seed ' + spec.seed +
    (r.error ? ' — ' + r.error : '');
  const fraction = r.totalSteps > 0 ? r.step / r.totalSteps : 0;
  document.getElementById('progress-bar').style.width = (100 * fraction).toFixed(1) + '%';
  const eta = r.state === 'running' && r.stepsPerSecond > 0 ? (r.totalSteps - r.step) / r.stepsPerSecond : NaN;
  document.getElementById('run-numbers').textContent = 'step ' + r.step + ' of ' + r.totalSteps + ' (' +
    (100 * fraction).toFixed(1) + '%), ' + number(r.stepsPerSecond, 3) + ' steps/s, ETA ' +
    (r.state === 'running' ? formatDuration(eta) : '–') + ', loss ' + number(r.loss) + ', global norm ' +
    number(r.globalNorm) + (r.evaluation ? ', ' + r.evaluation.metric + ' ' + number(r.evaluation.value) : '');
  document.getElementById('csv-link').href = '/api/runs/' + encodeURIComponent(r.id) + '/steps?every=1';
}

/**
 * Draws the interventions as marks over a chart's plot area, each with its reason as the hover title; uPlot calls
 * this after every redraw, so the marks follow zooming and new data.
 */
function drawMarkers(u) {
  u.over.querySelectorAll('.marker').forEach(m => m.remove());
  const [min, max] = [u.scales.x.min, u.scales.x.max];
  for (const i of page.interventions) {
    if (min == null || i.step < min || i.step > max) {
      continue;
    }
    const mark = document.createElement('div');
    mark.className = 'marker ' + (SEVERE.has(i.kind) ? i.kind : 'other');
    mark.style.left = u.valToPos(i.step, 'x') + 'px';
    mark.dataset.kind = i.kind;
    mark.dataset.step = i.step;
    mark.title = i.kind + ' at step ' + i.step + ': ' + i.reason + (i.layer ? ' (layer ' + i.layer + ')' : '') +
      (i.detail ? '\n' + i.detail : '') + (i.applied ? '' : '\nobserve mode: not applied');
    u.over.appendChild(mark);
  }
  if (u === page.charts.norm) {
    document.documentElement.dataset.markers = u.over.querySelectorAll('.marker').length;
  }
}

/**
 * Counts the plot-area pixels drawn in a series' colour, kept in the chart's data-painted: a test in a browser reads
 * it to know the lines were drawn, not only the axes.
 */
function countPainted(u) {
  const { left, top, width, height } = u.bbox;
  if (width <= 0 || height <= 0) {
    return;
  }
  const colors = u.series.slice(1).map(s => hexRgb(typeof s.stroke === 'function' ? s.stroke(u) : s.stroke));
  // Read back from a canvas of our own made for it, not from uPlot's, which is drawn on and not meant for reading.
  const copy = readback.canvas;
  copy.width = width;
  copy.height = height;
  readback.drawImage(u.ctx.canvas, left, top, width, height, 0, 0, width, height);
  const pixels = readback.getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let p = 0; p < pixels.length; p += 4) {
    if (pixels[p + 3] < 128) {
      continue;
    }
    for (const c of colors) {
      if (c && Math.abs(pixels[p] - c[0]) + Math.abs(pixels[p + 1] - c[1]) + Math.abs(pixels[p + 2] - c[2]) < 60) {
        painted++;
        break;
      }
    }
  }
  u.root.parentElement.dataset.painted = painted;
}

const readback = document.createElement('canvas').getContext('2d', { willReadFrequently: true });

function hexRgb(color) {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color || '');
  return m ? [parseInt(m[1], 16), parseInt(m[2], 16), parseInt(m[3], 16)] : null;
}

function chartWidth(id) {
  return Math.max(300, document.getElementById(id).clientWidth - 4);
}

function logScale() {
  return {
    distr: 3,
    range: (u, min, max) => min == null || max == null ? [1e-3, 1] : uPlot.rangeLog(min, max, 10, true),
  };
}

function makeChart(id, series, scales, axes) {
  const element = document.getElementById(id);
  element.replaceChildren();
  return new uPlot({
    width: chartWidth(id),
    height: 250,
    scales: Object.assign({ x: { time: false } }, scales),
    series: [{ label: 'step' }].concat(series),
    axes: [{ label: 'step' }].concat(axes),
    hooks: { draw: [drawMarkers, countPainted] },
  }, [[]].concat(series.map(() => [])), element);
}

function buildCharts(layerNames, metric) {
  document.getElementById('metric-name').textContent = metric || 'metric';
  page.charts.loss = makeChart('chart-loss', [
    { label: 'loss', stroke: COLORS[0], scale: 'loss', width: 1.5 },
    { label: metric || 'held-out', stroke: COLORS[1], scale: 'metric', width: 2, spanGaps: true,
      points: { show: true, size: 6 } },
  ], { loss: {}, metric: {} }, [{ scale: 'loss', label: 'loss' },
    { scale: 'metric', side: 1, label: metric || 'held-out', grid: { show: false } }]);
  page.charts.norm = makeChart('chart-norm', [
    { label: 'global norm', stroke: COLORS[0], width: 1.5 },
    { label: 'clip threshold', stroke: COLORS[4], dash: [6, 4], width: 1.5 },
  ], { y: logScale() }, [{ label: 'L2 norm' }]);
  // Each layer's norm, and its own clip threshold dashed in the same colour (per-layer policies only).
  page.charts.layers = makeChart('chart-layers', layerNames.flatMap((name, i) => [
    { label: name, stroke: COLORS[i % COLORS.length], width: 1.2 },
    { label: name + ' threshold', stroke: COLORS[i % COLORS.length], width: 1.2, dash: [6, 4] },
  ]), { y: logScale() }, [{ label: 'L2 norm' }]);
  page.charts.lr = makeChart('chart-lr', [{ label: 'learning rate', stroke: COLORS[2], width: 1.5 }], {},
    [{ label: 'learning rate' }]);
}

function redraw() {
  const d = page.data;
  const layerNames = Object.keys(d.layers);
  page.charts.loss.setData([d.step, d.loss, d.heldOut]);
  page.charts.norm.setData([d.step, d.globalNorm.map(positive), d.clipThreshold.map(positive)]);
  page.charts.layers.setData([d.step].concat(layerNames.flatMap(n => [d.layers[n].norm.map(positive),
    d.layers[n].clipThreshold.map(positive)])));
  page.charts.lr.setData([d.step, d.learningRate]);
  document.documentElement.dataset.rows = d.step.length;
}

/** Appends the step rows after the last one shown. */
async function pollSteps() {
  const id = encodeURIComponent(page.runId);
  const j = await getJson('/api/runs/' + id + '/steps?from=' + page.next + '&every=' + page.every);
  if (page.data == null && j.rows === 0) {
    return false; // the layers are known with the first step
  }
  if (page.data == null) {
    page.data = emptyData(Object.keys(j.layers));
    buildCharts(Object.keys(j.layers), j.metric);
  }
  const d = page.data;
  for (let i = 0; i < j.rows; i++) {
    d.step.push(j.step[i]);
    d.loss.push(j.loss[i]);
    d.heldOut.push(j.heldOut[i]);
    d.learningRate.push(j.learningRate[i]);
    d.globalNorm.push(j.globalNorm[i]);
    d.clipThreshold.push(j.clipThreshold[i]);
    for (const name of Object.keys(d.layers)) {
      const layer = j.layers[name];
      d.layers[name].norm.push(layer ? layer.norm[i] : null);
      d.layers[name].clipThreshold.push(layer ? layer.clipThreshold[i] : null);
    }
  }
  if (j.rows > 0) {
    page.next = j.step[j.rows - 1] + 1;
  }
  if (j.metric) {
    document.getElementById('metric-name').textContent = j.metric;
  }
  return j.rows > 0;
}

/** Appends the interventions not seen yet. */
async function pollInterventions() {
  const id = encodeURIComponent(page.runId);
  let added = false;
  while (true) {
    const p = await getJson('/api/runs/' + id + '/interventions?offset=' + page.interventions.length + '&limit=1000');
    page.interventions.push(...p.items);
    added = added || p.items.length > 0;
    if (p.items.length < 1000) {
      return added;
    }
  }
}

async function poll() {
  try {
    const runs = await getJson('/api/runs');
    if (page.runId == null) {
      const wanted = new URL(window.location.href).searchParams.get('run');
      page.runId = wanted || (runs.length ? runs[0].id : null);
    }
    showRuns(runs);
    const run = runs.find(r => r.id === page.runId);
    if (run == null) {
      say(page.runId ? 'no run ' + page.runId + ' (it may have aged out of the list)' : 'no run yet: POST /api/runs starts one');
    } else {
      if (page.run == null) {
        page.every = Math.max(1, Math.ceil(run.totalSteps / MAX_POINTS));
      }
      page.run = run;
      showStatus(run);
      const newSteps = await pollSteps();
      const newMarks = await pollInterventions();
      if (page.data != null && (newSteps || newMarks)) {
        redraw();
      }
      document.documentElement.dataset.run = run.id;
      document.documentElement.dataset.ready = 'true';
      say('');
    }
  } catch (e) {
    // The service restarting or unreachable is shown, not thrown: the page tries again on the next poll.
    say('cannot reach the service: ' + e.message);
  }
  setTimeout(poll, POLL_MILLIS);
}

window.addEventListener('resize', () => {
  for (const [name, chart] of Object.entries(page.charts)) {
    chart.setSize({ width: chartWidth('chart-' + name), height: 250 });
  }
});

poll();
