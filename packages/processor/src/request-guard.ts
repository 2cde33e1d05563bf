import { randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { isTokaError } from "./errors.js";
import type { Logger } from "./logger.js";

/** Names of this machine that a browser page cannot make a foreign host resolve to. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** Where a query service serves its web monitor, if it has one. */
export const MONITOR_PATH = "/monitor";

/** Whether a request target is the monitor's page, its files or its API. */
export function isMonitorPath(url: string | undefined): boolean {
  const path = pathOf(url);
  return path === MONITOR_PATH || path.startsWith(`${MONITOR_PATH}/`);
}

/** Longest request target served: longer ones are refused before routing. */
export const MAX_URL_LENGTH = 4096;

/** What a request must satisfy before it is routed. */
export interface RequestRules {
  /** Host header names accepted (without port), lower case; `"*"` accepts any. */
  readonly allowedHosts: ReadonlySet<string>;
  /** The bearer token every route but the probes needs; `undefined` for none. */
  readonly token: string | undefined;
}

/** A refusal: status, message and extra headers. */
export interface Refusal {
  readonly status: number;
  readonly error: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Routes a probe (Kubernetes, a load balancer) calls without credentials. */
const PROBES = new Set(["/health", "/ready"]);

/**
 * Checks a request before routing: its Host header is one the service answers to (a
 * DNS-rebinding page sends its own name), its target is not oversized, it carries no
 * body (every route is a GET), and it has the bearer token when one is required.
 */
export function refusal(req: IncomingMessage, rules: RequestRules): Refusal | undefined {
  const host = hostName(req.headers.host);
  if (!rules.allowedHosts.has("*") && (host === undefined || !rules.allowedHosts.has(host))) {
    return {
      status: 403,
      error: `host "${host ?? ""}" is not served here; add it to the query service's allowedHosts`,
    };
  }
  if ((req.url?.length ?? 0) > MAX_URL_LENGTH) {
    return { status: 414, error: `the request target is longer than ${MAX_URL_LENGTH} characters` };
  }
  const length = req.headers["content-length"];
  const hasBody =
    (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
  // Other methods are answered 405 by the routes, which says more.
  if (hasBody && (req.method === "GET" || req.method === "HEAD")) {
    return { status: 413, error: "requests have no body here" };
  }
  if (rules.token !== undefined && !PROBES.has(pathOf(req.url))) {
    const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (given === undefined || !sameSecret(given, rules.token)) {
      return {
        status: 401,
        error: "a bearer token is required: send Authorization: Bearer <token>",
        headers: { "www-authenticate": 'Bearer realm="toka"' },
      };
    }
  }
  return undefined;
}

/** The host name of a Host header, lower case, without port or IPv6 brackets. */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^\[([^\]]+)\](?::\d+)?$/.exec(header) ?? /^([^:]+)(?::\d+)?$/.exec(header);
  return match?.[1]?.toLowerCase();
}

function pathOf(url: string | undefined): string {
  const end = (url ?? "/").search(/[?#]/);
  return end < 0 ? (url ?? "/") : (url ?? "/").slice(0, end);
}

/** Compares in time that does not depend on where the strings differ. */
function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The answer to a request that failed inside the service: an id to look up in the log
 * (where the failure is logged with it), and the toka error code, not the internals.
 */
export function failedRequestReply(
  error: unknown,
  logger: Logger,
  what: string,
  url: string | undefined,
): { status: 500; body: { error: string; id: string; code?: string } } {
  const id = randomUUID();
  logger.warn(`${what} request failed`, { error, url, errorId: id });
  return {
    status: 500,
    body: {
      error: `the request failed; the service's log has the details under ${id}`,
      id,
      ...(isTokaError(error) ? { code: error.code } : {}),
    },
  };
}
