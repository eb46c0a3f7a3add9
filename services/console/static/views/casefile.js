// The joint case file of one enterprise: `GET /v1/cases/{uscc}` (with `as_of` for a past day),
// its credit status from `GET /v1/blacklist/{uscc}`, and the grid's readings from the power
// stream. While it shows the present it polls every 2 s and redraws when the file changed.

import { get } from '../api.js';
import { powerChart } from '../chart.js';
import {
  h,
  fmtClock,
  fmtDay,
  fmtNumber,
  fmtPercent,
  humanType,
  progressBar,
  severityBadge,
  severityRank,
  statusBadge,
  timeEl,
  beijingParts,
} from '../dom.js';
import { closeDrawer, setContext, sourceButton } from '../drawer.js';
import { label, lang, pick, t } from '../i18n.js';
import { emptyNote, table } from '../table.js';

const POLL_MS = 2000;
const TIMELINE_SHOWN = 30;
const POWER_PAGE = 1000;
const POWER_MAX_PAGES = 20;

// What the analyst chose on this page, kept across live redraws and language switches.
let ui = { uscc: null, dim: null, timelineAll: false, sorts: {}, open: new Set() };

function resetUi(uscc) {
  if (ui.uscc !== uscc) ui = { uscc, dim: null, timelineAll: false, sorts: {}, open: new Set() };
}

// --- fetching ------------------------------------------------------------------------

function todayInBeijing() {
  const p = beijingParts(new Date());
  return `${p.year}-${p.month}-${p.day}`;
}

// The end of the chosen day in Beijing, but never later than now: a blacklist evaluated at a
// future instant would show deadlines that have not passed yet as passed.
function asOfInstant(day) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day || '')) return null;
  const end = new Date(`${day}T23:59:59.999+08:00`);
  if (Number.isNaN(end.getTime())) return null;
  return (end.getTime() > Date.now() ? new Date() : end).toISOString();
}

async function fetchPower(uscc, asOf) {
  const readings = [];
  let after = 0;
  let capped = false;
  for (let i = 0; ; i += 1) {
    if (i === POWER_MAX_PAGES) {
      capped = true;
      break;
    }
    const body = await get(`/v1/cases/${uscc}/events`, {
      stream: 'power',
      limit: POWER_PAGE,
      after,
    });
    for (const item of body.events) {
      const ev = item.event;
      if (ev.event_type !== 'PowerReading') continue;
      if (asOf && Date.parse(ev.recorded_at) > Date.parse(asOf)) continue;
      readings.push({
        start: Date.parse(ev.payload.period_start),
        end: Date.parse(ev.payload.period_end),
        kwh: Number(ev.payload.kwh),
        event_id: ev.event_id,
      });
    }
    if (body.next_after === null) break;
    after = body.next_after;
  }
  readings.sort((a, b) => a.start - b.start);
  return { readings, capped };
}

async function fetchAll(uscc, asOf) {
  const params = asOf ? { as_of: asOf } : {};
  const [cf, bl] = await Promise.all([
    get(`/v1/cases/${uscc}`, params),
    get(`/v1/blacklist/${uscc}`, params).catch(() => null),
  ]);
  const power = cf.agencies.some((a) => a.stream === 'power')
    ? await fetchPower(uscc, asOf).catch(() => ({ readings: [], capped: false }))
    : { readings: [], capped: false };
  return { cf, bl, power };
}

function signature(cf) {
  return `${cf.event_count}|${cf.last_recorded_at}`;
}

// --- small pieces --------------------------------------------------------------------

function agencyName(x) {
  return pick(x.agency_zh ?? x.name_zh, x.agency_en ?? x.name_en);
}

function section(id, title, count, ...content) {
  const heading = h(
    'h2',
    { id: `${id}-title` },
    title,
    count !== null && count !== undefined ? h('span', { class: 'count' }, String(count)) : null,
  );
  return h(
    'section',
    { class: 'card section', id, 'aria-labelledby': `${id}-title` },
    heading,
    content,
  );
}

function details(key, summary, ...content) {
  const el = h(
    'details',
    { open: ui.open.has(key), dataset: { key } },
    h('summary', null, summary),
    content,
  );
  el.addEventListener('toggle', () => (el.open ? ui.open.add(key) : ui.open.delete(key)));
  return el;
}

function sortedTable(key, spec) {
  return table({
    ...spec,
    sort: ui.sorts[key] ?? spec.sort ?? null,
    onSort: (sort) => (ui.sorts[key] = sort),
  });
}

