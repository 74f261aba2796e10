import Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DATABASE_FILE } from '../../lib/store/index.js';
import type { SqlTraceFile } from './sql-trace.js';

/*
 * Every statement the sign-on path ran (recorded by sql-trace.ts in the server
 * workers) explained with EXPLAIN QUERY PLAN on the fleet-scale database: each
 * must find its rows through an index (SEARCH), never walk a table or a whole
 * index (SCAN), or its cost grows with what is stored.
 */

export interface StatementPlan {
  readonly sql: string;
  readonly preparedAt: string;
  /** Times the statement ran per sign-on served during the trace. */
  readonly perSignOn: number;
  readonly plan: readonly string[];
  /** 'index' when every step is an index lookup; 'scan' names what is walked. */
  readonly verdict: 'index' | 'scan' | 'insert' | 'no table' | 'error';
  readonly detail?: string;
}

/** The audit log's head check runs in a trigger on every audit INSERT; EXPLAIN of the INSERT does not show it. */
const TRIGGER_QUERIES: ReadonlyArray<{ sql: string; preparedAt: string }> = [
  { sql: 'SELECT MAX(seq) FROM audit_log', preparedAt: 'trigger audit_log_extends_head (lib/store/migrations/0003-lifecycle-audit.ts)' },
  { sql: 'SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1', preparedAt: 'trigger audit_log_extends_head (lib/store/migrations/0003-lifecycle-audit.ts)' },
];

/** Statements of the worker processes in the trace directory, with their run counts summed. */
export function readTrace(dir: string): Array<{ sql: string; preparedAt: string; runs: number }> {
  const merged = new Map<string, { sql: string; preparedAt: string; runs: number }>();
  for (const name of readdirSync(dir).filter((f) => /^sql-\d+\.json$/.test(f))) {
    const trace = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as SqlTraceFile;
    if (trace.role !== 'worker') continue;
    for (const statement of trace.statements) {
      const known = merged.get(statement.sql);
      if (known) known.runs += statement.runs;
      else merged.set(statement.sql, { ...statement });
    }
  }
  return [...merged.values()];
}

/** Parameters bound to NULL: SQLite chooses a plan without looking at the values (no ANALYZE statistics here). */
function nullParameters(sql: string): Record<string, null> | null[] {
  const code = sql.replace(/'(?:[^']|'')*'/g, "''");
  const named = [...code.matchAll(/[@:$]([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);
  if (named.length > 0) return Object.fromEntries(named.map((name) => [name, null]));
  return Array.from({ length: (code.match(/\?/g) ?? []).length }, () => null);
}

/** The column that is a table's rowid (its INTEGER PRIMARY KEY), if it has one. */
function rowidColumn(db: Database.Database, table: string): string | undefined {
  const columns = db.prepare<[], { name: string; type: string; pk: number }>(`SELECT name, type, pk FROM pragma_table_info('${table.replaceAll("'", "''")}')`).all();
  const keys = columns.filter((c) => c.pk > 0);
  return keys.length === 1 && keys[0]!.type.toUpperCase() === 'INTEGER' ? keys[0]!.name : undefined;
}

/**
 * SEARCH steps are index lookups. A SCAN is one too in two cases: of a subquery's few rows or
 * a table-valued function's (json_each), and of a table walked from one end of its rowid B-tree
 * with a LIMIT ("ORDER BY seq DESC LIMIT 1": the head of the audit chain), which stops after
 * LIMIT rows. Any other SCAN walks a table or a whole index.
 */
function verdictOf(db: Database.Database, sql: string, plan: readonly string[]): { verdict: StatementPlan['verdict']; detail?: string } {
  const scans = plan.filter((step) => {
    if (!/^SCAN /.test(step) || /^SCAN CONSTANT ROW/.test(step) || /VIRTUAL TABLE/.test(step) || /^SCAN \(subquery-\d+\)/.test(step)) return false;
    const table = /^SCAN (\w+)$/.exec(step)?.[1];
    if (table === undefined) return true;
    const rowid = rowidColumn(db, table);
    const bounded = rowid !== undefined && new RegExp(`ORDER BY\\s+${rowid}(\\s+(ASC|DESC))?\\s+LIMIT\\s+(\\d+|\\?|[@:$]\\w+)\\s*$`, 'i').test(sql.trim());
    return !bounded || plan.some((s) => /USE TEMP B-TREE FOR ORDER BY/.test(s));
  });
  if (scans.length > 0) return { verdict: 'scan', detail: scans.join('; ') };
  if (!plan.some((step) => /^(SEARCH|SCAN) /.test(step) && !/^SCAN CONSTANT ROW/.test(step))) {
    // INSERT … VALUES has no plan of its own: one row, one B-tree insert per index (and a key lookup for ON CONFLICT).
    return /^\s*INSERT\b/i.test(sql) ? { verdict: 'insert' } : { verdict: 'no table' };
  }
  return { verdict: 'index' };
}

export function explainStatements(dataDir: string, traced: ReadonlyArray<{ sql: string; preparedAt: string; runs: number }>, signOns: number): StatementPlan[] {
  const db = new Database(path.join(dataDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  try {
    // The trigger's queries run once per audit INSERT.
    const auditInserts = traced.filter((s) => /^\s*INSERT INTO audit_log\b/i.test(s.sql)).reduce((sum, s) => sum + s.runs, 0);
    const statements = [...traced, ...TRIGGER_QUERIES.map((t) => ({ ...t, runs: auditInserts }))];
    return statements
      .filter((s) => !/^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b/i.test(s.sql))
      .map((s): StatementPlan => {
        const base = { sql: s.sql.replace(/\s+/g, ' ').trim(), preparedAt: s.preparedAt, perSignOn: s.runs / Math.max(1, signOns) };
        try {
          const rows = db.prepare<unknown[], { id: number; parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${s.sql}`).all(nullParameters(s.sql));
          const depth = new Map<number, number>();
          const plan = rows.map((row) => {
            const level = (depth.get(row.parent) ?? -1) + 1;
            depth.set(row.id, level);
            return `${'  '.repeat(level)}${row.detail}`;
          });
          return { ...base, plan, ...verdictOf(db, s.sql, plan.map((step) => step.trim())) };
        } catch (error) {
          return { ...base, plan: [], verdict: 'error', detail: error instanceof Error ? error.message : String(error) };
        }
      })
      .sort((a, b) => b.perSignOn - a.perSignOn || a.preparedAt.localeCompare(b.preparedAt));
  } finally {
    db.close();
  }
}
