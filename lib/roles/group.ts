/** A role: a SCIM Group whose members (agents) are granted its scopes. */
export interface Group {
  readonly id: string;
  readonly displayName: string;
  readonly externalId: string | undefined;
  /** Scope tokens granted to every member (urn:tessera:scim:schemas:extension:role:2.0:Group). */
  readonly scopes: readonly string[];
  readonly members: readonly GroupMember[];
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface GroupMember {
  readonly agentId: string;
  readonly userName: string;
}

/** What a client writes. */
export interface GroupWrite {
  readonly displayName: string;
  readonly externalId: string | undefined;
  readonly scopes: readonly string[];
  /** Agent ids; each must name an existing agent. */
  readonly memberIds: readonly string[];
}

export interface GroupChange {
  readonly group: Group;
  readonly previous: Group;
}
