/**
 * Forwarding a key read to the query service of the instance that owns the key, for
 * tables of which each instance holds only its own partitions (a processor's table).
 */

/** Headers of cross-instance queries (**contract**: clients and other instances read them). */
export const QueryHeader = {
  /** On every answer to a key read: the query address of the instance that answered. */
  AnsweredBy: "toka-answered-by",
  /** On a forwarded request: how many times it was forwarded so far. */
  Hops: "toka-query-hops",
} as const;
export type QueryHeader = (typeof QueryHeader)[keyof typeof QueryHeader];

/**
 * How often a key read may be forwarded. One forward reaches the owner when the sender's
 * owners are current; a second covers a sender whose owners were one rebalance old (the
 * instance it reached forwards once more, by its newer owners). More means ownership is
 * changing under the request, or two instances point at each other: answered 503.
 */
export const MAX_QUERY_HOPS = 2;

/** Longest wait for the owner's answer. */
export const FORWARD_TIMEOUT_MS = 10_000;

/**
 * Where a key of a partitioned table lives, as {@link QueryableView.locate} tells:
 * - `local`: this instance holds the key's partition and can read it now; `instance` is
 *   the query address it advertises, named in `toka-answered-by`;
 * - `remote`: another instance owns it and advertises `address`;
 * - `unavailable`: nobody can answer now (the group is rebalancing, the partition is
 *   recovering, its owner advertises no address); `reason` says which, and whether
 *   trying again later helps (`retriable`).
 */
export type KeyLocation =
  | { readonly kind: "local"; readonly instance?: string | undefined }
  | { readonly kind: "remote"; readonly address: string }
  | { readonly kind: "unavailable"; readonly reason: string; readonly retriable: boolean };

/** The owner's answer, to relay as it is. */
export interface ForwardedAnswer {
  readonly status: number;
  /** The body's text (JSON). */
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Headers of the owner's answer that the forwarding service passes back. */
const RELAYED = ["content-type", "retry-after", QueryHeader.AnsweredBy] as const;

/**
 * Asks the query service at `address` for `/<view>/<key>`, one hop further. Resolves with
 * its answer whatever its status; rejects when it did not answer (refused, timed out).
 */
export async function forwardKeyRead(request: {
  readonly address: string;
  readonly view: string;
  readonly key: string;
  /** The query string to pass on (`?from=…&to=…` of a windows read), or "". */
  readonly search?: string;
  readonly method: "GET" | "HEAD";
  readonly hops: number;
  readonly authorization: string | undefined;
}): Promise<ForwardedAnswer> {
  const url = `${request.address}/${encodeURIComponent(request.view)}/${encodeURIComponent(request.key)}${request.search ?? ""}`;
  const headers: Record<string, string> = { [QueryHeader.Hops]: String(request.hops + 1) };
  if (request.authorization !== undefined) headers.authorization = request.authorization;
  const response = await fetch(url, {
    method: request.method,
    headers,
    // A query service never redirects; anything that does is not one.
    redirect: "error",
    signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
  });
  const body = await response.text();
  const relayed: Record<string, string> = {};
  for (const name of RELAYED) {
    const value = response.headers.get(name);
    if (value !== null) relayed[name] = value;
  }
  return { status: response.status, body, headers: relayed };
}

/** The hop count of an incoming request: 0 for one from a client, NaN for a malformed one. */
export function hopsOf(header: string | string[] | undefined): number {
  if (header === undefined) return 0;
  const text = Array.isArray(header) ? header[0] : header;
  return text !== undefined && /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
}
