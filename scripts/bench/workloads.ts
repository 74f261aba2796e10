import { agentJwt, redirectAuthnRequestPath, type BenchSp } from './fixtures.js';
import type { LoadRequest } from './load.js';
import type { BenchAgent } from './orchestrator.js';

/*
 * The requests each sign-on scenario sends, made before the run so the load
 * generator spends its CPU on HTTP, not on building or signing requests.
 */

/** Requests that cycle through a pool: for tasks, the first sign-on per task opens its session, the next ones refresh it. */
export function cycling<T>(items: readonly T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length]!;
}

/** The IdP-initiated sign-on's path, as the IdP's log names it (without the query). */
export const IDP_INITIATED_PATH = '/saml/sso/initiate';

/** IdP-initiated sign-on of an mTLS agent (the client certificate is on the connection) for one of its tasks. */
export function idpInitiated(sp: BenchSp, tasks: readonly string[]): () => LoadRequest {
  const task = cycling(tasks);
  const path = `${IDP_INITIATED_PATH}?sp=${encodeURIComponent(sp.entityId)}`;
  return () => ({ path, headers: { 'task-id': task(), accept: 'application/json' } });
}

export interface JwtAgent {
  readonly agent: BenchAgent;
  readonly tasks: readonly string[];
}

/** Fresh AuthnRequests (HTTP-Redirect) and single-use agent JWTs: `count` of them, spread over the agents. */
export async function spInitiatedPool(sp: BenchSp, baseUrl: string, agents: readonly JwtAgent[], count: number): Promise<LoadRequest[]> {
  const now = new Date();
  const ssoUrl = `${baseUrl}/saml/sso`;
  const audience = `${baseUrl}/saml/metadata`;
  const pool: LoadRequest[] = [];
  for (let i = 0; i < count; i++) {
    const { agent, tasks } = agents[i % agents.length]!;
    const jwt = await agentJwt(agent.credential!, agent.userName, audience, now);
    pool.push({
      path: redirectAuthnRequestPath(sp, ssoUrl, now),
      headers: { authorization: `Bearer ${jwt}`, 'task-id': tasks[Math.floor(i / agents.length) % tasks.length]!, accept: 'application/json' },
    });
  }
  return pool;
}
