// The bench's tables: the first column to the left, the others to the right;
// plain (aligned, a dashed rule) or as a markdown table.

/** a figure, or — when there is none */
export const cell = (v: number | null | undefined): string => (v === null || v === undefined ? '—' : String(v))

export const table = (head: string[], rows: string[][], markdown = false): string => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => r[i]!.length)))
  const pad = (c: string, i: number) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))
  if (markdown) {
    const line = (r: string[]) => `| ${r.map(pad).join(' | ')} |`
    const rule = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`
    return [line(head), rule, ...rows.map(line)].join('\n')
  }
  const line = (r: string[]) => r.map(pad).join('  ')
  return [line(head), widths.map(w => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
