import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { percentiles, type Percentiles } from './percentiles.js';

/*
 * What the IdP itself says about a run: one `http.request` line per answer, with
 * the worker that served it and durationMs, from when its handler started to when
 * the answer was handed to the socket. Beside the generator's latency (from when each
 * request was due), it tells the IdP's own handling from the time a request waited
 * before it (in the generator, in the socket, behind the worker's other requests).
 * A run's lines are those written after a byte offset taken before it.
 */

export interface ServerHandling extends Percentiles {
  readonly answers: number;
  /** Answers per worker, ordered by worker id: how evenly the primary spread the connections. */
  readonly perWorker: readonly number[];
}

/** The log's size now: the offset a run's lines start after. */
export function logOffset(logPath: string): number {
  return statSync(logPath).size;
}

interface RequestLine {
  readonly event?: unknown;
  readonly path?: unknown;
  readonly status?: unknown;
  readonly durationMs?: unknown;
  readonly worker?: unknown;
}

/** The answers to `path` with `status` logged since `fromOffset`; undefined when there are none. */
export function serverHandling(logPath: string, fromOffset: number, path: string, status = 200): ServerHandling | undefined {
  const size = logOffset(logPath);
  if (size <= fromOffset) return undefined;
  const buffer = Buffer.alloc(size - fromOffset);
  const fd = openSync(logPath, 'r');
  try {
    for (let read = 0; read < buffer.length; ) {
      const got = readSync(fd, buffer, read, buffer.length - read, fromOffset + read);
      if (got === 0) break;
      read += got;
    }
  } finally {
    closeSync(fd);
  }
  const text = buffer.toString('utf8');
  // A line still being written when the file was read has no newline yet: left out.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  const durations: number[] = [];
  const perWorker = new Map<number, number>();
  const marker = `"path":${JSON.stringify(path)}`;
  for (const line of complete.split('\n')) {
    if (!line.includes('"event":"http.request"') || !line.includes(marker)) continue;
    let entry: RequestLine;
    try {
      entry = JSON.parse(line) as RequestLine;
    } catch {
      continue;
    }
    if (entry.event !== 'http.request' || entry.path !== path || entry.status !== status || typeof entry.durationMs !== 'number') continue;
    durations.push(entry.durationMs);
    const worker = typeof entry.worker === 'number' ? entry.worker : 0;
    perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
  }
  if (durations.length === 0) return undefined;
  return {
    answers: durations.length,
    ...percentiles(durations),
    perWorker: [...perWorker.entries()].sort(([a], [b]) => a - b).map(([, count]) => count),
  };
}
