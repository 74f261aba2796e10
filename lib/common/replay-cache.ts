/** Single-use identifiers (JWT jti, AuthnRequest ID), kept until they could no longer be accepted anyway. */
export interface ReplayCache {
  /** @returns true when the id was unseen in the namespace (and is now stored), false on replay. */
  checkAndStore(namespace: string, id: string, expiresAt: Date, now: Date): Promise<boolean>;
  /** Forgets entries that expired; returns how many. */
  purgeExpired(now: Date, limit: number): Promise<number>;
}
