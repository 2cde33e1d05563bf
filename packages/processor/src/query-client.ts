import { setTimeout as delay } from "node:timers/promises";
import { TokaError, TokaErrorCode } from "./errors.js";
import { FORWARD_TIMEOUT_MS, QueryHeader } from "./query-forwarding.js";

/** Options of {@link queryClient}. */
export interface QueryClientOptions<Views extends Record<string, unknown>> {
  /** Sent as `Authorization: Bearer <token>`, for a service with a `token`. Default none. */
  readonly token?: string;
  /**
   * Tries of a read the service answers 503 with `Retry-After` (the key's owner moving in
   * a rebalance) before it fails. Default 20.
   */
  readonly attempts?: number;
  /** Longest wait between tries, in ms (the service's `Retry-After` if shorter). Default 500. */
  readonly maxRetryDelayMs?: number;
  /** Longest wait for one answer, in ms. Default 20,000 (the service may forward once more). */
  readonly timeoutMs?: number;
  /**
   * Checks and converts a view's JSON values (e.g. a zod schema's `parse`). Default: the
   * JSON as it is, typed as the view's value.
   */
  readonly parse?: { readonly [V in keyof Views]?: (json: unknown) => Views[V] };
}

/** Named defaults of {@link QueryClientOptions}. */
export const QUERY_CLIENT_DEFAULTS = {
  attempts: 20,
  maxRetryDelayMs: 500,
  timeoutMs: 2 * FORWARD_TIMEOUT_MS,
} as const;

/** A key read's answer, and which instance gave it (its advertised query address). */
export type QueryAnswer<T> =
  | { readonly found: true; readonly value: T; readonly answeredBy: string }
  | { readonly found: false; readonly answeredBy: string };

/** Reads keys from a query service; see {@link queryClient}. */
export interface QueryClient<Views extends Record<string, unknown>> {
  /**
   * Reads `key` of `view` through the service, whichever instance owns it.
   * @throws TokaError `TOKA_QUERY_FAILED` for an unknown view, a service that does not
   * answer, an error answer, or a 503 that lasted all `attempts` (then `retriable`).
   */
  get<V extends keyof Views & string>(view: V, key: string): Promise<QueryAnswer<Views[V]>>;
}

/**
 * A client of the query service at `baseUrl` (`serveViews`), typed by the views it
 * serves: `queryClient<{ balances: Balance }>(url).get("balances", "alice")`. Any
 * instance answers for any key of a processor's table (`processor.ownedTable()`),
 * forwarding to the owner; the client tries again while a rebalance makes the owner
 * unknown, and says which instance answered.
 */
export function queryClient<Views extends Record<string, unknown> = Record<string, unknown>>(
  baseUrl: string,
  options: QueryClientOptions<Views> = {},
): QueryClient<Views> {
  const base = baseUrl.replace(/\/+$/, "");
  const attempts = options.attempts ?? QUERY_CLIENT_DEFAULTS.attempts;
  const maxDelay = options.maxRetryDelayMs ?? QUERY_CLIENT_DEFAULTS.maxRetryDelayMs;
  const timeoutMs = options.timeoutMs ?? QUERY_CLIENT_DEFAULTS.timeoutMs;
  const headers: Record<string, string> = options.token
    ? { authorization: `Bearer ${options.token}` }
    : {};
  return {
    async get(view, key) {
      const url = `${base}/${encodeURIComponent(view)}/${encodeURIComponent(key)}`;
      for (let attempt = 1; ; attempt++) {
        let response: Response;
        let text: string;
        try {
          response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
          text = await response.text();
        } catch (cause) {
          throw new TokaError(
            TokaErrorCode.QueryFailed,
            `the query service at ${base} did not answer for key "${key}" of view "${view}"`,
            { key, cause, retriable: true },
          );
        }
        const answeredBy = response.headers.get(QueryHeader.AnsweredBy);
        const retryAfter = response.headers.get("retry-after");
        if (response.status === 503 && retryAfter !== null && attempt < attempts) {
          await delay(Math.min(maxDelay, Number(retryAfter) * 1000 || maxDelay));
          continue;
        }
        // A key answer names who gave it; a 404 without is a view the service lacks.
        if (response.status === 200) {
          const json: unknown = JSON.parse(text);
          const parse = options.parse?.[view];
          const value = parse ? parse(json) : (json as Views[typeof view]);
          return { found: true, value, answeredBy: answeredBy ?? base };
        }
        if (response.status === 404 && answeredBy !== null) return { found: false, answeredBy };
        throw new TokaError(
          TokaErrorCode.QueryFailed,
          `the query service at ${base} answered ${response.status} for key "${key}" of view "${view}"${attempt > 1 ? ` after ${attempt} attempts` : ""}: ${errorOf(text)}`,
          { key, retriable: response.status === 503 },
        );
      }
    },
  };
}

/** The `error` of a JSON error answer, else the text. */
function errorOf(text: string): string {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && "error" in parsed)
      return String((parsed as { error: unknown }).error);
  } catch {
    // Not JSON: the text says it.
  }
  return text;
}
