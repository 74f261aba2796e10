/** Conversions between domain values and SQLite columns. */
export const toMillis = (at: Date): number => at.getTime();
export const fromMillis = (ms: number): Date => new Date(ms);
export const optionalFromMillis = (ms: number | null): Date | undefined => (ms === null ? undefined : new Date(ms));

export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
