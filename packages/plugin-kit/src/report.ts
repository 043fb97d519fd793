import type { CheckReport } from './check-plugin.ts';

/** Options of {@link formatReport}. */
export interface FormatOptions {
  /** Longest message shown per row; the rest is cut with "…" (`--json` has them whole). @default 160 */
  readonly maxMessage?: number;
}

/**
 * The report as a plain-text table, one row per plugin and check, and a summary line: what
 * `atelier plugin check` prints.
 *
 * @example
 * console.log(formatReport(await checkPlugin('./src/index.ts')));
 * // plugin   check           status  time     message
 * // acme:x   manifest        pass       2 ms  acme:x@1.0.0, engine ^1 accepts 1.0.0; ...
 */
export function formatReport(report: CheckReport, options: FormatOptions = {}): string {
  const max = options.maxMessage ?? 160;
  const rows = report.results.map((r) => [
    r.plugin,
    r.check,
    r.status,
    `${r.ms} ms`,
    r.message.length > max ? `${r.message.slice(0, max - 1)}…` : r.message,
  ]);
  const header = ['plugin', 'check', 'status', 'time', 'message'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  const count = (status: string): number => report.results.filter((r) => r.status === status).length;
  const summary = `${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped (engine ${report.engineVersion})`;
  return [line(header), ...rows.map(line), '', summary].join('\n');
}
