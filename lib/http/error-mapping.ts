import type { ErrorCode } from '../common/errors.js';
import { TesseraError } from '../common/errors.js';

const SAML_STATUS = 'urn:oasis:names:tc:SAML:2.0:status:';

export interface ProtocolShape {
  /** HTTP status when the error is answered directly (page, JSON, SCIM, problem). */
  readonly httpStatus: number;
  /** Top-level and second-level SAML StatusCode, when it goes back to an SP. */
  readonly samlTop: string;
  readonly samlSecond: string | undefined;
  /** RFC 7644 §3.12 scimType, where one applies. */
  readonly scimType: string | undefined;
}

const requester = `${SAML_STATUS}Requester`;
const responder = `${SAML_STATUS}Responder`;
const denied = `${SAML_STATUS}RequestDenied`;
const authnFailed = `${SAML_STATUS}AuthnFailed`;

function shape(httpStatus: number, samlTop: string, samlSecond?: string, scimType?: string): ProtocolShape {
  return { httpStatus, samlTop, samlSecond, scimType };
}

/** The one place where an error code becomes a protocol's error. */
const SHAPES: Record<ErrorCode, ProtocolShape> = {
  saml_malformed_request: shape(400, requester),
  saml_unknown_sp: shape(400, requester, denied),
  saml_acs_not_registered: shape(400, requester, denied),
  saml_unsupported_binding: shape(400, requester, `${SAML_STATUS}UnsupportedBinding`),
  saml_signature_required: shape(403, requester, denied),
  saml_signature_invalid: shape(403, requester, denied),
  saml_request_replayed: shape(403, requester, denied),
  saml_request_stale: shape(403, requester, denied),
  saml_wrong_destination: shape(400, requester, denied),
  saml_version_mismatch: shape(400, `${SAML_STATUS}VersionMismatch`, `${SAML_STATUS}RequestVersionDeprecated`),
  saml_invalid_nameid_policy: shape(400, requester, `${SAML_STATUS}InvalidNameIDPolicy`),
  agent_unauthenticated: shape(401, responder, authnFailed),
  agent_inactive: shape(403, responder, authnFailed),
  agent_credential_replayed: shape(401, responder, authnFailed),
  agent_credential_expired: shape(401, responder, authnFailed),
  agent_credential_retired: shape(401, responder, authnFailed),
  task_missing: shape(403, responder, denied),
  task_unknown: shape(403, responder, denied),
  task_not_open: shape(403, responder, denied),
  task_wrong_agent: shape(403, responder, denied),
  task_audience_mismatch: shape(403, responder, denied),
  task_context_violation: shape(403, responder, denied),
  scope_not_granted: shape(403, responder, denied),
  policy_denied: shape(403, responder, denied),
  policy_step_up: shape(403, responder, denied),
  policy_revoked: shape(403, responder, denied),
  orchestrator_unauthenticated: shape(401, responder),
  invalid_value: shape(400, requester, undefined, 'invalidValue'),
  invalid_syntax: shape(400, requester, undefined, 'invalidSyntax'),
  not_found: shape(404, requester),
  conflict: shape(409, requester, undefined, 'uniqueness'),
  payload_too_large: shape(413, requester),
  unsupported_media_type: shape(415, requester),
  scim_invalid_filter: shape(400, requester, undefined, 'invalidFilter'),
  scim_invalid_path: shape(400, requester, undefined, 'invalidPath'),
  scim_no_target: shape(400, requester, undefined, 'noTarget'),
  scim_mutability: shape(400, requester, undefined, 'mutability'),
  precondition_failed: shape(412, requester),
  sp_metadata_invalid: shape(400, requester),
  sp_exists: shape(409, requester),
  config_invalid: shape(500, responder),
  audit_chain_broken: shape(500, responder),
  metrics_unavailable: shape(503, responder),
  internal: shape(500, responder),
};

export function protocolShape(code: ErrorCode): ProtocolShape {
  return SHAPES[code];
}

/** Anything thrown that is not ours is an internal error: its message is for the operator only. */
export function asTesseraError(thrown: unknown): TesseraError {
  if (thrown instanceof TesseraError) return thrown;
  const status = httpStatusOfForeign(thrown);
  if (status === 413) return new TesseraError('payload_too_large', 'request body is too large');
  if (status === 415) return new TesseraError('unsupported_media_type', 'unsupported content type');
  if (status === 400) return new TesseraError('invalid_syntax', 'request body is not valid JSON', { cause: thrown });
  return new TesseraError('internal', 'internal error', {
    internalDetail: thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown),
    cause: thrown,
  });
}

/** body-parser and friends signal HTTP errors with a status field. */
function httpStatusOfForeign(thrown: unknown): number | undefined {
  if (thrown !== null && typeof thrown === 'object' && 'status' in thrown && typeof thrown.status === 'number') {
    return thrown.status;
  }
  return undefined;
}

export interface ProblemDocument {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: ErrorCode;
  readonly instance?: string;
}

/** RFC 9457 problem details for the Tasks API. */
export function problemDocument(error: TesseraError, instance: string | undefined): ProblemDocument {
  const { httpStatus } = protocolShape(error.code);
  return {
    type: `urn:tessera:problem:${error.code}`,
    title: error.code.replace(/_/g, ' '),
    status: httpStatus,
    detail: error.message,
    code: error.code,
    ...(instance ? { instance } : {}),
  };
}

/** RFC 7644 §3.12 error response. */
export function scimErrorDocument(error: TesseraError): Record<string, unknown> {
  const shapeOf = protocolShape(error.code);
  const scimType = error.fields.scimType ?? shapeOf.scimType;
  return {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'],
    status: String(shapeOf.httpStatus),
    ...(scimType && (shapeOf.httpStatus === 400 || shapeOf.httpStatus === 409) ? { scimType } : {}),
    detail: error.message,
  };
}
