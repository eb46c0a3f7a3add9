// Building the page from data. Text always goes in as text nodes, never as markup: every string
// shown comes from agencies' events and must not be able to inject anything.

import { label, lang, t } from './i18n.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class')
      el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function')
      el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// --- formatting ----------------------------------------------------------------------

// Dates are shown in Beijing time whatever the browser's zone, as the agencies record them.
const PARTS = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Asia/Shanghai',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

export function beijingParts(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const out = {};
  for (const p of PARTS.formatToParts(d)) out[p.type] = p.value;
  return out;
}

export function fmtDay(value) {
  if (!value) return t('dash');
  const p = beijingParts(value);
  return p ? `${p.year}-${p.month}-${p.day}` : String(value);
}

export function fmtTime(value) {
  if (!value) return t('dash');
  const p = beijingParts(value);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : String(value);
}

export function fmtClock(value) {
  const p = beijingParts(value);
  return p ? `${p.hour}:${p.minute}:${p.second}` : '';
}

export function timeEl(value, withTime = true) {
  if (!value) return h('span', { class: 'muted' }, t('dash'));
  return h(
    'time',
    { datetime: value, title: `${fmtTime(value)} (${t('beijing')})` },
    withTime ? fmtTime(value) : fmtDay(value),
  );
}

export function fmtNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return t('dash');
  return new Intl.NumberFormat(lang(), { maximumFractionDigits: digits }).format(Number(value));
}

export function fmtPercent(ratio) {
  if (ratio === null || ratio === undefined) return t('dash');
  return new Intl.NumberFormat(lang(), { style: 'percent', maximumFractionDigits: 0 }).format(
    ratio,
  );
}

// "FindingRecorded" -> "Finding recorded", for the English timeline.
export function humanType(eventType) {
  const words = String(eventType)
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function shortId(id) {
  return String(id).slice(0, 8);
}

// A progress bar that screen readers announce as one.
export function progressBar(ratio, text, extraClass = '') {
  const pct = Math.max(0, Math.min(1, Number(ratio) || 0));
  const fill = h('span', { class: 'bar-fill' });
  fill.style.width = `${(pct * 100).toFixed(1)}%`;
  return h(
    'div',
    {
      class: ['bar', extraClass, pct >= 1 ? 'bar-done' : ''],
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': Math.round(pct * 100),
      'aria-valuetext': text,
    },
    h('span', { class: 'bar-track' }, fill),
    h('span', { class: 'bar-text' }, text),
  );
}

const STATUS_RANK = { CLEAR: 0, WATCH: 1, CREDIT_RESTRICTED: 2, BLACKLISTED: 3 };
const SEVERITY_RANK = { info: 0, minor: 1, serious: 2, critical: 3 };

export function statusRank(status) {
  return STATUS_RANK[status] ?? null;
}

export function severityRank(severity) {
  return SEVERITY_RANK[severity] ?? null;
}

export function statusBadge(status, big = false) {
  return h(
    'span',
    {
      class: ['badge', `status-${String(status).toLowerCase()}`, big ? 'badge-big' : ''],
      dataset: { status },
    },
    label('status', status),
  );
}

export function severityBadge(severity) {
  if (!severity) return h('span', { class: 'muted' }, t('dash'));
  return h(
    'span',
    { class: ['badge', `sev-${severity}`], dataset: { severity } },
    label('severity', severity),
  );
}
