import { TesseraError } from '../common/errors.js';
import { SCIM_SCHEMAS } from './schemas.js';
import { parseScimBoolean, type ScimObject } from './agent-resource.js';

function invalid(message: string, scimType: string): TesseraError {
  return new TesseraError('invalid_value', message, { fields: { scimType } });
}

/**
 * Reads a PatchOp request that sets `active`, in the shapes real clients send:
 * `{"op":"replace","path":"active","value":false}`, Okta's
 * `{"op":"replace","value":{"active":false}}`, Entra's "False" strings and
 * capitalised op names. Returns the final value of active.
 */
export function activeFromPatch(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalid('the body must be a PatchOp object', 'invalidSyntax');
  const request = body as ScimObject;
  if (!Array.isArray(request.schemas) || !request.schemas.includes(SCIM_SCHEMAS.patchOp)) {
    throw invalid(`schemas must include ${SCIM_SCHEMAS.patchOp}`, 'invalidSyntax');
  }
  const operations = request.Operations;
  if (!Array.isArray(operations) || operations.length === 0) throw invalid('Operations must be a non-empty array', 'invalidSyntax');
  let active: boolean | undefined;
  for (const operation of operations as unknown[]) {
    if (operation === null || typeof operation !== 'object') throw invalid('each operation must be an object', 'invalidSyntax');
    const { op, path, value } = operation as ScimObject;
    const kind = typeof op === 'string' ? op.toLowerCase() : '';
    if (kind !== 'replace' && kind !== 'add') {
      throw invalid(`operation "${String(op)}" is not supported on this attribute: only add and replace of active`, 'invalidPath');
    }
    if (path === undefined) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid('a PATCH without path needs an object value', 'invalidValue');
      const keys = Object.keys(value);
      if (keys.length !== 1 || keys[0] !== 'active') throw invalid('only "active" can be patched', 'invalidPath');
      active = parseScimBoolean((value as ScimObject).active, 'active');
    } else if (typeof path === 'string' && path.toLowerCase() === 'active') {
      active = parseScimBoolean(value, 'active');
    } else {
      throw invalid(`path "${String(path)}" cannot be patched: only "active"`, 'invalidPath');
    }
  }
  return active!;
}
