/** One signed security event for one webhook. */
export interface AlertDelivery {
  readonly id: string;
  readonly eventId: string;
  readonly kind: string;
  readonly webhook: string;
  /** The signed SET (compact JWS), sent as it was signed. */
  readonly payload: string;
  readonly state: 'pending' | 'delivered' | 'abandoned';
  readonly attempts: number;
  readonly nextAttemptAt: Date;
  readonly lastError: string | undefined;
  readonly createdAt: Date;
  readonly finishedAt: Date | undefined;
}

export interface NewAlert {
  readonly webhook: string;
  readonly eventId: string;
  readonly kind: string;
  readonly payload: string;
}

/** The durable queue of security events: written when a decision is taken, drained with retry. */
export interface AlertOutbox {
  enqueue(alerts: readonly NewAlert[], at: Date): Promise<void>;
  /** Claims up to `limit` due deliveries, pushing their next attempt to `leaseUntil` so no other sender takes them meanwhile. */
  claimDue(now: Date, limit: number, leaseUntil: Date): Promise<AlertDelivery[]>;
  markDelivered(id: string, at: Date): Promise<void>;
  markFailed(id: string, attempts: number, nextAttemptAt: Date, error: string): Promise<void>;
  markAbandoned(id: string, at: Date, error: string): Promise<void>;
  nextDueAt(): Promise<Date | undefined>;
  list(): Promise<AlertDelivery[]>;
}
