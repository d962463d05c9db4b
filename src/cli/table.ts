// Docker's table layout: Go's tabwriter with minwidth 10, padding 3, no trailing spaces
// (the last column is not padded).
export function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.slice(0, -1).forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 10, width(c) + 3);
    });
  }
  return rows
    .map(
      (r) =>
        r
          .map((c, i) => (i < r.length - 1 ? c + ' '.repeat((widths[i] ?? 10) - width(c)) : c))
          .join('')
          .trimEnd() + '\n',
    )
    .join('');
}

/** Display width in code points (names are ASCII; labels may not be). */
const width = (s: string): number => [...s].length;

/** Natural order as docker's sortorder.NaturalLess: digit runs compare as numbers, the rest bytewise. */
export function naturalCompare(a: string, b: string): number {
  const ca = a.match(/\d+|\D+/g) ?? [];
  const cb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const x = ca[i] ?? '';
    const y = cb[i] ?? '';
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy) {
      const d = Number(BigInt(x) - BigInt(y)) || x.length - y.length;
      if (d) return d < 0 ? -1 : 1;
      continue;
    }
    return x < y ? -1 : 1;
  }
  return ca.length - cb.length;
}
