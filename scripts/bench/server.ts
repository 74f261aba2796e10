import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { CeilingServerSpec } from './ceiling-server.js';
import { Agent, request } from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The IdP as an operator runs it: the production build's `tessera` command,
 * its own data directory, configuration by environment only.
 */

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'tessera.js');

export interface RunningServer {
  /** The `tessera start` process; with several workers, the primary. */
  readonly pid: number;
  readonly baseUrl: string;
  readonly port: number;
  readonly workers: number;
  /** The server's self-signed TLS certificate (the only CA the bench's own client trusts). */
  readonly caPem: string;
  /** The IdP's JSON log (one line per decision and per answer); the ceiling server writes none. */
  readonly logPath?: string;
  stop(): Promise<void>;
}

function serverEnv(dataDir: string, port: number, workers: number, extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...extra,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_PORT: String(port),
    TESSERA_BASE_URL: `https://localhost:${port}`,
    TESSERA_WORKERS: String(workers),
  };
}

export async function startServer(options: {
  dataDir: string;
  port: number;
  workers: number;
  /** Extra node options for the server process (e.g. --cpu-prof when looking for hot spots). */
  nodeArgs?: readonly string[];
  /** Extra environment (e.g. the SQL trace directory of sql-trace.ts). */
  env?: Readonly<Record<string, string>>;
  /** Runs the server (every process and thread it starts) on these CPUs only, as `taskset -c` takes them. */
  cpus?: string;
}): Promise<RunningServer> {
  const { dataDir, port, workers } = options;
  // The server logs every decision as a JSON line: to a file, as a deployment would.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const logPath = path.join(dataDir, 'server.log');
  const out = openSync(logPath, 'a');
  const [file, ...args] = onCpus([process.execPath, ...(options.nodeArgs ?? []), CLI, 'start'], options.cpus);
  const child: ChildProcess = spawn(file!, args, {
    env: serverEnv(dataDir, port, workers, options.env ?? {}),
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = `https://localhost:${port}`;
  const caFile = path.join(dataDir, 'tls-certificate.pem');
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the IdP exited (${child.exitCode}) while starting; see ${dataDir}/server.log`);
    if (Date.now() > deadline) throw new Error(`the IdP did not answer /healthz within 120 s; see ${dataDir}/server.log`);
    if (existsSync(caFile)) {
      const caPem = readFileSync(caFile, 'utf8');
      if (await healthy(port, caPem)) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // Workers write the certificate file as each starts listening: wait until all do.
  await new Promise((resolve) => setTimeout(resolve, 300));
  return {
    pid: child.pid!,
    baseUrl,
    port,
    workers,
    caPem: readFileSync(caFile, 'utf8'),
    logPath,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * The command, run on `cpus` (as `taskset -c` takes them) when given. taskset replaces itself with
 * the command: the pid is the command's, and its threads and child processes inherit the mask.
 */
function onCpus(command: readonly string[], cpus: string | undefined): string[] {
  return cpus === undefined ? [...command] : ['taskset', '-c', cpus, ...command];
}

const CEILING_SERVER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'ceiling-server.js');

/**
 * The ceiling (ceiling-server.ts) as a RunningServer: the same kind of process,
 * pinned or not and with as many workers as the IdP it is compared with, driven
 * by the same load generator.
 */
export async function startCeilingServer(options: {
  dir: string;
  spec: CeilingServerSpec;
  /** As `taskset -c` takes them; unpinned when absent (as the IdP's two-worker rounds run). */
  cpus?: string;
}): Promise<RunningServer> {
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  // It holds a copy of the bench IdP's signing key: readable by this user only, removed with the bench's data.
  const specFile = path.join(options.dir, 'ceiling.json');
  writeFileSync(specFile, JSON.stringify(options.spec), { mode: 0o600 });
  const [file, ...args] = onCpus([process.execPath, CEILING_SERVER, specFile], options.cpus);
  const child = spawn(file!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    void exited.then((code) => reject(new Error(`the ceiling server exited (${String(code)}) while starting`)));
  });
  return {
    pid: child.pid!,
    baseUrl: `https://localhost:${options.spec.port}`,
    port: options.spec.port,
    workers: options.spec.workers ?? 1,
    caPem: options.spec.tlsCertificatePem,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU seconds (user + system) used so far by a process and every live
 * descendant (the cluster workers), from /proc: what the server spent,
 * whatever else ran on the same cores.
 */
export function processTreeCpuSeconds(rootPid: number): number {
  const stats = processTable();
  const inTree = (pid: number): boolean => {
    for (let current = pid, depth = 0; depth < 8; depth++) {
      if (current === rootPid) return true;
      const parent = stats.get(current)?.ppid;
      if (parent === undefined || parent <= 1) return false;
      current = parent;
    }
    return false;
  };
  let ticks = 0;
  for (const [pid, stat] of stats) if (inTree(pid)) ticks += stat.ticks;
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** The children of a process (the workers under a cluster primary), from /proc. */
export function childProcesses(pid: number): number[] {
  return [...processTable()].filter(([, stat]) => stat.ppid === pid).map(([child]) => child);
}

/** Every process's parent and CPU ticks (user + system), from /proc/PID/stat. */
function processTable(): Map<number, { ppid: number; ticks: number }> {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      // The process ended while /proc was read.
      continue;
    }
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }
  return stats;
}

/** The machine's CPU time so far, all CPUs, from /proc/stat, in clock ticks: busy (everything but idle and iowait) and total. */
export interface MachineCpuTicks {
  readonly busy: number;
  readonly total: number;
}

/**
 * What the whole machine did, not only our processes: the kernel's network
 * and block-I/O work on behalf of both ends (softirq, kworkers) lands in no
 * process tree, and other tenants of the machine would show here too.
 */
export function machineCpuTicks(): MachineCpuTicks {
  return parseProcStat(readFileSync('/proc/stat', 'utf8'));
}

/** The all-CPU line of /proc/stat: `cpu user nice system idle iowait irq softirq steal …` (guest time is already in user). */
export function parseProcStat(text: string): MachineCpuTicks {
  const fields = (text.split('\n', 1)[0] ?? '').trim().split(/\s+/);
  const ticks = fields.slice(1, 9).map(Number);
  if (fields[0] !== 'cpu' || ticks.length < 8 || ticks.some((n) => !Number.isFinite(n))) {
    throw new Error(`unexpected first line in /proc/stat: ${fields.join(' ')}`);
  }
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Share of the machine that was busy between two readings. */
export function machineBusyShare(before: MachineCpuTicks, after: MachineCpuTicks): number {
  const total = after.total - before.total;
  return total > 0 ? (after.busy - before.busy) / total : 0;
}

function healthy(port: number, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', servername: 'localhost', port, path: '/healthz', ca: caPem, agent: false, timeout: 2_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Runs a `tessera` admin command against the data directory; resolves with its stdout. */
export function tessera(dataDir: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args, '--data-dir', dataDir], { env: process.env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`tessera ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export interface JsonResult {
  readonly status: number;
  readonly body: string;
  json<T>(): T;
}

/** A small HTTPS client over keep-alive connections, trusting only the IdP's certificate. */
export class HttpsClient {
  private readonly agent: Agent;

  constructor(
    private readonly server: { port: number; caPem: string },
    options: { maxSockets?: number; cert?: string; key?: string } = {},
  ) {
    this.agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 16,
      ca: server.caPem,
      servername: 'localhost',
      ...(options.cert && options.key ? { cert: options.cert, key: options.key } : {}),
    });
  }

  send(method: string, pathname: string, headers: Record<string, string>, body?: string): Promise<JsonResult> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: this.server.port,
          method,
          path: pathname,
          agent: this.agent,
          headers: { ...headers, ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body: text, json: <T>() => JSON.parse(text) as T });
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `work` over `items` with at most `concurrency` in flight; resolves with the results in order. */
export async function inParallel<T, R>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/**
 * Pins every thread of this process to `cpus` (`taskset -a -p -c`): the load generator keeps
 * off the CPU a pinned server runs on. Returns a function that restores the previous mask.
 */
export function pinThisProcess(cpus: string): () => void {
  const current = execFileSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' });
  const previous = /: ([0-9a-f]+)\s*$/.exec(current.trim())?.[1];
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
  return () => {
    if (previous !== undefined) execFileSync('taskset', ['-a', '-p', previous, String(process.pid)], { stdio: 'ignore' });
  };
}
