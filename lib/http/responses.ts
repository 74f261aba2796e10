import type { IncomingMessage, ServerResponse } from 'node:http';
import accepts from 'accepts';
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

/** Caching headers for answers that are single-use or secret: nothing may keep them. */
export function noStore(res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

/*
 * Plain node:http answers, for routes served without Express (http/direct-routes.ts)
 * and the handlers they share with it. They write what res.json and res.send would:
 * the same content types, with charset, and a Content-Length.
 */

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendJsonText(res, status, JSON.stringify(value));
}

/** JSON the caller has serialised itself. */
export function sendJsonText(res: ServerResponse, status: number, json: string): void {
  send(res, status, 'application/json; charset=utf-8', json);
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  send(res, status, 'text/html; charset=utf-8', html);
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** Whether the client asked for JSON over HTML (a headless agent), by its Accept header. */
export function prefersJson(req: IncomingMessage): boolean {
  return accepts(req).type(['text/html', 'application/json']) === 'application/json';
}
