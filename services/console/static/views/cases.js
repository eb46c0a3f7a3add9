// The case list: `GET /v1/cases` with its filters and keyset pagination (`after` /
// `next_after`). The pages already visited are kept in the address (`trail`), so Back, reload
// and a shared link all land on the same page.

import { get } from '../api.js';
import {
  h,
  severityBadge,
  severityRank,
  statusBadge,
  statusRank,
  timeEl,
  fmtNumber,
} from '../dom.js';
import { DIMENSIONS, SEVERITIES, STATUSES, STREAMS, label, t } from '../i18n.js';
import { table, emptyNote } from '../table.js';

const FILTERS = ['region', 'q', 'dimension', 'min_severity', 'status', 'agency', 'case_state'];
const LIMITS = ['20', '50', '100', '200', '500'];
const FIRST = '-';

function hashFor(params) {
  const qs = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) qs.set(key, value);
  const text = qs.toString();
  return `#/cases${text ? `?${text}` : ''}`;
}

function select(name, labelText, options, value) {
  return h(
    'div',
    { class: 'field' },
    h('label', { for: `f-${name}` }, labelText),
    h(
      'select',
      { id: `f-${name}`, name },
      h('option', { value: '' }, t('f.any')),
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
    ),
  );
}

function filterForm(params, navigate) {
  const v = (k) => params.get(k) || '';
  const form = h(
    'form',
    {
      class: 'filters card',
      role: 'search',
      'aria-labelledby': 'filters-title',
      onsubmit: (ev) => {
        ev.preventDefault();
        const data = new FormData(form);
        const next = {};
        for (const key of FILTERS) next[key] = String(data.get(key) || '').trim();
        next.limit = String(data.get('limit') || '');
        next.sort = params.get('sort') || '';
        navigate(hashFor(next));
      },
    },
    h('h2', { id: 'filters-title', class: 'visually-hidden' }, t('cases.filters')),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'f-region' }, t('f.region')),
      h('input', {
        id: 'f-region',
        name: 'region',
        value: v('region'),
        inputmode: 'numeric',
        pattern: '\\d{2,6}',
        maxlength: 6,
        placeholder: '13 / 130100',
        title: t('f.region.hint'),
        'aria-describedby': 'f-region-hint',
      }),
      h('small', { id: 'f-region-hint', class: 'visually-hidden' }, t('f.region.hint')),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'f-q' }, t('f.q')),
      h('input', {
        id: 'f-q',
        name: 'q',
        type: 'search',
        value: v('q'),
        maxlength: 100,
        placeholder: t('f.q.hint'),
      }),
    ),
    select(
      'dimension',
      t('f.dimension'),
      DIMENSIONS.map((d) => [d, label('dimension', d)]),
      v('dimension'),
    ),
    select(
      'min_severity',
      t('f.min_severity'),
      SEVERITIES.map((d) => [d, label('severity', d)]),
      v('min_severity'),
    ),
    select(
      'status',
      t('f.status'),
      STATUSES.map((d) => [d, label('status', d)]),
      v('status'),
    ),
    select(
      'agency',
      t('f.agency'),
      STREAMS.map((d) => [d, label('stream', d)]),
      v('agency'),
    ),
    select(
      'case_state',
      t('f.case_state'),
      ['open', 'closed'].map((d) => [d, label('case_state', d)]),
      v('case_state'),
    ),
    h(
      'div',
      { class: 'field field-small' },
      h('label', { for: 'f-limit' }, t('f.limit')),
      h(
        'select',
        { id: 'f-limit', name: 'limit' },
        [...new Set([...LIMITS, params.get('limit') || '50'])].map((n) =>
          h('option', { value: n, selected: n === (params.get('limit') || '50') }, n),
        ),
      ),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('f.apply')),
      h('button', { type: 'button', onclick: () => navigate('#/cases') }, t('f.reset')),
    ),
  );
  return form;
}

