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
  readonly assertionId: string;
  readonly authnMethod: AuthnMethod;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly revokedAt: Date | undefined;
  readonly revokeReason: string | undefined;
}

export interface RevokedSessions {
  readonly sessions: readonly Session[];
}
