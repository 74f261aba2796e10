export type AuthnMethod = 'mtls' | 'jwt';

/** One issued assertion: what the SP holds, for how long, and for which task. */
export interface Session {
  readonly id: string;
  /** The SessionIndex in the AuthnStatement; SLO names sessions by it. */
  readonly sessionIndex: string;
  readonly agentId: string;
  readonly taskId: string;
  readonly spEntityId: string;
  readonly nameId: string;
  readonly nameIdFormat: string;
  /** The latest assertion issued for the session (a refresh issues a new one). */
  readonly assertionId: string;
  readonly authnMethod: AuthnMethod;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  /** The last sign-on for this session; the inactivity window runs from it (createdAt when absent). */
  readonly lastActivityAt?: Date | undefined;
  /** When the session stopped being live, for any reason (revoke_reason says which, 'expired' included). */
  readonly revokedAt: Date | undefined;
  readonly revokeReason: string | undefined;
}

export interface RevokedSessions {
  readonly sessions: readonly Session[];
}

/** Why the lifecycle ended a session. */
export const SESSION_END_REASON = {
  expired: 'expired',
  inactivity: 'policy:inactivity',
  taskStatus: (status: string) => `policy:task_${status.toLowerCase()}`,
} as const;