const col = {
  time: (key, title, get) => ({
    key,
    label: title,
    sort: (r) => get(r),
    render: (r) => timeEl(get(r)),
  }),
  agency: () => ({ key: 'agency', label: t('col.agency'), sort: agencyName, render: agencyName }),
  source: (get) => ({ key: 'source', label: t('col.source'), render: (r) => sourceButton(get(r)) }),
  text: (key, title, get, cls) => ({ key, label: title, render: (r) => get(r) ?? t('dash'), cls }),
  num: (key, title, get, digits = 0) => ({
    key,
    label: title,
    num: true,
    sort: (r) => get(r),
    render: (r) => fmtNumber(get(r), digits),
  }),
};

// --- header --------------------------------------------------------------------------

function fact(term, value, sources) {
  return h(
    'div',
    { class: 'fact' },
    h('dt', null, term),
    h('dd', null, value ?? t('dash'), sources ? [' ', sourceButton(sources)] : null),
  );
}

function header(cf, bl, asOf) {
  const e = cf.enterprise;
  const name = e.name?.value || cf.uscc;
  const status = bl?.status ?? 'CLEAR';
  const rules = new Map();
  for (const x of bl?.listings ?? [])
    rules.set(x.basis.rule_id, pick(x.basis.rule_title_zh, x.basis.rule_title_en));

  const credit = h(
    'div',
    { class: 'credit' },
    h(
      'div',
      { class: 'credit-status' },
      h('span', { class: 'label' }, t('case.status')),
      statusBadge(status, true),
    ),
    bl && bl.measures.length
      ? h(
          'dl',
          { class: 'credit-facts' },
          fact(
            t('case.measures'),
            h(
              'ul',
              { class: 'measures' },
              // Both wordings: the task force quotes them to banks in either language.
              bl.measures.map((m) => {
                const en = lang() === 'en';
                return h(
                  'li',
                  { lang: en ? 'en' : 'zh-CN' },
                  en ? m.en : m.zh,
                  h(
                    'span',
                    { class: 'block small muted', lang: en ? 'zh-CN' : 'en' },
                    en ? m.zh : m.en,
                  ),
                );
              }),
            ),
          ),
          fact(t('case.since'), timeEl(bl.since)),
          fact(t('case.pub_end'), timeEl(bl.publication_ends_at, false)),
          fact(
            t('case.rules'),
            h(
              'ul',
              { class: 'rules' },
              [...rules].map(([id, title]) =>
                h('li', null, h('span', { class: 'rule-id' }, id), ' ', title),
              ),
            ),
          ),
        )
      : h('p', { class: 'muted' }, t('case.no_listing')),
    bl && bl.history.length
      ? details(
          'history',
          `${t('case.history')} (${bl.history.length})`,
          h(
            'ul',
            { class: 'history' },
            bl.history.map((x) =>
              h(
                'li',
                null,
                t('case.history.item', {
                  status: label('status', x.status),
                  start: fmtDay(x.started_at),
                  end: fmtDay(x.ended_at),
                  by: `${x.basis.rule_id}, ${x.ended_by}`,
                }),
              ),
            ),
          ),
        )
      : null,
    bl
      ? h(
          'p',
          { class: 'small muted' },
          `${t('case.evaluated')} ${fmtDay(bl.evaluated_at)} · ${t('case.data_version')} ${bl.data_version}`,
        )
      : null,
  );

  return h(
    'header',
    { class: 'case-head card' },
    h(
      'div',
      { class: 'case-id' },
      h('h1', { id: 'page-title' }, name),
      h(
        'p',
        { class: 'mono uscc' },
        h('span', { class: 'visually-hidden' }, `${t('case.uscc')} `),
        cf.uscc,
      ),
      h(
        'dl',
        { class: 'facts' },
        fact(
          t('case.region'),
          h(
            'span',
            { class: 'mono' },
            `${cf.region.province_code} › ${cf.region.city_code} › ${cf.region.county_code}`,
          ),
        ),
        fact(
          t('case.industry'),
          e.industry ? label('industry', e.industry.value) : null,
          e.industry?.source_event_ids,
        ),
        fact(
          t('case.legal'),
          e.legal_representative?.value,
          e.legal_representative?.source_event_ids,
        ),
        fact(
          t('case.address'),
          e.registered_address?.value,
          e.registered_address?.source_event_ids,
        ),
        e.registered_on
          ? fact(t('case.registered_on'), e.registered_on.value, e.registered_on.source_event_ids)
          : null,
      ),
    ),
    credit,
  );
}

