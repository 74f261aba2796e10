import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Clock } from '../common/clock.js';
import type { Reason } from '../policy/decision.js';
import type { SigningKey } from '../keys/index.js';
import type { AlertOutbox } from './alert-outbox.js';
import type { AlertsConfig } from './alerts-config.js';

/** One policy decision worth telling security teams about. */
export interface SecurityAlert {
  readonly kind: 'deny' | 'step_up' | 'revoke';
  readonly at: Date;
  readonly agentId: string;
  readonly agentUserName: string;
  readonly owner: string | undefined;
  readonly taskId: string | undefined;
  readonly spEntityId: string | undefined;
  readonly reasons: readonly Reason[];
  readonly riskScore: number;
  readonly approvalId: string | undefined;
  /** For a revoke: the SessionIndexes that ended. */
  readonly sessionIndexes: readonly string[];
}

export interface SecurityAlerts {
  /** Signs the event and queues it for every configured webhook (durably: delivered later, with retry). */
  raise(alert: SecurityAlert): Promise<void>;
}

/** The CAEP event type for a revoke; deny and step-up have no CAEP equivalent and use ours. */
export const EVENT_TYPE = {
  sessionRevoked: 'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
  policyDecision: 'urn:tessera:secevent:policy-decision',
} as const;

/**
 * A Security Event Token (RFC 8417) in the shape of an OpenID CAEP session-revoked
 * event: subject by sub_id (the agent's id, opaque), event_timestamp,
 * initiating_entity "policy", reason_admin; Tessera's own facts under
 * `tessera` (machine-readable reasons, risk score, task, SP, approval).
 */
export function securityEventClaims(alert: SecurityAlert, issuer: string, audience: string, jti: string): Record<string, unknown> {
  const eventType = alert.kind === 'revoke' ? EVENT_TYPE.sessionRevoked : EVENT_TYPE.policyDecision;
  return {
    iss: issuer,
    aud: audience,
    iat: Math.floor(alert.at.getTime() / 1000),
    jti,
    sub_id: { format: 'opaque', id: alert.agentUserName },
    events: {
      [eventType]: {
        event_timestamp: Math.floor(alert.at.getTime() / 1000),
        initiating_entity: 'policy',
        reason_admin: { en: alert.reasons.map((r) => r.detail).join('; ') },
        tessera: {
          decision: alert.kind,
          reasons: alert.reasons.map((r) => (r.ruleId ? `rule:${r.ruleId}` : r.code)),
          riskScore: Number(alert.riskScore.toFixed(3)),
          agentId: alert.agentId,
          ...(alert.owner ? { owner: alert.owner } : {}),
          ...(alert.taskId ? { taskId: alert.taskId } : {}),
          ...(alert.spEntityId ? { spEntityId: alert.spEntityId } : {}),
          ...(alert.approvalId ? { approvalId: alert.approvalId } : {}),
          ...(alert.sessionIndexes.length > 0 ? { sessionIndexes: alert.sessionIndexes } : {}),
        },
      },
    },
  };
}

/** Signs with the IdP's SAML signing key (its certificate is in our metadata), RS256 or ES256 by key type. */
export async function signSecurityEvent(claims: Record<string, unknown>, key: SigningKey): Promise<string> {
  const alg = key.privateKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'secevent+jwt', kid: key.id }).sign(key.privateKey);
}

export interface WebhookAlertsDeps {
  readonly config: AlertsConfig;
  readonly outbox: AlertOutbox;
  readonly keys: { readonly signing: SigningKey };
  readonly issuer: string;
  readonly clock: Clock;
  /** Called once rows are queued, so delivery starts now. */
  readonly onQueued: () => void;
}

export class WebhookAlerts implements SecurityAlerts {
  constructor(private readonly deps: WebhookAlertsDeps) {}

  async raise(alert: SecurityAlert): Promise<void> {
    if (this.deps.config.webhooks.length === 0) return;
    const eventId = randomUUID();
    const rows = await Promise.all(
      this.deps.config.webhooks.map(async (webhook) => ({
        webhook: webhook.url,
        eventId,
        kind: alert.kind,
        payload: await signSecurityEvent(securityEventClaims(alert, this.deps.issuer, webhook.url, eventId), this.deps.keys.signing),
      })),
    );
    await this.deps.outbox.enqueue(rows, this.deps.clock.now());
    this.deps.onQueued();
  }
}

export const noAlerts: SecurityAlerts = { raise: async () => undefined };
