// Rows of cells as aligned text columns, for what people read in a terminal (plan, status). Pure.

/** Each row indented two spaces, every column but the last padded to its widest cell. */
export function columns(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  return rows.map(r => '  ' + r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd())
}
