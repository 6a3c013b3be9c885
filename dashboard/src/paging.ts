// Client-side filtering and paging for the lists the gateways return whole (they cap them at a
// few hundred), and the page arithmetic shared with server-paged lists (API keys, audit log).

export interface PageState {
  page: number;
  size: number;
}

export function pageCount(total: number, size: number): number {
  return Math.max(1, Math.ceil(total / size));
}

/** The rows of one page; a page past the end shows the last one. */
export function paginate<T>(rows: readonly T[], state: PageState): { rows: T[]; page: number; pages: number; total: number } {
  const pages = pageCount(rows.length, state.size);
  const page = Math.min(Math.max(1, state.page), pages);
  return { rows: rows.slice((page - 1) * state.size, page * state.size), page, pages, total: rows.length };
}

/** Case-insensitive: every word of the query appears somewhere in the row's text. */
export function matches(text: string, query: string): boolean {
  const hay = text.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => hay.includes(word));
}

/** "21–40 of 97". */
export function rangeLabel(page: number, size: number, total: number): string {
  if (total === 0) return '0 of 0';
  const first = (page - 1) * size + 1;
  return `${first}–${Math.min(total, page * size)} of ${total}`;
}
