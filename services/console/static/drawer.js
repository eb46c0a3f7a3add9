// The source-event drawer: the enterprise's audit trail (`/v1/cases/{uscc}/events`), one
// article per event anchored by its event_id, with the sources of the selected fact highlighted.
// Every fact on the case-file page carries a button that opens it.

import { get } from './api.js';
import { h, clear, fmtTime, shortId } from './dom.js';
import { t, label } from './i18n.js';

const PAGE = 1000;
const MAX_PAGES = 20;

let context = null; // { uscc, streams, asOf, key }
let trail = null; // { key, promise }
let opener = null;

export function setContext(value) {
  context = value;
  if (trail && trail.key !== value?.key) trail = null;
}

async function pages(params) {
  const out = [];
  let after = 0;
  for (let i = 0; i < MAX_PAGES; i += 1) {
    const body = await get(`/v1/cases/${context.uscc}/events`, { ...params, after, limit: PAGE });
    out.push(...body.events);
    if (body.next_after === null) break;
    after = body.next_after;
  }
  return out;
}

// Stream by stream, so the grid's hourly readings (thousands a year, shown in the chart)
// are not downloaded just to be left out; of the power stream only the anomalies are listed.
async function load() {
  const streams = context.streams.filter((x) => x !== 'power');
  const parts = await Promise.all([
    ...streams.map((stream) => pages({ stream })),
    context.streams.includes('power')
      ? pages({ stream: 'power', event_type: 'PowerAnomalyDetected' })
      : Promise.resolve([]),
  ]);
  const cutoff = context.asOf ? Date.parse(context.asOf) : null;
  return parts
    .flat()
    .filter((x) => cutoff === null || Date.parse(x.event.recorded_at) <= cutoff)
    .sort((a, b) => a.position - b.position);
}

function trailEvents() {
  if (!trail || trail.key !== context.key) trail = { key: context.key, promise: load() };
  return trail.promise;
}

function drawer() {
  return document.getElementById('drawer');
}

export function closeDrawer() {
  const el = drawer();
  if (el.hidden) return;
  el.hidden = true;
  document.body.classList.remove('drawer-open');
  opener?.focus();
  opener = null;
}

function article(item, hits) {
  const ev = item.event;
  const hit = hits.has(ev.event_id);
  return h(
    'article',
    {
      class: ['event', hit ? 'hit' : ''],
      id: `ev-${ev.event_id}`,
      'aria-current': hit ? 'true' : null,
    },
    h(
      'header',
      null,
      h('strong', null, ev.event_type),
      h('span', { class: 'chip' }, label('stream', ev.stream)),
      h('span', { class: 'muted' }, `${t('drawer.position')} ${item.position}`),
    ),
    h(
      'p',
      { class: 'event-meta' },
      `${t('col.occurred')} ${fmtTime(ev.occurred_at)} · ${t('col.recorded')} ${fmtTime(ev.recorded_at)}`,
      h('br'),
      `${t('drawer.actor')} ${ev.actor} · `,
      h('code', null, ev.event_id),
    ),
    h('pre', { class: 'json', tabindex: 0 }, h('code', null, JSON.stringify(ev, null, 2))),
  );
}

export async function openSources(ids, button) {
  if (!context) return;
  const el = drawer();
  opener = button || null;
  const hits = new Set(ids);
  const body = el.querySelector('.drawer-body');
  clear(body).append(h('p', { class: 'loading' }, t('loading')));
  el.hidden = false;
  document.body.classList.add('drawer-open');
  el.querySelector('.drawer-close').focus();
  try {
    const events = await trailEvents();
    const found = new Set(events.map((x) => x.event.event_id));
    const missing = ids.filter((id) => !found.has(id));
    clear(body).append(
      h('p', { class: 'lead' }, t('drawer.lead')),
      ...missing.map((id) => h('p', { class: 'notice' }, t('drawer.missing', { id }))),
      h(
        'div',
        { class: 'events', id: 'drawer-events' },
        events.map((x) => article(x, hits)),
      ),
    );
    const first = body.querySelector('article.hit');
    first?.scrollIntoView({ block: 'start' });
  } catch (err) {
    clear(body).append(
      h(
        'p',
        { class: 'error', role: 'alert' },
        t('error.generic', { status: err.status ?? '', message: err.message }),
      ),
    );
  }
}

export function sourceButton(ids) {
  const list = [...new Set((ids || []).filter(Boolean))];
  if (!list.length) return h('span', { class: 'muted' }, t('dash'));
  return h(
    'button',
    {
      type: 'button',
      class: 'src',
      title: list.map(shortId).join(' '),
      'aria-label': t('source.label', { ids: list.map(shortId).join(', ') }),
      dataset: { eventIds: list.join(' ') },
      onclick: (ev) => openSources(list, ev.currentTarget),
    },
    list.length > 1 ? t('source.n', { n: list.length }) : t('source'),
  );
}

export function initDrawer() {
  const el = drawer();
  el.querySelector('.drawer-close').addEventListener('click', closeDrawer);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') closeDrawer();
  });
}
