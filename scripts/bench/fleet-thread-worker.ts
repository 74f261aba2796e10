import { parentPort } from 'node:worker_threads';
import type { FleetReply, FleetRequest } from './fleet-thread.js';
import { collectGarbage } from './heap.js';
import { FleetHistory } from './seed.js';

/*
 * The thread that holds the fleet history (fleet-thread.ts). Requests are
 * handled one at a time, in order: each growth or continuation writes the
 * same database file.
 */

const port = parentPort;
if (!port) throw new Error('fleet-thread-worker.js runs as a worker thread of the bench');

let fleet: FleetHistory | undefined;
let queue: Promise<void> = Promise.resolve();

port.on('message', (request: FleetRequest) => {
  queue = queue.then(() => handle(request));
});

async function handle(request: FleetRequest): Promise<void> {
  const reply = (message: FleetReply): void => port!.postMessage(message);
  try {
    switch (request.op) {
      case 'grow':
        fleet = await FleetHistory.grow(request.dataDir, { ...request.options, progress: (line) => reply({ progress: line }) });
        break;
      case 'advance':
        await grown().advanceTo(new Date(request.until));
        break;
      case 'figures':
        reply({ id: request.id, ok: true, figures: grown().figures() });
        return;
    }
    // A growth or continuation leaves this heap hundreds of MB of garbage: collected now, not during a measured run.
    const { beforeMiB, afterMiB } = collectGarbage();
    reply({ id: request.id, ok: true, heap: { beforeMiB, afterMiB } });
  } catch (error) {
    reply({ id: request.id, ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}

function grown(): FleetHistory {
  if (!fleet) throw new Error('the fleet has not been grown');
  return fleet;
}
