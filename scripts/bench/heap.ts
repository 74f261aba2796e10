import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/*
 * A full garbage collection on demand, for the bench's own threads: the
 * load generator before each measured run, the fleet history's thread after
 * each growth or continuation. Done then rather than by V8 during a measured
 * run, on the CPUs the servers use. --expose-gc is set here, process-wide,
 * so the bench runs with plain `node`.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const heapMiB = (): number => Math.round(process.memoryUsage().heapUsed / 2 ** 20);

/** Collects this thread's heap twice (the second pass takes what finalizers freed); the heap before and after. */
export function collectGarbage(): { readonly beforeMiB: number; readonly afterMiB: number; readonly seconds: number } {
  const t0 = performance.now();
  const beforeMiB = heapMiB();
  gc();
  gc();
  return { beforeMiB, afterMiB: heapMiB(), seconds: (performance.now() - t0) / 1000 };
}
