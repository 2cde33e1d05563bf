import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Emitter, Logger } from "@toka/processor";
import { z } from "zod";
import type { BlockCommand } from "./blocker.js";
import type { Message } from "./message.js";

/** The emitters the chat API writes with, one per input topic. */
export interface ChatEmitters {
  readonly sent: Emitter<Message>;
  readonly blockUser: Emitter<BlockCommand>;
  readonly translateWord: Emitter<string>;
}

/** Options of {@link serveChat}. */
export interface ChatApiOptions {
  readonly emitters: ChatEmitters;
  /** TCP port; 0 picks a free one (read it from `url`). */
  readonly port: number;
  readonly host: string;
  readonly logger: Logger;
}

/** A running chat API. */
export interface ChatApi {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  /** Stops accepting requests and lets in-flight ones finish. Idempotent. */
  close(): Promise<void>;
}

const SendBody = z.object({ to: z.string().min(1), content: z.string().max(10_000) });
const TranslateBody = z.object({ translation: z.string().min(1) });
/** Largest request body read; chat messages are small. */
const MAX_BODY_BYTES = 64 * 1024;
/** How long `close()` lets in-flight requests finish before it cuts their connections. */
const CLOSE_GRACE_MS = 5000;

interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/** A request the client got wrong: answered with its status and message. */
class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The write side of the chat service. Every route is a `POST` that emits one message
 * and answers `202` once the broker acknowledged it; its effects show in the query
 * service shortly after.
 *
 * - `POST /send/<from>` with `{ "to": "bob", "content": "hello" }` → `message-sent`
 * - `POST /block/<user>`, `POST /unblock/<user>` → `block-user`
 * - `POST /translate/<word>` with `{ "translation": "hallo" }` → `translate-word`
 *
 * @throws Error when the port cannot be listened on.
 */
export async function serveChat(options: ChatApiOptions): Promise<ChatApi> {
  const { logger } = options;
  const server = createServer((req, res) => {
    route(options.emitters, req)
      .catch((error: unknown): Reply => {
        if (error instanceof RequestError) {
          return { status: error.status, body: { error: error.message } };
        }
        logger.error("a chat request failed", { error, url: req.url });
        return { status: 503, body: { error: "the request could not be stored; retry" } };
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

async function route(emitters: ChatEmitters, req: IncomingMessage): Promise<Reply> {
  const path = new URL(req.url ?? "/", "http://chat.invalid").pathname;
  const match = /^\/(send|block|unblock|translate)\/([^/]+)$/.exec(path);
  if (!match) {
    req.resume();
    return {
      status: 404,
      body: {
        error:
          "not found; use POST /send/<from>, /block/<user>, /unblock/<user>, /translate/<word>",
      },
    };
  }
  if (req.method !== "POST") {
    req.resume();
    return { status: 405, body: { error: "use POST" }, headers: { allow: "POST" } };
  }
  const action = match[1]!;
  const subject = decodeSegment(match[2]!);
  switch (action) {
    case "send": {
      const { to, content } = parseBody(SendBody, await readBody(req));
      await emitters.sent.emit(subject, { from: subject, to, content });
      return { status: 202, body: { from: subject, to } };
    }
    case "translate": {
      const { translation } = parseBody(TranslateBody, await readBody(req));
      await emitters.translateWord.emit(subject, translation);
      return { status: 202, body: { word: subject, translation } };
    }
    default: {
      req.resume();
      const block = action === "block";
      await emitters.blockUser.emit(subject, { block });
      return { status: 202, body: { user: subject, block } };
    }
  }
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new RequestError(400, "the path is not valid percent-encoded UTF-8");
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES)
      throw new RequestError(413, `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody<T>(schema: z.ZodType<T>, text: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RequestError(400, "the body is not JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new RequestError(400, `invalid body field "${issue.path.join(".")}": ${issue.message}`);
  }
  return parsed.data;
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
