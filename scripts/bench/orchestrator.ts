import type { AgentCredential } from './fixtures.js';
import type { HttpsClient } from './server.js';

/*
 * What an orchestrator does to the IdP during the bench: provision agents
 * (SCIM), open tasks (Tasks API), deprovision (SCIM PATCH active=false).
 */

export const AGENT_EXTENSION = 'urn:tessera:scim:schemas:extension:agent:2.0:Agent';
export const SCOPES = ['invoices:read', 'invoices:write', 'reports:read'];

export interface BenchAgent {
  readonly id: string;
  readonly userName: string;
  readonly credential: AgentCredential | undefined;
}

export class Orchestrator {
  constructor(
    readonly client: HttpsClient,
    private readonly token: string,
  ) {}

  private headers(type: string): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, 'content-type': type, accept: type };
  }

  async provision(userName: string, credential: AgentCredential | undefined): Promise<BenchAgent> {
    const response = await this.client.send(
      'POST',
      '/scim/v2/Users',
      this.headers('application/scim+json'),
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', AGENT_EXTENSION],
        userName,
        active: true,
        ...(credential ? { x509Certificates: [{ value: credential.certBase64 }] } : {}),
        [AGENT_EXTENSION]: {
          owner: 'bench@example.com',
          modelHash: 'sha256:9f2c4e1b7a0d',
          sourceCommit: '3b8e2f1c0a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f',
          trainingDataVersion: 'td-2026.11',
          sensitivityTier: 'medium',
          computeZone: 'eu-west-1a',
          scopes: SCOPES,
        },
      }),
    );
    if (response.status !== 201) throw new Error(`provisioning ${userName} failed: ${response.status} ${response.body}`);
    return { id: response.json<{ id: string }>().id, userName, credential };
  }

  async openTask(agent: string, audiences: readonly string[]): Promise<string> {
    const response = await this.client.send(
      'POST',
      '/api/v1/tasks',
      this.headers('application/json'),
      JSON.stringify({ agent, scopes: ['invoices:read'], tier: 'medium', audiences, ttlSeconds: 86_400 }),
    );
    if (response.status !== 201) throw new Error(`opening a task for ${agent} failed: ${response.status} ${response.body}`);
    return response.json<{ taskId: string }>().taskId;
  }

  async deactivate(id: string): Promise<number> {
    const response = await this.client.send(
      'PATCH',
      `/scim/v2/Users/${id}`,
      this.headers('application/scim+json'),
      JSON.stringify({
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'active', value: false }],
      }),
    );
    if (response.status !== 200 && response.status !== 204) throw new Error(`deprovisioning failed: ${response.status} ${response.body}`);
    return response.status;
  }

  async get(id: string): Promise<number> {
    return (await this.client.send('GET', `/scim/v2/Users/${id}`, this.headers('application/scim+json'))).status;
  }
}
