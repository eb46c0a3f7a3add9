// The hourly power-use chart: one SVG line of kWh per reading, with the detector's anomaly
// windows as bands behind it. Drawn here, in a few dozen lines, rather than with a library.

import { h, s, fmtDay, fmtTime, fmtNumber, beijingParts } from './dom.js';
import { t, label } from './i18n.js';

const W = 960;
const H = 300;
const M = { right: 16, bottom: 34, left: 64 };
const LANE = 9;
const LANE_GAP = 3;
const HOUR = 3600 * 1000;

function niceMax(value) {
  if (value <= 0) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
  return 10 * step;
}

function dayTicks(from, to, maxTicks) {
  // Midnight in Beijing (UTC+8, no daylight saving) of each day in range.
  const day = 24 * HOUR;
  const first = Math.ceil((from + 8 * HOUR) / day) * day - 8 * HOUR;
  const days = Math.max(1, Math.round((to - first) / day));
  const every = Math.max(1, Math.ceil(days / maxTicks));
  const ticks = [];
  for (let x = first; x <= to; x += every * day) ticks.push(x);
  return ticks;
}

// Overlapping windows shade the plot once, not darker and darker.
function union(windows) {
  const out = [];
  for (const w of [...windows].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else out.push({ start: w.start, end: w.end });
  }
  return out;
}

function extent(values, pick) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    const x = pick(v);
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return [lo, hi];
}

/**
 * readings: [{ start: ms, end: ms, kwh }], sorted by start;
 * anomalies: [{ start: ms, end: ms, kind, event_id }]. Each kind of anomaly gets a lane of
 * bars above the plot, and the plot is shaded where any window lies.
 */
export function powerChart(readings, anomalies) {
  const all = [...readings, ...anomalies];
  const from = extent(all, (r) => r.start)[0];
  const to = extent(all, (r) => r.end)[1];
  const max = extent(readings, (r) => r.kwh)[1];
  const top = niceMax(max * 1.05);
  const kinds = [...new Set(anomalies.map((a) => a.kind))];
  const plotTop = 10 + kinds.length * (LANE + LANE_GAP) + (kinds.length ? 6 : 0);
  const iw = W - M.left - M.right;
  const ih = H - plotTop - M.bottom;
  const x = (ms) => M.left + ((ms - from) / Math.max(1, to - from)) * iw;
  const y = (kwh) => plotTop + ih - (kwh / top) * ih;
  const laneY = (kind) => 10 + kinds.indexOf(kind) * (LANE + LANE_GAP);

  const grid = [];
  for (let i = 0; i <= 4; i += 1) {
    const v = (top / 4) * i;
    grid.push(
      s('line', { class: 'grid', x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }),
      s('text', { class: 'tick', x: M.left - 8, y: y(v) + 4, 'text-anchor': 'end' }, fmtNumber(v)),
    );
  }
  for (const tick of dayTicks(from, to, 8)) {
    const p = beijingParts(tick);
    grid.push(
      s('line', { class: 'grid grid-x', x1: x(tick), x2: x(tick), y1: plotTop, y2: plotTop + ih }),
      s(
        'text',
        { class: 'tick', x: x(tick), y: H - M.bottom + 18, 'text-anchor': 'middle' },
        `${p.month}-${p.day}`,
      ),
    );
  }

  const shade = union(anomalies).map((w) =>
    s('rect', {
      class: 'anomaly-shade',
      x: x(w.start),
      y: plotTop,
      width: Math.max(2, x(w.end) - x(w.start)),
      height: ih,
    }),
  );
  const lanes = kinds.map((kind) =>
    s(
      'g',
      { class: 'lane', dataset: { kind } },
      s(
        'text',
        { class: 'lane-label', x: M.left - 8, y: laneY(kind) + LANE - 1, 'text-anchor': 'end' },
        label('anomaly_short', kind),
      ),
      anomalies
        .filter((a) => a.kind === kind)
        .map((a) =>
          s(
            'rect',
            {
              class: 'anomaly',
              x: x(a.start),
              y: laneY(kind),
              width: Math.max(3, x(a.end) - x(a.start) - 1),
              height: LANE,
              rx: 2,
              dataset: { eventId: a.event_id },
            },
            s(
              'title',
              null,
              `${label('anomaly', a.kind)}: ${fmtTime(a.start)} – ${fmtTime(a.end)}`,
            ),
          ),
        ),
    ),
  );

  // A gap of more than two hours between readings breaks the line instead of bridging it.
  let d = '';
  let prevEnd = null;
  for (const r of readings) {
    const mid = (r.start + r.end) / 2;
    const cmd = prevEnd !== null && r.start - prevEnd <= 2 * HOUR ? 'L' : 'M';
    d += `${cmd}${x(mid).toFixed(1)},${y(r.kwh).toFixed(1)}`;
    prevEnd = r.end;
  }

  const guide = s('line', {
    class: 'guide',
    x1: 0,
    x2: 0,
    y1: plotTop,
    y2: plotTop + ih,
    visibility: 'hidden',
  });
  const dot = s('circle', { class: 'dot', r: 3.5, cx: 0, cy: 0, visibility: 'hidden' });
  const readout = h('p', { class: 'chart-readout', 'aria-hidden': 'true' }, '\u00a0');

  const summary = t('power.summary', {
    n: fmtNumber(readings.length),
    from: fmtDay(from),
    to: fmtDay(to),
    max: fmtNumber(max, 1),
    a: anomalies.length,
  });
  const svg = s(
    'svg',
    {
      class: 'chart',
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label': `${t('power.title')}. ${summary}`,
    },
    s('title', null, t('power.title')),
    shade,
    grid,
    lanes,
    s('path', { class: 'line', d }),
    s('line', { class: 'axis', x1: M.left, x2: W - M.right, y1: plotTop + ih, y2: plotTop + ih }),
    s('text', { class: 'unit', x: M.left + 4, y: plotTop + 12 }, t('power.kwh')),
    guide,
    dot,
    s('rect', { class: 'hit', x: M.left, y: plotTop, width: iw, height: ih }),
  );

  svg.addEventListener('pointermove', (ev) => {
    const box = svg.getBoundingClientRect();
    const ms = from + (((ev.clientX - box.left) * (W / box.width) - M.left) / iw) * (to - from);
    let lo = 0;
    let hi = readings.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (readings[mid].start < ms) lo = mid + 1;
      else hi = mid;
    }
    const r =
      lo > 0 && ms - readings[lo - 1].start < readings[lo].start - ms
        ? readings[lo - 1]
        : readings[lo];
    const cx = x((r.start + r.end) / 2);
    guide.setAttribute('x1', cx);
    guide.setAttribute('x2', cx);
    guide.setAttribute('visibility', 'visible');
    dot.setAttribute('cx', cx);
    dot.setAttribute('cy', y(r.kwh));
    dot.setAttribute('visibility', 'visible');
    readout.textContent = `${fmtTime(r.start)} · ${fmtNumber(r.kwh, 1)} ${t('power.kwh')}`;
  });
  svg.addEventListener('pointerleave', () => {
    guide.setAttribute('visibility', 'hidden');
    dot.setAttribute('visibility', 'hidden');
    readout.textContent = '\u00a0';
  });

  return h(
    'figure',
    { class: 'chart-figure' },
    svg,
    readout,
    h(
      'figcaption',
      null,
      h('span', { class: 'legend-line', 'aria-hidden': 'true' }),
      t('power.legend.line'),
      h('span', { class: 'legend-band', 'aria-hidden': 'true' }),
      t('power.legend.anomaly'),
      h('span', { class: 'chart-summary' }, summary),
    ),
  );
}
