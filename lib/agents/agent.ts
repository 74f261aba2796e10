import type { SensitivityTier } from '../config/index.js';

/** A certificate an agent may authenticate with, pinned by its SHA-256 thumbprint. */
export interface AgentCertificate {
  /** Lower-case hex SHA-256 of the DER certificate. */
  readonly thumbprint: string;
  readonly pem: string;
  readonly registeredAt: Date;
  readonly retiredAt: Date | undefined;
}

/** The agent extension (urn:tessera:scim:schemas:extension:agent:2.0:Agent). */
export interface AgentProfile {
  readonly owner: string | undefined;
  readonly modelHash: string | undefined;
  readonly sourceCommit: string | undefined;
  readonly trainingDataVersion: string | undefined;
  readonly sensitivityTier: SensitivityTier | undefined;
  readonly computeZone: string | undefined;
  readonly allowedCidrs: readonly string[];
  readonly scopes: readonly string[];
}

export interface Agent {
  readonly id: string;
  /** The AI-Agent-ID: unique case-insensitively. */
  readonly userName: string;
  readonly active: boolean;
  readonly externalId: string | undefined;
  readonly profile: AgentProfile;
  readonly certificates: readonly AgentCertificate[];
  /**
   * SCIM attributes Tessera does not interpret (name, emails, displayName, the
   * enterprise extension…), kept so vendors' clients get back what they sent.
   */
  readonly extraAttributes: Readonly<Record<string, unknown>>;
  /** Roles (SCIM Groups) the agent is a member of. */
  readonly groups: readonly AgentGroup[];
  /**
   * What the agent may be granted: its own scopes ∪ its groups' scopes. A task may
   * request only these; leaving a group narrows the next sign-on.
   */
  readonly grantedScopes: readonly string[];
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface AgentGroup {
  readonly id: string;
  readonly displayName: string;
}

/** What a client writes: everything but identity, derived fields and bookkeeping. */
export type AgentWrite = Omit<Agent, 'id' | 'groups' | 'grantedScopes' | 'version' | 'createdAt' | 'updatedAt'>;

export type NewAgent = AgentWrite & { readonly id: string };

/** Own scopes ∪ group scopes, each once, in a stable order. */
export function unionOfScopes(own: readonly string[], fromGroups: readonly (readonly string[])[]): string[] {
  return [...new Set([...own, ...fromGroups.flat()])];
}
