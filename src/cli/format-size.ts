/**
 * A byte count for people, in decimal units (1 kB = 1000 B, as download tools and disk makers
 * count): one convention for every command, publisher and client alike.
 */
export function formatSize(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'] as const;
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i >= 2 ? 2 : 1)} ${units[i]}`;
}