function columns() {
  return [
    {
      key: 'name',
      label: t('cases.col.name'),
      sort: (r) => r.name || r.uscc,
      render: (r) =>
        h(
          'div',
          { class: 'name-cell' },
          h('a', { href: `#/case/${r.uscc}` }, r.name || t('cases.unnamed')),
          h('span', { class: 'mono small' }, r.uscc),
        ),
    },
    {
      key: 'region',
      label: t('cases.col.region'),
      sort: (r) => r.region,
      render: (r) => h('span', { class: 'mono' }, r.region),
    },
    {
      key: 'status',
      label: t('cases.col.status'),
      sort: (r) => statusRank(r.credit_status),
      render: (r) => statusBadge(r.credit_status),
    },
    {
      key: 'severity',
      label: t('cases.col.severity'),
      sort: (r) => severityRank(r.max_severity),
      render: (r) => severityBadge(r.max_severity),
    },
    {
      key: 'dimensions',
      label: t('cases.col.dimensions'),
      sort: (r) => r.open_dimensions.length,
      render: (r) =>
        r.open_dimensions.length
          ? h(
              'span',
              { class: 'dims' },
              r.open_dimensions.map((d) => label('dimension', d)).join(t('list.and')),
            )
          : h('span', { class: 'muted' }, t('dash')),
    },
    {
      key: 'agencies',
      label: t('cases.col.agencies'),
      num: true,
      sort: (r) => r.agencies.length,
      render: (r) =>
        h(
          'span',
          { title: r.agencies.map((a) => label('stream', a)).join(t('list.and')) },
          fmtNumber(r.agencies.length),
        ),
    },
    {
      key: 'case_state',
      label: t('cases.col.case_state'),
      sort: (r) => r.case_state,
      render: (r) => (r.case_state ? label('case_state', r.case_state) : t('dash')),
    },
    {
      key: 'events',
      label: t('cases.col.events'),
      num: true,
      sort: (r) => r.event_count,
      render: (r) => fmtNumber(r.event_count),
    },
    {
      key: 'last',
      label: t('cases.col.last'),
      sort: (r) => r.last_recorded_at,
      render: (r) => timeEl(r.last_recorded_at),
    },
  ];
}

export async function renderCases(main, params, { navigate, isCurrent, fail }) {
  const limit = params.get('limit') || '50';
  const trail = (params.get('trail') || '').split(',').filter(Boolean);
  const after = params.get('after') || '';
  const query = { limit };
  for (const key of FILTERS) query[key] = params.get(key) || '';
  if (after) query.after = after;

  const results = h(
    'div',
    { class: 'results', 'aria-busy': 'true' },
    h('p', { class: 'loading' }, t('loading')),
  );
  main.replaceChildren(
    h(
      'header',
      { class: 'page-head' },
      h('h1', { id: 'page-title' }, t('cases.title')),
      h('p', { class: 'lead' }, t('cases.lead')),
    ),
    filterForm(params, navigate),
    results,
  );

  let body;
  try {
    body = await get('/v1/cases', query);
  } catch (err) {
    if (isCurrent()) fail(results, err);
    return;
  }
  if (!isCurrent()) return;

  const base = {};
  for (const key of [...FILTERS, 'limit', 'sort']) base[key] = params.get(key) || '';
  // `sort=events` ascending, `sort=-events` descending.
  const sortParam = params.get('sort') || '';
  const sortKey = sortParam.replace(/^-/, '');
  const sortDir = sortParam.startsWith('-') ? 'desc' : 'asc';
  const page = trail.length + 1;

  const pager = h(
    'nav',
    { class: 'pager', 'aria-label': t('cases.page', { n: page }) },
    h(
      'button',
      {
        type: 'button',
        disabled: page === 1,
        onclick: () => {
          const prev = trail.slice(0, -1);
          const back = trail[trail.length - 1];
          navigate(hashFor({ ...base, after: back === FIRST ? '' : back, trail: prev.join(',') }));
        },
      },
      `‹ ${t('cases.prev')}`,
    ),
    h('span', { class: 'page-no', 'aria-live': 'polite' }, t('cases.page', { n: page })),
    h(
      'button',
      {
        type: 'button',
        disabled: !body.next_after,
        onclick: () =>
          navigate(
            hashFor({
              ...base,
              after: body.next_after,
              trail: [...trail, after || FIRST].join(','),
            }),
          ),
      },
      `${t('cases.next')} ›`,
    ),
  );

  results.setAttribute('aria-busy', 'false');
  results.replaceChildren(
    body.cases.length
      ? table({
          id: 'case-table',
          caption: t('cases.caption', { n: body.cases.length }),
          columns: columns(),
          rows: body.cases,
          sort: sortKey ? { key: sortKey, dir: sortDir } : null,
          onSort: (sort) => {
            // Remembered in the address without a new history entry or a reload.
            const qs = new URLSearchParams(location.hash.split('?')[1] || '');
            qs.set('sort', `${sort.dir === 'desc' ? '-' : ''}${sort.key}`);
            history.replaceState(null, '', `#/cases?${qs}`);
          },
          onRowClick: (r) => navigate(`#/case/${r.uscc}`),
          rowClass: (r) => `row-${String(r.credit_status).toLowerCase()}`,
        })
      : emptyNote(t('cases.empty')),
    pager,
  );
}
