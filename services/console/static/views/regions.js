// The regional roll-up: `GET /v1/regions?level=province|city|county&prefix=DIGITS`, a table
// per level with drill-down from province to city to county, and from a county to its cases.

import { get } from '../api.js';
import { h, fmtNumber, fmtPercent, progressBar } from '../dom.js';
import { t } from '../i18n.js';
import { table, emptyNote } from '../table.js';

const LEVELS = ['province', 'city', 'county'];
const PREFIX_DIGITS = { province: 2, city: 4, county: 6 };

const sortMemo = {};

function prefixOf(code, level) {
  return String(code).slice(0, PREFIX_DIGITS[level]);
}

function childLevel(level) {
  return LEVELS[LEVELS.indexOf(level) + 1] ?? null;
}

async function nameOf(level, prefix) {
  // The parent's own row, for the breadcrumb; a failure only costs the name.
  try {
    const body = await get('/v1/regions', { level, prefix });
    const row = body.regions.find((r) => prefixOf(r.code, level) === prefix);
    return row?.name_zh || prefix;
  } catch {
    return prefix;
  }
}

// Figures the service may add beyond the agreed ones are shown when present.
function optional(rows, key) {
  return rows.some((r) => typeof r[key] === 'number');
}

function columns(level, rows) {
  const next = childLevel(level);
  return [
    {
      key: 'code',
      label: t('regions.col.code'),
      sort: (r) => r.code,
      render: (r) => h('span', { class: 'mono' }, r.code),
    },
    {
      key: 'name',
      label: t('regions.col.name'),
      sort: (r) => r.name_zh,
      render: (r) =>
        next
          ? h(
              'a',
              {
                href: `#/regions?level=${next}&prefix=${prefixOf(r.code, level)}`,
                'aria-label': t('regions.drill', { name: r.name_zh || r.code }),
              },
              r.name_zh || r.code,
            )
          : r.name_zh || r.code,
    },
    {
      key: 'enterprises',
      label: t('regions.col.enterprises'),
      num: true,
      sort: (r) => r.enterprises,
      render: (r) => fmtNumber(r.enterprises),
    },
    {
      key: 'open_cases',
      label: t('regions.col.open_cases'),
      num: true,
      sort: (r) => r.open_cases,
      render: (r) => fmtNumber(r.open_cases),
    },
    {
      key: 'listed',
      label: t('regions.col.listed'),
      num: true,
      sort: (r) => r.listed,
      render: (r) => h('span', { class: r.listed ? 'count-listed' : null }, fmtNumber(r.listed)),
    },
    {
      key: 'restricted',
      label: t('regions.col.restricted'),
      num: true,
      sort: (r) => r.restricted,
      render: (r) =>
        h('span', { class: r.restricted ? 'count-restricted' : null }, fmtNumber(r.restricted)),
    },
    optional(rows, 'watched')
      ? {
          key: 'watched',
          label: t('regions.col.watched'),
          num: true,
          sort: (r) => r.watched,
          render: (r) => fmtNumber(r.watched),
        }
      : null,
    optional(rows, 'tipoffs_overdue')
      ? {
          key: 'tipoffs_overdue',
          label: t('regions.col.tipoffs_overdue'),
          num: true,
          sort: (r) => r.tipoffs_overdue,
          render: (r) =>
            h('span', { class: r.tipoffs_overdue ? 'warn' : null }, fmtNumber(r.tipoffs_overdue)),
        }
      : null,
    {
      key: 'targets',
      label: t('regions.col.targets'),
      num: true,
      sort: (r) => r.targets,
      render: (r) => fmtNumber(r.targets),
    },
    {
      key: 'missed',
      label: t('regions.col.missed'),
      num: true,
      sort: (r) => r.targets_missed,
      render: (r) =>
        h('span', { class: r.targets_missed ? 'warn' : null }, fmtNumber(r.targets_missed)),
    },
    {
      key: 'progress',
      label: t('regions.col.progress'),
      sort: (r) => (r.targets ? r.reduction_progress : null),
      render: (r) =>
        r.targets
          ? progressBar(r.reduction_progress, fmtPercent(r.reduction_progress))
          : h('span', { class: 'muted' }, t('dash')),
    },
    {
      key: 'restriction',
      label: t('regions.col.restriction'),
      sort: (r) => (r.regional_restriction ? 1 : 0),
      render: (r) =>
        r.regional_restriction
          ? h('span', { class: 'badge status-credit_restricted' }, t('regions.restriction'))
          : h('span', { class: 'muted' }, t('dash')),
    },
    {
      key: 'cases',
      label: t('regions.col.cases'),
      render: (r) =>
        h(
          'a',
          { href: `#/cases?region=${prefixOf(r.code, level)}`, class: 'small' },
          t('regions.open_cases'),
        ),
    },
  ].filter(Boolean);
}

