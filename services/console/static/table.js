// Tables with sortable columns. Sorting is done in the page, on the rows already loaded.

import { h, clear } from './dom.js';
import { t } from './i18n.js';

function compare(a, b) {
  const empty = (v) => v === null || v === undefined || v === '';
  if (empty(a) && empty(b)) return 0;
  if (empty(a)) return 1; // missing values last, whichever the direction
  if (empty(b)) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), 'zh-Hans-CN');
}

/**
 * columns: [{ key, label, render(row) -> Node|string, sort?(row) -> value, num?: bool }]
 * sort: { key, dir: 'asc'|'desc' } or null; onSort(sort) is told of every change.
 */
export function table({
  caption,
  columns,
  rows,
  sort = null,
  onSort,
  onRowClick,
  rowClass,
  foot,
  id,
}) {
  const state = { sort };
  const tbody = h('tbody');
  const heads = [];

  const sorted = () => {
    if (!state.sort) return rows;
    const col = columns.find((c) => c.key === state.sort.key);
    if (!col?.sort) return rows;
    const sign = state.sort.dir === 'desc' ? -1 : 1;
    return rows
      .map((row, i) => ({ row, i }))
      .sort((x, y) => sign * compare(col.sort(x.row), col.sort(y.row)) || x.i - y.i)
      .map((x) => x.row);
  };

  const renderBody = () => {
    clear(tbody);
    for (const row of sorted()) {
      const tr = h(
        'tr',
        { class: [onRowClick ? 'clickable' : '', rowClass ? rowClass(row) : ''] },
        columns.map((c) => h('td', { class: c.num ? 'num' : c.cls }, c.render(row))),
      );
      if (onRowClick) {
        tr.addEventListener('click', (ev) => {
          if (ev.target.closest('a, button, summary, input, select')) return;
          onRowClick(row);
        });
      }
      tbody.append(tr);
    }
    for (const { th, col } of heads) {
      const active = state.sort && state.sort.key === col.key;
      th.setAttribute(
        'aria-sort',
        active ? (state.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none',
      );
      const btn = th.querySelector('button');
      btn.dataset.dir = active ? state.sort.dir : '';
    }
  };

  const headRow = h(
    'tr',
    null,
    columns.map((col) => {
      if (!col.sort) return h('th', { scope: 'col', class: col.num ? 'num' : null }, col.label);
      const th = h(
        'th',
        { scope: 'col', class: col.num ? 'num' : null },
        h(
          'button',
          {
            type: 'button',
            class: 'sort',
            dataset: { key: col.key },
            onclick: () => {
              const same = state.sort && state.sort.key === col.key;
              state.sort = { key: col.key, dir: same && state.sort.dir === 'asc' ? 'desc' : 'asc' };
              renderBody();
              onSort?.(state.sort);
            },
          },
          col.label,
          h('span', { class: 'sort-mark', 'aria-hidden': 'true' }),
        ),
      );
      heads.push({ th, col });
      return th;
    }),
  );

  renderBody();
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data', id },
      caption ? h('caption', null, caption) : null,
      h('thead', null, headRow),
      tbody,
      foot ? h('tfoot', null, foot) : null,
    ),
  );
}

export function emptyNote(text = t('empty.section')) {
  return h('p', { class: 'empty' }, text);
}
