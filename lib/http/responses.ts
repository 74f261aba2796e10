import type { Request, Response } from 'express';
import type { TesseraError } from '../common/errors.js';
import { problemDocument, protocolShape, scimErrorDocument } from './error-mapping.js';

export function sendProblem(req: Request, res: Response, error: TesseraError): void {
  const document = problemDocument(error, req.originalUrl.split('?')[0]);
  if (error.code === 'orchestrator_unauthenticated') res.setHeader('WWW-Authenticate', 'Bearer realm="tessera"');
  res.status(document.status).type('application/problem+json').send(JSON.stringify(document));
}

export function sendScimError(res: Response, error: TesseraError): void {
  if (error.code === 'orchestrator_unauthenticated') res.setHeader('WWW-Authenticate', 'Bearer realm="tessera"');
  res.status(protocolShape(error.code).httpStatus).type('application/scim+json').send(JSON.stringify(scimErrorDocument(error)));
}

/** Security headers for every response: nothing here is meant to be framed, sniffed or cached. */
export function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}
