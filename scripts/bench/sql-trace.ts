import cluster from 'node:cluster';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/*
 * Loaded into the server with `node --import` for the bench's plan check only
 * (never while throughput is measured): counts how often each SQL statement
 * runs in this process and where in lib/store it was prepared, and writes the
 * counts to TESSERA_BENCH_SQL_TRACE_DIR/sql-<pid>.json every second. The
 * cluster workers inherit the flag, so the statements a sign-on runs are
 * recorded exactly, whatever code path prepared them.
 */

export interface TracedStatement {
  readonly sql: string;
  /** file:line in lib/ where the statement was prepared. */
  readonly preparedAt: string;
  readonly runs: number;
}

export interface SqlTraceFile {
  readonly pid: number;
  readonly role: 'worker' | 'primary';
  readonly statements: readonly TracedStatement[];
}

type Method = (...args: unknown[]) => unknown;
interface StatementLike {
  readonly source: string;
}

const outDir = process.env.TESSERA_BENCH_SQL_TRACE_DIR;
if (outDir) install(outDir);

function install(dir: string): void {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3') as new (file: string) => { prepare(sql: string): StatementLike; close(): void };
  const probe = new Database(':memory:');
  const statementPrototype = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<string, Method>;
  probe.close();
  const databasePrototype = Database.prototype as unknown as Record<string, Method>;

  const runs = new Map<string, number>();
  const origins = new Map<string, string>();
  const prepare = databasePrototype.prepare!;
  databasePrototype.prepare = function (this: unknown, ...args: unknown[]) {
    const sql = String(args[0]);
    if (!origins.has(sql)) origins.set(sql, callerIn(new Error().stack ?? ''));
    return prepare.apply(this, args);
  };
  for (const name of ['run', 'get', 'all', 'iterate']) {
    const original = statementPrototype[name]!;
    statementPrototype[name] = function (this: StatementLike, ...args: unknown[]) {
      runs.set(this.source, (runs.get(this.source) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  const file = path.join(dir, `sql-${process.pid}.json`);
  const write = (): void => {
    const trace: SqlTraceFile = {
      pid: process.pid,
      role: cluster.isWorker ? 'worker' : 'primary',
      statements: [...runs].map(([sql, count]) => ({ sql, preparedAt: origins.get(sql) ?? 'unknown', runs: count })),
    };
    writeFileSync(file, JSON.stringify(trace));
  };
  setInterval(write, 1_000).unref();
  process.on('exit', write);
}

/** The first stack frame in the IdP's own code (lib/), as a path relative to the build. */
function callerIn(stack: string): string {
  for (const line of stack.split('\n').slice(2)) {
    const match = /(\/dist\/lib\/[^\s):]+):(\d+)/.exec(line);
    if (match) return `${match[1]!.replace(/^.*\/dist\//, '').replace(/\.js$/, '.ts')}:${match[2]}`;
  }
  return 'unknown';
}