function toolbar(uscc, day, navigate) {
  const input = h('input', {
    id: 'asof',
    type: 'date',
    name: 'as_of',
    value: day || '',
    max: todayInBeijing(),
  });
  const liveStatus = day
    ? null
    : h(
        'p',
        { class: 'live', id: 'live-status', role: 'status', title: t('case.live.title') },
        h('span', { class: 'live-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'live-label' }, t('case.live')),
        h('span', { class: 'live-updated', id: 'live-updated' }),
      );
  return h(
    'div',
    { class: 'toolbar' },
    h(
      'form',
      {
        class: 'asof',
        onsubmit: (ev) => {
          ev.preventDefault();
          navigate(input.value ? `#/case/${uscc}?as_of=${input.value}` : `#/case/${uscc}`);
        },
      },
      h('label', { for: 'asof' }, t('case.asof.label')),
      input,
      h('button', { type: 'submit' }, t('case.asof.apply')),
      day
        ? h(
            'button',
            { type: 'button', onclick: () => navigate(`#/case/${uscc}`) },
            t('case.asof.clear'),
          )
        : null,
    ),
    liveStatus,
  );
}

function stats(cf) {
  const item = (key, value) =>
    h('div', { class: 'stat' }, h('dd', null, value), h('dt', null, t(key)));
  return h(
    'dl',
    { class: 'stats' },
    item('stat.events', fmtNumber(cf.event_count)),
    item('stat.findings_open', fmtNumber(cf.finding_counts.open)),
    item('stat.findings_rectified', fmtNumber(cf.finding_counts.rectified)),
    item('stat.penalties', fmtNumber(cf.penalties.length)),
    item('stat.agencies', fmtNumber(cf.agencies.filter((a) => a.stream !== 'taskforce').length)),
    item('stat.last', timeEl(cf.last_recorded_at)),
  );
}

// --- sections ------------------------------------------------------------------------

function matrix(cf, redraw) {
  const tiles = cf.dimensions.map((d) => {
    const sev = d.status === 'open' ? d.highest_open_severity : null;
    const pressed = ui.dim === d.dimension;
    return h(
      'li',
      {
        class: ['tile', `dim-${d.status}`, sev ? `sev-${sev}` : ''],
        dataset: { dimension: d.dimension, state: d.status, severity: sev || '' },
      },
      h(
        'button',
        {
          type: 'button',
          class: 'tile-main',
          'aria-pressed': String(pressed),
          onclick: () => {
            ui.dim = pressed ? null : d.dimension;
            redraw();
            document.getElementById('sec-findings')?.scrollIntoView({ block: 'start' });
          },
        },
        h('span', { class: 'tile-name' }, pick(d.name_zh, d.name_en)),
        h(
          'span',
          { class: 'tile-state' },
          label('dim_state', d.status),
          sev ? ` · ${label('severity', sev)}` : '',
        ),
      ),
      h(
        'span',
        { class: 'tile-foot' },
        h(
          'span',
          null,
          t('matrix.open', { n: d.open_finding_ids.length }),
          ' · ',
          t('matrix.rectified', { n: d.rectified_finding_ids.length }),
        ),
        d.source_event_ids.length ? sourceButton(d.source_event_ids) : null,
      ),
    );
  });
  const legend = h(
    'ul',
    { class: 'legend', 'aria-label': t('matrix.legend') },
    [
      ['dim-clear', label('dim_state', 'clear')],
      ['dim-rectified', label('dim_state', 'rectified')],
      ...['info', 'minor', 'serious', 'critical'].map((s) => [
        `dim-open sev-${s}`,
        `${label('dim_state', 'open')} · ${label('severity', s)}`,
      ]),
    ].map(([cls, text]) =>
      h('li', null, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text),
    ),
  );
  return section(
    'sec-matrix',
    t('sec.matrix'),
    null,
    h('p', { class: 'lead' }, t('sec.matrix.lead')),
    h('ul', { class: 'matrix', id: 'matrix' }, tiles),
    legend,
  );
}

function timeline(cf, fresh, redraw) {
  const entries = [...cf.timeline].reverse(); // newest first
  const shown = ui.timelineAll ? entries : entries.slice(0, TIMELINE_SHOWN);
  const list = h(
    'ol',
    { class: 'timeline', id: 'timeline' },
    shown.map((x) =>
      h(
        'li',
        {
          class: ['tl-item', fresh.has(x.event_id) ? 'new' : '', `stream-${x.stream}`],
          id: `tl-${x.event_id}`,
          dataset: { eventId: x.event_id },
        },
        h('div', { class: 'tl-when' }, timeEl(x.occurred_at)),
        h(
          'div',
          { class: 'tl-body' },
          h(
            'p',
            { class: 'tl-head' },
            h('span', { class: 'chip' }, pick(x.agency_zh, x.agency_en)),
            h(
              'span',
              { class: 'tl-type' },
              lang() === 'en' ? humanType(x.event_type) : x.event_type_zh,
            ),
            h('span', { class: 'tl-summary' }, pick(x.summary_zh, x.summary_en)),
          ),
          h('p', { class: 'tl-meta small muted' }, `${t('col.recorded')} `, timeEl(x.recorded_at)),
        ),
        h('div', { class: 'tl-src' }, sourceButton([x.event_id])),
      ),
    ),
  );
  const more =
    entries.length > TIMELINE_SHOWN
      ? h(
          'button',
          {
            type: 'button',
            class: 'link-button',
            onclick: () => {
              ui.timelineAll = !ui.timelineAll;
              redraw();
            },
          },
          ui.timelineAll ? t('show.less') : t('show.all', { n: entries.length }),
        )
      : null;
  return section(
    'sec-timeline',
    t('sec.timeline'),
    entries.length,
    entries.length ? [list, more] : emptyNote(),
  );
}

function findingColumns() {
  return [
    col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
    col.agency(),
    {
      key: 'dimension',
      label: t('col.dimension'),
      sort: (r) => r.dimension,
      render: (r) => label('dimension', r.dimension),
    },
    {
      key: 'severity',
      label: t('col.severity'),
      sort: (r) => severityRank(r.severity),
      render: (r) => severityBadge(r.severity),
    },
    {
      key: 'code',
      label: t('col.code'),
      sort: (r) => r.violation_code,
      render: (r) => h('span', { class: 'mono' }, r.violation_code),
    },
    {
      key: 'description',
      label: t('col.description'),
      cls: 'wide',
      render: (r) => [
        h('span', null, r.description),
        r.evidence.length
          ? h(
              'span',
              { class: 'small muted block' },
              `${t('col.evidence')}${t('colon')}${r.evidence.join(t('list.sep'))}`,
            )
          : null,
        r.location
          ? h(
              'span',
              { class: 'small muted block' },
              `${t('col.location')}${t('colon')}${r.location}`,
            )
          : null,
      ],
    },
  ];
}

function findings(cf, redraw) {
  const rows = ui.dim ? cf.findings.filter((f) => f.dimension === ui.dim) : cf.findings;
  const filter = ui.dim
    ? h(
        'p',
        { class: 'filter-chip', role: 'status' },
        t('matrix.filter', { dim: label('dimension', ui.dim) }),
        ' ',
        h(
          'button',
          {
            type: 'button',
            class: 'link-button',
            onclick: () => {
              ui.dim = null;
              redraw();
            },
          },
          t('matrix.filter.clear'),
        ),
      )
    : null;
  const main = rows.length
    ? sortedTable('findings', {
        id: 'findings-table',
        columns: [
          ...findingColumns(),
          {
            key: 'status',
            label: t('col.status'),
            sort: (r) => r.status,
            render: (r) => [
              h('span', { class: `state state-${r.status}` }, label('finding_status', r.status)),
              r.rectified_at
                ? h('span', { class: 'small muted block' }, fmtDay(r.rectified_at))
                : null,
            ],
          },
          {
            key: 'amendments',
            label: t('col.amendments'),
            num: true,
            render: (r) =>
              r.amendments.length
                ? h(
                    'span',
                    { title: r.amendments.map((a) => a.reason).join('\n') },
                    String(r.amendments.length),
                  )
                : t('dash'),
          },
          col.source((r) => r.source_event_ids),
        ],
        rows,
        rowClass: (r) => `finding-${r.status}`,
      })
    : emptyNote();
  const retracted = cf.retracted_findings.length
    ? details(
        'retracted',
        t('sec.retracted', { n: cf.retracted_findings.length }),
        sortedTable('retracted', {
          columns: [
            ...findingColumns().map((c) => ({
              ...c,
              render: (r) => c.render(r.finding),
              sort: c.sort ? (r) => c.sort(r.finding) : undefined,
            })),
            col.time('retracted', t('col.closed'), (r) => r.retracted_at),
            col.text('reason', t('col.reason'), (r) =>
              r.retractions.map((x) => x.reason).join(t('list.sep')),
            ),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.retracted_findings,
        }),
      )
    : null;
  const orphans = cf.orphan_corrections.length
    ? details(
        'orphans',
        t('sec.orphans', { n: cf.orphan_corrections.length }),
        sortedTable('orphans', {
          columns: [
            col.time('occurred', t('col.occurred'), (r) => r.correction.occurred_at),
            col.text('type', t('col.event'), (r) => r.correction.event_type),
            col.text('finding', t('sec.findings'), (r) => r.finding_id, 'mono'),
            col.text('reason', t('col.reason'), (r) => r.correction.reason),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.orphan_corrections,
        }),
      )
    : null;
  return section(
    'sec-findings',
    t('sec.findings'),
    cf.findings.length,
    filter,
    main,
    retracted,
    orphans,
  );
}

function penalties(cf) {
  return section(
    'sec-penalties',
    t('sec.penalties'),
    cf.penalties.length,
    cf.penalties.length
      ? sortedTable('penalties', {
          id: 'penalties-table',
          columns: [
            col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
            col.agency(),
            {
              key: 'kind',
              label: t('col.kind'),
              sort: (r) => r.kind,
              render: (r) => label('penalty', r.kind),
            },
            col.num('amount', t('col.amount'), (r) => r.amount_cny, 2),
            col.text('basis', t('col.basis'), (r) => r.legal_basis, 'wide'),
            col.text('description', t('col.description'), (r) => r.description),
            col.num('findings', t('col.findings'), (r) => r.finding_ids.length),
            col.time('rectified', t('col.rectified_at'), (r) => r.rectified_at),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.penalties,
        })
      : emptyNote(),
  );
}

function rectifications(cf) {
  return section(
    'sec-rectifications',
    t('sec.rectifications'),
    cf.rectifications.length,
    cf.rectifications.length
      ? sortedTable('rectifications', {
          columns: [
            col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
            col.agency(),
            col.text('description', t('col.description'), (r) => r.description, 'wide'),
            col.num('findings', t('col.findings'), (r) => r.finding_ids.length),
            col.num('penalties', t('col.penalties'), (r) => r.penalty_ids.length),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.rectifications,
        })
      : emptyNote(),
  );
}

function illegalSteel(cf) {
  if (!cf.illegal_steel.length) return null;
  return section(
    'sec-illegal',
    t('sec.illegal'),
    cf.illegal_steel.length,
    sortedTable('illegal', {
      columns: [
        col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
        col.agency(),
        {
          key: 'furnace',
          label: t('col.furnace'),
          render: (r) => label('furnace', r.furnace_type),
        },
        col.num('count', t('col.count'), (r) => r.furnace_count),
        col.num('capacity', t('col.capacity'), (r) => r.capacity_tonnes),
        col.text('description', t('col.description'), (r) => r.description, 'wide'),
        col.source((r) => r.source_event_ids),
      ],
      rows: cf.illegal_steel,
    }),
  );
}

function targetState(target, now) {
  if (target.met) return target.met_by_deadline ? 'met' : 'met_late';
  return Date.parse(target.deadline) <= now ? 'overdue' : 'pending';
}

function targetCard(target, now) {
  const state = targetState(target, now);
  const bar = (kind, done, goal) =>
    goal > 0
      ? h(
          'div',
          { class: 'progress-row' },
          h('span', { class: 'progress-label' }, t(`target.${kind}`)),
          progressBar(
            done / goal,
            t('target.progress', {
              done: fmtNumber(done),
              goal: fmtNumber(goal),
              pct: fmtPercent(Math.min(1, done / goal)),
            }),
            `bar-${state}`,
          ),
        )
      : null;
  return h(
    'li',
    { class: ['target', `target-${state}`], dataset: { targetId: target.target_id, state } },
    h(
      'div',
      { class: 'target-head' },
      h('strong', { class: 'mono' }, target.target_id),
      h('span', { class: `badge target-badge-${state}` }, t(`target.${state}`)),
      h('span', { class: 'small' }, `${t('target.deadline')} `, timeEl(target.deadline, false)),
    ),
    bar('iron', target.iron_dismantled_tonnes, target.iron_tonnes),
    bar('steel', target.steel_dismantled_tonnes, target.steel_tonnes),
    h(
      'p',
      { class: 'small muted' },
      `${t('target.basis')}${t('colon')}${target.basis}`,
      target.met_at ? ` · ${t('target.met_at')} ${fmtDay(target.met_at)}` : '',
      ' · ',
      sourceButton(target.source_event_ids),
    ),
  );
}

function capacity(cf, now) {
  const c = cf.capacity;
  const total =
    c.equipment.length +
    c.targets.length +
    c.replacements.length +
    c.unregistered_dismantlings.length;
  if (!total) return section('sec-capacity', t('sec.capacity'), 0, emptyNote());
  const parts = [];
  if (c.targets.length) {
    parts.push(
      h('h3', null, t('sec.targets')),
      h(
        'ul',
        { class: 'targets', id: 'targets' },
        c.targets.map((x) => targetCard(x, now)),
      ),
    );
  }
  if (c.by_product.length || c.by_kind.length) {
    parts.push(
      h('h3', null, t('sec.totals')),
      h(
        'div',
        { class: 'two-col' },
        sortedTable('by_product', {
          columns: [
            { key: 'product', label: t('col.product'), render: (r) => label('product', r.product) },
            col.num('active', t('col.active'), (r) => r.active_tonnes),
            col.num('dismantled', t('col.dismantled'), (r) => r.dismantled_tonnes),
            col.source((r) => r.source_event_ids),
          ],
          rows: c.by_product,
        }),
        sortedTable('by_kind', {
          columns: [
            { key: 'kind', label: t('col.kind'), render: (r) => label('equipment', r.kind) },
            col.num('active', t('col.active'), (r) => r.active_tonnes),
            col.num('dismantled', t('col.dismantled'), (r) => r.dismantled_tonnes),
            col.source((r) => r.source_event_ids),
          ],
          rows: c.by_kind,
        }),
      ),
    );
  }
  if (c.equipment.length) {
    parts.push(
      h('h3', null, t('sec.equipment')),
      sortedTable('equipment', {
        id: 'equipment-table',
        columns: [
          {
            key: 'id',
            label: t('col.equipment'),
            sort: (r) => r.equipment_id,
            render: (r) => h('span', { class: 'mono' }, r.equipment_id),
          },
          {
            key: 'kind',
            label: t('col.kind'),
            sort: (r) => r.kind,
            render: (r) => label('equipment', r.kind),
          },
          {
            key: 'size',
            label: t('col.size'),
            num: true,
            sort: (r) => r.size,
            render: (r) => `${fmtNumber(r.size, 1)} ${r.size_unit === 'm3' ? 'm³' : 't'}`,
          },
          { key: 'product', label: t('col.product'), render: (r) => label('product', r.product) },
          col.num('capacity', t('col.capacity'), (r) => r.annual_capacity_tonnes),
          {
            key: 'state',
            label: t('col.state'),
            sort: (r) => r.state,
            render: (r) =>
              h('span', { class: `state state-${r.state}` }, label('equipment_state', r.state)),
          },
          col.time('dismantled', t('col.dismantled_at'), (r) => r.dismantled_at),
          col.text('verified', t('col.verified_by'), (r) => r.verified_by),
          col.source((r) => r.source_event_ids),
        ],
        rows: c.equipment,
      }),
    );
  }
  if (c.replacements.length) {
    parts.push(
      h('h3', null, t('sec.replacements')),
      sortedTable('replacements', {
        columns: [
          col.text('project', t('col.project'), (r) => r.project_id, 'mono'),
          { key: 'product', label: t('col.product'), render: (r) => label('product', r.product) },
          col.num('new', t('col.new'), (r) => r.new_capacity_tonnes),
          col.num('retired', t('col.retired'), (r) => r.retired_capacity_tonnes),
          {
            key: 'excess',
            label: t('col.excess'),
            num: true,
            render: (r) =>
              r.exceeds_retired
                ? h('span', { class: 'warn' }, fmtNumber(r.excess_tonnes))
                : t('dash'),
          },
          col.num('made_up', t('col.made_up'), (r) => r.made_up_tonnes),
          col.time('approved', t('col.approved_at'), (r) => r.approved_at),
          col.source((r) => r.source_event_ids),
        ],
        rows: c.replacements,
      }),
    );
  }
  if (c.unregistered_dismantlings.length) {
    parts.push(
      details(
        'unregistered',
        t('sec.unregistered', { n: c.unregistered_dismantlings.length }),
        sortedTable('unregistered', {
          columns: [
            col.text('id', t('col.equipment'), (r) => r.equipment_id, 'mono'),
            col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
            col.source((r) => r.source_event_ids),
          ],
          rows: c.unregistered_dismantlings,
        }),
      ),
    );
  }
  return section('sec-capacity', t('sec.capacity'), null, parts);
}

function tipoffs(cf) {
  return section(
    'sec-tipoffs',
    t('sec.tipoffs'),
    cf.tipoffs.length,
    cf.tipoffs.length
      ? sortedTable('tipoffs', {
          id: 'tipoffs-table',
          columns: [
            col.text('id', t('col.tipoff'), (r) => r.tipoff_id, 'mono'),
            col.text('channel', t('col.channel'), (r) => r.channel),
            col.text('summary', t('col.summary'), (r) => r.summary, 'wide'),
            {
              key: 'state',
              label: t('col.state'),
              sort: (r) => r.state,
              render: (r) =>
                h('span', { class: `badge tip-${r.state}` }, label('tipoff_state', r.state)),
            },
            col.time('received', t('col.received'), (r) => r.received_at),
            col.time('verified', t('col.verified'), (r) => r.verified_at),
            {
              key: 'substantiated',
              label: t('col.substantiated'),
              render: (r) =>
                r.substantiated === null
                  ? t('dash')
                  : r.substantiated
                    ? t('tip.substantiated')
                    : t('tip.unsubstantiated'),
            },
            col.time('closed', t('col.closed'), (r) => r.closed_at),
            col.text('outcome', t('col.outcome'), (r) => r.outcome),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.tipoffs,
        })
      : emptyNote(),
  );
}

function power(cf, data) {
  const anomalies = cf.power_anomalies.map((a) => ({
    start: Date.parse(a.window_start),
    end: Date.parse(a.window_end),
    kind: a.kind,
    event_id: a.event_id,
  }));
  const { readings, capped } = data;
  if (!readings.length && !anomalies.length)
    return section('sec-power', t('sec.power'), null, emptyNote(t('power.none')));
  const chart = readings.length ? powerChart(readings, anomalies) : emptyNote(t('power.none'));
  const table_ = anomalies.length
    ? [
        h('h3', null, t('power.anomalies')),
        sortedTable('anomalies', {
          id: 'anomalies-table',
          columns: [
            { key: 'kind', label: t('col.kind'), render: (r) => label('anomaly', r.kind) },
            {
              key: 'window',
              label: t('col.window'),
              sort: (r) => r.window_start,
              render: (r) => [timeEl(r.window_start), ' – ', timeEl(r.window_end)],
            },
            col.num('observed', t('col.observed'), (r) => r.observed, 2),
            col.num('baseline', t('col.baseline'), (r) => r.baseline, 2),
            col.num('readings', t('col.readings'), (r) => r.reading_count),
            col.text('description', t('col.description'), (r) => r.description),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.power_anomalies,
        }),
      ]
    : null;
  return section(
    'sec-power',
    t('sec.power'),
    null,
    chart,
    capped
      ? h('p', { class: 'small muted' }, t('power.capped', { n: fmtNumber(readings.length) }))
      : null,
    table_,
  );
}

function cases(cf) {
  if (!cf.cases.length) return null;
  return section(
    'sec-cases',
    t('sec.cases'),
    cf.cases.length,
    sortedTable('cases', {
      id: 'cases-table',
      columns: [
        col.text('id', t('col.case_id'), (r) => r.case_id, 'mono'),
        col.text('title', t('col.title'), (r) => r.title),
        {
          key: 'state',
          label: t('col.state'),
          sort: (r) => r.state,
          render: (r) =>
            h('span', { class: `state state-${r.state}` }, label('case_state', r.state)),
        },
        col.time('opened', t('col.opened'), (r) => r.opened_at),
        col.text('assignee', t('col.assignee'), (r) => r.assignee),
        col.text('escalation', t('col.escalation'), (r) => r.escalation_level),
        col.time('closed', t('col.closed'), (r) => r.closed_at),
        col.text('outcome', t('col.outcome'), (r) => r.outcome),
        {
          key: 'actions',
          label: t('col.actions'),
          render: (r) =>
            h(
              'ol',
              { class: 'actions-list' },
              r.actions.map((a) =>
                h(
                  'li',
                  null,
                  `${fmtDay(a.occurred_at)} ${label('action', a.action)}${t('colon')}${a.detail}`,
                  ' ',
                  sourceButton([a.event_id]),
                ),
              ),
            ),
        },
      ],
      rows: cf.cases,
    }),
  );
}

function agencies(cf) {
  return section(
    'sec-agencies',
    t('sec.agencies'),
    cf.agencies.length,
    cf.agencies.length
      ? sortedTable('agencies', {
          columns: [
            { key: 'agency', label: t('col.agency'), sort: agencyName, render: agencyName },
            col.num('events', t('col.events'), (r) => r.event_count),
            col.num('findings', t('col.findings'), (r) => r.finding_count),
            col.time('first', t('col.first'), (r) => r.first_occurred_at),
            col.time('last', t('col.last'), (r) => r.last_occurred_at),
            col.source((r) => r.source_event_ids),
          ],
          rows: cf.agencies,
        })
      : emptyNote(),
  );
}

function repairs(cf) {
  if (!cf.credit_repairs.length) return null;
  return section(
    'sec-repairs',
    t('sec.repairs'),
    cf.credit_repairs.length,
    sortedTable('repairs', {
      columns: [
        col.time('occurred', t('col.occurred'), (r) => r.occurred_at),
        { key: 'agency', label: t('col.agency'), render: (r) => label('stream', r.stream) },
        col.text('rule', t('col.rule'), (r) => r.rule_id, 'mono'),
        col.text('reason', t('col.reason'), (r) => r.reason, 'wide'),
        col.source((r) => [r.event_id]),
      ],
      rows: cf.credit_repairs,
    }),
  );
}

function sectionNav(sections) {
  return h(
    'nav',
    { class: 'section-nav', 'aria-label': t('case.sections') },
    h(
      'ul',
      null,
      sections.filter(Boolean).map((el) =>
        h(
          'li',
          null,
          h(
            'button',
            {
              type: 'button',
              class: 'link-button',
              onclick: () => el.scrollIntoView({ block: 'start' }),
            },
            el.querySelector('h2').firstChild.textContent,
          ),
        ),
      ),
    ),
  );
}

// --- the page ------------------------------------------------------------------------

export function renderCaseFile(main, uscc, params, { navigate, isCurrent, fail, announce }) {
  resetUi(uscc);
  closeDrawer();
  const day = /^\d{4}-\d{2}-\d{2}$/.test(params.get('as_of') || '') ? params.get('as_of') : null;
  const asOf = day ? asOfInstant(day) : null;
  let state = null; // { cf, bl, power, sig, fresh }
  let timer = null;
  let stopped = false;
  let flashTimer = null;

  const crumbs = () =>
    h(
      'nav',
      { class: 'breadcrumb', 'aria-label': 'breadcrumb' },
      h('a', { href: '#/cases' }, `‹ ${t('case.back')}`),
    );

  const draw = () => {
    const { cf, bl } = state;
    setContext({
      uscc,
      streams: cf.agencies.map((a) => a.stream),
      asOf,
      key: `${uscc}|${state.sig}|${asOf ?? ''}`,
    });
    const now = asOf ? Date.parse(asOf) : Date.now();
    const sections = [
      matrix(cf, draw),
      timeline(cf, state.fresh, draw),
      findings(cf, draw),
      penalties(cf),
      rectifications(cf),
      illegalSteel(cf),
      capacity(cf, now),
      tipoffs(cf),
      power(cf, state.power),
      cases(cf),
      agencies(cf),
      repairs(cf),
    ].filter(Boolean);
    const y = window.scrollY;
    const keepUpdated = document.getElementById('live-updated')?.textContent || '';
    main.replaceChildren(
      ...[
        crumbs(),
        header(cf, bl, asOf),
        toolbar(uscc, day, navigate),
        day ? h('p', { class: 'banner', role: 'note' }, t('case.asof.banner', { day })) : null,
        stats(cf),
        sectionNav(sections),
        h('div', { class: 'sections' }, sections),
      ].filter(Boolean),
    );
    const updated = document.getElementById('live-updated');
    if (updated) updated.textContent = keepUpdated;
    window.scrollTo(0, y);
  };

  const markUpdated = () => {
    const status = document.getElementById('live-status');
    const updated = document.getElementById('live-updated');
    if (!status || !updated) return;
    updated.textContent = t('case.updated', { time: fmtClock(new Date()) });
    status.classList.remove('offline');
    status.classList.add('flash');
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => status.classList.remove('flash'), 2500);
    announce(t('case.updated.announce', { n: state.cf.event_count }));
  };

  const poll = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        const cf = await get(`/v1/cases/${uscc}`);
        if (stopped || !isCurrent()) return;
        document.getElementById('live-status')?.classList.remove('offline');
        const sig = signature(cf);
        if (sig !== state.sig) {
          const next = await fetchAll(uscc, null);
          if (stopped || !isCurrent()) return;
          const before = new Set(state.cf.timeline.map((x) => x.event_id));
          state = {
            ...next,
            sig: signature(next.cf),
            fresh: new Set(next.cf.timeline.map((x) => x.event_id).filter((id) => !before.has(id))),
          };
          draw();
          markUpdated();
        }
      } catch (err) {
        if (err.status === 401) return;
        const status = document.getElementById('live-status');
        // A 404 is an enterprise with no event yet: nothing to show, and nothing is wrong.
        if (status && err.status !== 404) {
          status.classList.add('offline');
          document.getElementById('live-updated').textContent = t('case.offline');
        }
      }
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };

  main.replaceChildren(crumbs(), h('p', { class: 'loading' }, t('loading')));
  main.setAttribute('aria-busy', 'true');
  fetchAll(uscc, asOf)
    .then((data) => {
      if (!isCurrent()) return;
      state = { ...data, sig: signature(data.cf), fresh: new Set() };
      draw();
      if (!day) timer = setTimeout(poll, POLL_MS);
    })
    .catch((err) => {
      if (!isCurrent()) return;
      if (err.status === 404) {
        main.replaceChildren(
          crumbs(),
          h('h1', { id: 'page-title', class: 'mono' }, uscc),
          toolbar(uscc, day, navigate),
          h(
            'p',
            { class: 'notice' },
            day ? t('case.notfound.asof', { uscc, day }) : t('case.notfound', { uscc }),
          ),
        );
        // Nothing yet: keep watching, so the file appears as soon as its first event lands.
        if (!day) {
          state = { cf: { timeline: [] }, sig: null };
          timer = setTimeout(poll, POLL_MS);
        }
      } else {
        fail(main, err);
      }
    })
    .finally(() => main.setAttribute('aria-busy', 'false'));

  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(flashTimer);
  };
}
