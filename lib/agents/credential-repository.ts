/** A registered certificate, retired or not: enough to say why it may not sign on. */
export interface CredentialRecord {
  /** Lower-case hex SHA-256 of the DER certificate. */
  readonly thumbprint: string;
  readonly agentId: string;
  readonly registeredAt: Date;
  readonly retiredAt: Date | undefined;
  readonly retireReason: string | undefined;
}

/** Certificate retirement (the cleanup policy's rotateCredentials). Every method is one atomic operation. */
export interface CredentialRepository {
  /** The certificate with this thumbprint, whether active or retired. */
  find(thumbprint: string): Promise<CredentialRecord | undefined>;
  /**
   * Retires every certificate of the agent registered at or before `registeredBy`
   * that is still active, so a certificate registered after the decision survives.
   * @returns the certificates retired now.
   */
  retireForAgent(agentId: string, registeredBy: Date, at: Date, reason: string): Promise<CredentialRecord[]>;
}
