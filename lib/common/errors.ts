/**
 * Every failure Tessera reports is a TesseraError with a stable code. The code
 * decides the protocol-specific shape (SAML StatusCode, SCIM scimType, problem
 * type, HTTP status) in one place: lib/http/error-mapping.ts. Callers switch on
 * codes, never on messages.
 */
export type ErrorCode =
  // SAML intake
  | 'saml_malformed_request'
  | 'saml_unknown_sp'
  | 'saml_acs_not_registered'
  | 'saml_unsupported_binding'
  | 'saml_signature_required'
  | 'saml_signature_invalid'
  | 'saml_request_replayed'
  | 'saml_request_stale'
  | 'saml_wrong_destination'
  | 'saml_version_mismatch'
  | 'saml_invalid_nameid_policy'
  // agent authentication and authorisation at sign-on
  | 'agent_unauthenticated'
  | 'agent_inactive'
  | 'agent_credential_replayed'
  | 'agent_credential_expired'
  | 'agent_credential_retired'
  | 'task_missing'
  | 'task_unknown'
  | 'task_not_open'
  | 'task_wrong_agent'
  | 'task_audience_mismatch'
  | 'task_context_violation'
  | 'scope_not_granted'
  // policy decisions (issue 7): the reasons go to the audit log, never to the caller
  | 'policy_denied'
  | 'policy_step_up'
  | 'policy_revoked'
  // orchestrator APIs
  | 'orchestrator_unauthenticated'
  | 'invalid_value'
  | 'invalid_syntax'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  // SCIM (RFC 7644 §3.12 scimType in error-mapping.ts)
  | 'scim_invalid_filter'
  | 'scim_invalid_path'
  | 'scim_no_target'
  | 'scim_mutability'
  | 'precondition_failed'
  // admin / configuration
  | 'sp_metadata_invalid'
  | 'sp_exists'
  | 'config_invalid'
  | 'audit_chain_broken'
  // operations
  | 'metrics_unavailable'
  | 'internal';

export interface ErrorDetails {
  /** Operator-facing detail; logged, never sent to the caller. */
  readonly internalDetail?: string;
  /** Extra machine-readable fields that are safe to expose. */
  readonly fields?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly internalDetail: string | undefined;
  readonly fields: Readonly<Record<string, string>>;

  /** @param message caller-facing description: say what was wrong, never secrets. */
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.internalDetail = details.internalDetail;
    this.fields = details.fields ?? {};
  }
}

export function isTesseraError(value: unknown): value is TesseraError {
  return value instanceof TesseraError;
}

export function errorMessage(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}
