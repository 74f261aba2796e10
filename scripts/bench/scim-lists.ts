import { HttpsClient, type RunningServer } from './server.js';

/*
 * SCIM lists on the fleet-scale copy (100,000 agents by default), one worker:
 * how long an orchestrator's page or filter takes, and how long the same
 * worker then keeps a `/healthz` asked every 5 ms waiting (what a sign-on
 * arriving meanwhile would wait for the event loop).
 */

export interface ScimListFigure {
  readonly query: string;
  /** Each of the runs, in milliseconds. */
  readonly milliseconds: readonly number[];
  readonly totalResults: number;
  readonly itemsPerPage: number;
  /** The slowest /healthz answer while the lists ran. */
  readonly worstHealthzMs: number;
}

const RUNS = 3;

export async function scimListTrials(options: {
  readonly server: RunningServer;
  readonly token: string;
  readonly agents: number;
  readonly progress: (line: string) => void;
}): Promise<ScimListFigure[]> {
  const { server, token, progress } = options;
  const headers = { authorization: `Bearer ${token}`, accept: 'application/scim+json' };
  const middle = Math.max(1, Math.floor(options.agents / 2));
  const queries = [
    `startIndex=${middle}&count=100`,
    'count=100',
    `filter=${encodeURIComponent('active eq false')}&count=10`,
    `filter=${encodeURIComponent('userName sw "bench-"')}&sortBy=userName&count=10`,
    `filter=${encodeURIComponent('userName eq "bench-mtls-agent"')}`,
  ];
  const client = new HttpsClient(server);
  const prober = new HttpsClient(server, { maxSockets: 1 });
  const figures: ScimListFigure[] = [];
  try {
    for (const query of queries) {
      let worst = 0;
      let probing = true;
      const probe = (async () => {
        while (probing) {
          const started = performance.now();
          await prober.send('GET', '/healthz', {});
          worst = Math.max(worst, performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      })();
      const milliseconds: number[] = [];
      let body: { totalResults: number; itemsPerPage: number } = { totalResults: 0, itemsPerPage: 0 };
      try {
        for (let run = 0; run < RUNS; run++) {
          const started = performance.now();
          const answer = await client.send('GET', `/scim/v2/Users?${query}`, headers);
          milliseconds.push(performance.now() - started);
          if (answer.status !== 200) throw new Error(`GET /scim/v2/Users?${query}: ${answer.status} ${answer.body.slice(0, 300)}`);
          body = answer.json();
        }
      } finally {
        probing = false;
        await probe;
      }
      const figure = { query: decodeURIComponent(query), milliseconds, totalResults: body.totalResults, itemsPerPage: body.itemsPerPage, worstHealthzMs: worst };
      progress(
        `SCIM list ${figure.query}: ${milliseconds.map((ms) => ms.toFixed(0)).join(' / ')} ms, ${figure.totalResults.toLocaleString('en-US')} results, ` +
          `worst /healthz meanwhile ${worst.toFixed(0)} ms`,
      );
      figures.push(figure);
    }
  } finally {
    client.close();
    prober.close();
  }
  return figures;
}
