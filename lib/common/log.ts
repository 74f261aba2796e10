/** Structured logging: one JSON object per line, on stdout (events) or stderr (warnings, errors). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface Logger {
  log(level: LogLevel, event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string, level: LogLevel) => void;

/*
 * Event lines are written once per turn of the event loop, not once per line:
 * a busy server logs several lines per request, and each write to a file or
 * pipe is a system call. Warnings and errors go out at once (after the event
 * lines before them); planned exits wait for everything to be written (exitAfterFlush).
 */
let pendingEvents: string[] = [];
let flushScheduled = false;

function flushEvents(): void {
  flushScheduled = false;
  if (pendingEvents.length === 0) return;
  const text = pendingEvents.join('');
  pendingEvents = [];
  process.stdout.write(text);
}

// Best effort for an exit nobody planned: what a pipe cannot take at once is lost (see flushStdio).
process.once('exit', flushEvents);

/**
 * Resolves once everything written to stdout and stderr so far, pending event
 * lines included, has left the process. When stdout is a pipe (a log shipper,
 * `docker logs`, `tessera audit export | …`) Node queues what the pipe cannot
 * take at once, and process.exit() drops that queue: every planned exit waits
 * for this first. A zero-length write's callback runs after every write before it.
 */
function flushStdio(): Promise<void> {
  flushEvents();
  const drained = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  return Promise.all([drained(process.stdout), drained(process.stderr)]).then(() => undefined);
}

/**
 * process.exit once stdout and stderr are flushed. A server passes `graceMs`, so
 * that a log reader that stopped reading cannot hold its stop forever; a command
 * waits for its reader as long as it takes, like any other command in a pipeline.
 */
export function exitAfterFlush(code: number, graceMs?: number): void {
  if (graceMs !== undefined) setTimeout(() => process.exit(code), graceMs).unref();
  void flushStdio().finally(() => process.exit(code));
}

const defaultSink: LogSink = (line, level) => {
  if (level === 'warn' || level === 'error') {
    flushEvents();
    process.stderr.write(line + '\n');
    return;
  }
  pendingEvents.push(line + '\n');
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushEvents);
  }
};

export function createLogger(options: { sink?: LogSink; base?: LogFields; minLevel?: LogLevel } = {}): Logger {
  const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
  const sink = options.sink ?? defaultSink;
  const base = options.base ?? {};
  const min = order[options.minLevel ?? 'info'];
  const log = (level: LogLevel, event: string, fields: LogFields = {}): void => {
    if (order[level] < min) return;
    sink(JSON.stringify({ time: new Date().toISOString(), level, event, ...base, ...fields }), level);
  };
  return {
    log,
    info: (event, fields) => log('info', event, fields),
    warn: (event, fields) => log('warn', event, fields),
    error: (event, fields) => log('error', event, fields),
    child: (fields) => createLogger({ sink, base: { ...base, ...fields }, minLevel: options.minLevel ?? 'info' }),
  };
}

/** A logger that drops everything; for tests that assert on behaviour, not on logs. */
export const silentLogger: Logger = createLogger({ sink: () => undefined });
