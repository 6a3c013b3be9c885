// Tables: every list filters and pages. DataTable does both in the browser for the lists the
// gateways return whole; Pager alone serves the lists the gateways page themselves.
import { useEffect, useMemo, useState, type ReactNode } from 'react';
import { matches, paginate, pageCount, rangeLabel } from './paging';

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  /** Right-aligned numbers. */
  numeric?: boolean;
  className?: string;
}

export function Pager({ page, size, total, onPage, onSize }: { page: number; size: number; total: number; onPage: (p: number) => void; onSize?: (s: number) => void }) {
  const pages = pageCount(total, size);
  return (
    <nav className="pager" aria-label="Pages">
      <span className="muted">{rangeLabel(page, size, total)}</span>
      <button type="button" className="btn btn-ghost" onClick={() => onPage(page - 1)} disabled={page <= 1} aria-label="Previous page">
        ‹ Prev
      </button>
      <span className="pager-page">
        Page {page} / {pages}
      </span>
      <button type="button" className="btn btn-ghost" onClick={() => onPage(page + 1)} disabled={page >= pages} aria-label="Next page">
        Next ›
      </button>
      {onSize ? (
        <select aria-label="Rows per page" value={size} onChange={(e) => onSize(Number(e.target.value))}>
          {[10, 20, 50, 100].map((n) => (
            <option key={n} value={n}>
              {n} / page
            </option>
          ))}
        </select>
      ) : null}
    </nav>
  );
}

export function Table<T>({ rows, columns, rowKey, empty, onRowClick, selected }: { rows: T[]; columns: Column<T>[]; rowKey: (row: T) => string; empty?: ReactNode; onRowClick?: (row: T) => void; selected?: string | null }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} className={c.numeric ? 'num' : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="empty">
                {empty ?? 'Nothing here yet.'}
              </td>
            </tr>
          ) : (
            rows.map((row) => {
              const key = rowKey(row);
              return (
                <tr
                  key={key}
                  data-key={key}
                  className={[onRowClick ? 'clickable' : '', selected === key ? 'selected' : ''].join(' ').trim() || undefined}
                  onClick={onRowClick ? () => onRowClick(row) : undefined}
                >
                  {columns.map((c) => (
                    <td key={c.header} className={[c.numeric ? 'num' : '', c.className ?? ''].join(' ').trim() || undefined}>
                      {c.cell(row)}
                    </td>
                  ))}
                </tr>
              );
            })
          )}
        </tbody>
      </table>
    </div>
  );
}

/**
 * A whole list, filtered by a free-text box (every word must appear in `text(row)`) and any
 * extra `filters` the page adds, then paged.
 */
export function DataTable<T>({
  rows,
  columns,
  rowKey,
  text,
  filters,
  toolbar,
  empty,
  pageSize = 20,
  onRowClick,
  selected,
  label,
  filterKey = '',
}: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  text: (row: T) => string;
  filters?: ((row: T) => boolean)[];
  toolbar?: ReactNode;
  empty?: ReactNode;
  pageSize?: number;
  onRowClick?: (row: T) => void;
  selected?: string | null;
  label: string;
  /** Changes when the page's own filters change (back to page 1). */
  filterKey?: string;
}) {
  const [q, setQ] = useState('');
  const [page, setPage] = useState(1);
  const [size, setSize] = useState(pageSize);
  const filtered = useMemo(() => rows.filter((r) => (!q || matches(text(r), q)) && (filters ?? []).every((f) => f(r))), [rows, q, text, filters]);
  const view = paginate(filtered, { page, size });
  useEffect(() => setPage(1), [q, filterKey]);
  return (
    <div className="data-table">
      <div className="toolbar">
        <input type="search" placeholder={`Filter ${label}…`} aria-label={`Filter ${label}`} value={q} onChange={(e) => setQ(e.target.value)} />
        {toolbar}
      </div>
      <Table rows={view.rows} columns={columns} rowKey={rowKey} empty={rows.length > 0 ? 'Nothing matches the filter.' : empty} onRowClick={onRowClick} selected={selected} />
      <Pager page={view.page} size={size} total={view.total} onPage={setPage} onSize={setSize} />
    </div>
  );
}
