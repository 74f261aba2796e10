import type { IncomingMessage } from 'node:http';

/** What a handler needs of the request line, as received: Redirect-binding signatures cover the raw query. */
export interface RequestTarget {
  /** The full path, without the query. */
  readonly path: string;
  /** The query string exactly as received, without the '?'. */
  readonly rawQuery: string;
}

/** Splits a request URL (req.url, or Express's req.originalUrl) into path and raw query. */
export function requestTarget(url: string): RequestTarget {
  const index = url.indexOf('?');
  return index === -1 ? { path: url, rawQuery: '' } : { path: url.slice(0, index), rawQuery: url.slice(index + 1) };
}

/** One request header as Express's req.get gives it: a repeated custom header arrives joined by ", ". */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}