function totals(rows, cols) {
  const sum = (k) => rows.reduce((acc, r) => acc + (Number(r[k]) || 0), 0);
  // Tonnes when the answer has them; otherwise each region's rate weighted by its targets.
  const tonnes = sum('reduction_tonnes');
  const targets = sum('targets');
  let progress = null;
  if (tonnes > 0) progress = sum('reduction_done_tonnes') / tonnes;
  else if (targets)
    progress =
      rows.reduce((acc, r) => acc + (r.targets ? r.reduction_progress * r.targets : 0), 0) /
      targets;
  const cell = (col) => {
    if (col.key === 'progress')
      return h('td', null, progress === null ? t('dash') : fmtPercent(progress));
    if (col.key === 'restriction')
      return h('td', null, fmtNumber(rows.filter((r) => r.regional_restriction).length));
    if (col.key === 'cases') return h('td');
    const field = col.key === 'missed' ? 'targets_missed' : col.key;
    return h('td', { class: 'num' }, fmtNumber(sum(field)));
  };
  return h(
    'tr',
    { class: 'total' },
    h('th', { scope: 'row', colspan: 2 }, t('regions.total')),
    cols.slice(2).map(cell),
  );
}

export async function renderRegions(main, params, { navigate, isCurrent, fail }) {
  const level = LEVELS.includes(params.get('level')) ? params.get('level') : 'province';
  const prefix = (params.get('prefix') || '').replace(/\D/g, '').slice(0, 6);
  const results = h(
    'div',
    { class: 'results', 'aria-busy': 'true' },
    h('p', { class: 'loading' }, t('loading')),
  );
  const crumbs = h(
    'ol',
    { class: 'crumbs' },
    h('li', null, h('a', { href: '#/regions' }, t('regions.country'))),
  );

  main.replaceChildren(
    h(
      'header',
      { class: 'page-head' },
      h('h1', { id: 'page-title' }, t('regions.title')),
      h('p', { class: 'lead' }, t('regions.lead')),
      h('nav', { class: 'breadcrumb', 'aria-label': 'breadcrumb' }, crumbs),
    ),
    h(
      'div',
      { class: 'level-tabs', role: 'group', 'aria-label': t('regions.title') },
      LEVELS.map((l) =>
        h(
          'span',
          {
            class: ['level', l === level ? 'current' : ''],
            'aria-current': l === level ? 'step' : null,
          },
          t(`regions.level.${l}`),
        ),
      ),
    ),
    results,
  );

  let body;
  let names;
  try {
    const parents = [];
    if (prefix.length >= 2 && level !== 'province') parents.push(['province', prefix.slice(0, 2)]);
    if (prefix.length >= 4 && level === 'county') parents.push(['city', prefix.slice(0, 4)]);
    [body, names] = await Promise.all([
      get('/v1/regions', { level, prefix }),
      Promise.all(parents.map(([l, p]) => nameOf(l, p).then((name) => [l, p, name]))),
    ]);
  } catch (err) {
    if (!isCurrent()) return;
    if (err.status === 404 || err.status === 405) {
      results.replaceChildren(
        h('p', { class: 'notice' }, t('regions.unavailable', { status: err.status })),
      );
    } else {
      fail(results, err);
    }
    return;
  }
  if (!isCurrent()) return;

  for (const [l, p, name] of names) {
    crumbs.append(
      h('li', null, h('a', { href: `#/regions?level=${childLevel(l)}&prefix=${p}` }, name)),
    );
  }
  const rows = body.regions;
  const key = `${level}`;
  const cols = columns(level, rows);
  results.setAttribute('aria-busy', 'false');
  results.replaceChildren(
    rows.length
      ? table({
          id: 'region-table',
          caption: t('regions.caption', { level: t(`regions.level.${level}`), n: rows.length }),
          columns: cols,
          rows,
          sort: sortMemo[key] ?? null,
          onSort: (sort) => (sortMemo[key] = sort),
          onRowClick: (r) => {
            const next = childLevel(level);
            navigate(
              next
                ? `#/regions?level=${next}&prefix=${prefixOf(r.code, level)}`
                : `#/cases?region=${r.code}`,
            );
          },
          rowClass: (r) => (r.regional_restriction ? 'row-restricted' : ''),
          foot: totals(rows, cols),
        })
      : emptyNote(t('regions.empty')),
  );
}
