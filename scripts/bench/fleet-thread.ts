import { Worker } from 'node:worker_threads';
import type { FleetFigures, FleetOptions } from './seed.js';

/*
 * The fleet-scale copy's history (seed.ts FleetHistory), played in a worker
 * thread of its own.
 *
 * The bench process is also the load generator, and the history keeps its
 * state (agents, live sessions, baselines: ~120 MiB) from its growth to the
 * last continuation, through every measured run in between. On the
 * generator's heap, each major collection marks all of it and pauses the
 * generator meanwhile; an open-loop generator charges such a pause to the
 * server. In a thread the state lives in a V8 heap of its own, which the
 * thread collects itself after each growth or continuation, before anything
 * is measured.
 */

/** What the main thread asks of the history thread. */
export type FleetRequest =
  | { readonly id: number; readonly op: 'grow'; readonly dataDir: string; readonly options: Omit<FleetOptions, 'progress'> }
  | { readonly id: number; readonly op: 'advance'; readonly until: number }
  | { readonly id: number; readonly op: 'figures' };

/** A request done: the figures asked for, or how far the thread's heap shrank when it collected its garbage after the work. */
export interface FleetDone {
  readonly id: number;
  readonly ok: true;
  readonly figures?: FleetFigures;
  readonly heap?: { readonly beforeMiB: number; readonly afterMiB: number };
}

/** What it answers: a progress line, or the outcome of one request. */
export type FleetReply = { readonly progress: string } | FleetDone | { readonly id: number; readonly ok: false; readonly message: string };

type RequestBody = FleetRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const THREAD = new URL('./fleet-thread-worker.js', import.meta.url);

export class FleetHistoryThread {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (done: FleetDone) => void; reject: (error: Error) => void }>();
  private failure: Error | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly progress: (line: string) => void,
  ) {
    worker.on('message', (reply: FleetReply) => {
      if ('progress' in reply) {
        this.progress(reply.progress);
        return;
      }
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply);
      else waiting.reject(new Error(`fleet history: ${reply.message}`));
    });
    worker.on('error', (error: Error) => this.fail(error));
    worker.on('exit', (code) => this.fail(new Error(`the fleet history thread exited (${code})`)));
  }

  /** Provisions the fleet and plays its history up to now, in a new thread. */
  static async grow(dataDir: string, options: FleetOptions): Promise<FleetHistoryThread> {
    const { progress, ...rest } = options;
    const thread = new FleetHistoryThread(new Worker(THREAD), progress);
    try {
      thread.reportHeap(await thread.call({ op: 'grow', dataDir, options: rest }), 'growing the fleet-scale copy');
    } catch (error) {
      await thread.close();
      throw error;
    }
    return thread;
  }

  /** Plays the history on to `until`; resolves once the thread has also collected its garbage. */
  async advanceTo(until: Date): Promise<void> {
    this.reportHeap(await this.call({ op: 'advance', until: until.getTime() }), 'continuing the fleet history');
  }

  async figures(): Promise<FleetFigures> {
    const reply = await this.call({ op: 'figures' });
    if (!reply.figures) throw new Error('fleet history: no figures in the answer');
    return reply.figures;
  }

  async close(): Promise<void> {
    this.failure ??= new Error('the fleet history thread is closed');
    await this.worker.terminate();
  }

  private call(body: RequestBody): Promise<FleetDone> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id } as FleetRequest);
    });
  }

  private reportHeap(done: FleetDone, what: string): void {
    if (done.heap) this.progress(`fleet history thread: garbage collected after ${what}, heap ${done.heap.beforeMiB} → ${done.heap.afterMiB} MiB`);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiting of this.pending.values()) waiting.reject(error);
    this.pending.clear();
  }
}
