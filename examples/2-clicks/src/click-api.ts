import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Emitter, Logger } from "@toka/processor";

/** Options of {@link serveClicks}. */
export interface ClickApiOptions {
  /** Emits one message per click to the clicks topic, keyed by user. */
  readonly emitter: Emitter<string>;
  /** TCP port; 0 picks a free one (read it from `url`). */
  readonly port: number;
  readonly host: string;
  readonly logger: Logger;
}

/** A running click API. */
export interface ClickApi {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Stops accepting requests and lets in-flight ones finish. Idempotent. */
  close(): Promise<void>;
}

/** How long `close()` lets in-flight requests finish before it cuts their connections. */
const CLOSE_GRACE_MS = 5000;

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The write side of the service: `POST /click/<user>` emits a click and answers
 * `202 { user }` once the broker acknowledged it, so an accepted click is never lost;
 * it is counted shortly after (the read side is eventually consistent).
 *
 * An `Idempotency-Key` request header becomes the message ID (`toka-id`): a client that
 * retries a request it did not get an answer for sends the same key, and the
 * exactly-once processor counts the click once.
 *
 * @throws Error when the port cannot be listened on.
 */
export async function serveClicks(options: ClickApiOptions): Promise<ClickApi> {
  const { logger } = options;
  const server = createServer((req, res) => {
    route(options.emitter, req)
      .catch((error: unknown): Reply => {
        logger.error("a click could not be emitted", { error, url: req.url });
        return { status: 503, body: { error: "the click could not be stored; retry" } };
      })
      .then((reply) => send(res, reply))
      .catch(() => res.destroy());
  });
  const port = await listen(server, options.port, options.host);
  let closing: Promise<void> | undefined;
  return {
    url: `http://${options.host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const cutoff = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(cutoff);
          resolve();
        });
        // Keep-alive connections without a request in flight would hold close() open.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}

async function route(emitter: Emitter<string>, req: IncomingMessage): Promise<Reply> {
  // The body is not used; reading it keeps the connection reusable.
  req.resume();
  const path = new URL(req.url ?? "/", "http://clicks.invalid").pathname;
  const match = /^\/click\/([^/]+)$/.exec(path);
  if (!match) return { status: 404, body: { error: "not found; clicks go to POST /click/<user>" } };
  if (req.method !== "POST") {
    return { status: 405, body: { error: "use POST" }, headers: { allow: "POST" } };
  }
  let user: string;
  try {
    user = decodeURIComponent(match[1]!);
  } catch {
    return { status: 400, body: { error: "the user is not valid percent-encoded UTF-8" } };
  }
  const key = req.headers["idempotency-key"];
  const id = typeof key === "string" && key !== "" ? key : undefined;
  await emitter.emit(user, new Date().toISOString(), id === undefined ? {} : { id });
  return { status: 202, body: { user } };
}

function send(res: ServerResponse, reply: Reply) {
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    ...reply.headers,
  });
  res.end(body);
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
