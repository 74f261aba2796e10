export interface OrchestratorToken {
  readonly name: string;
  readonly createdAt: Date;
}

/** Orchestrator bearer tokens; only their SHA-256 is ever stored. */
export interface TokenRepository {
  /** @throws TesseraError('conflict') when an unrevoked token has this name. */
  create(name: string, tokenHash: string, at: Date): Promise<void>;
  revoke(name: string, at: Date): Promise<boolean>;
  findActiveByHash(tokenHash: string): Promise<OrchestratorToken | undefined>;
}
