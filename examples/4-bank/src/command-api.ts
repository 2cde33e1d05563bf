import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import type { AggregateClient, CommandOutcome } from "@toka/event-sourcing";
import { isTokaError } from "@toka/processor";
import { z } from "zod";
import {
  type AccountCommand,
  AccountCommandSchema,
  type AccountEvent,
} from "./gen/bank/v1/account_pb.js";

/** What the command API does besides commands. */
export interface AdminHooks {
  /** Starts rebuilding the balances; resolves with what the status route shows. */
  startRebuild(): Promise<unknown>;
  /** The state of the last rebuild. */
  rebuildStatus(): unknown;
}

/** A running command API. */
export interface CommandApi {
  readonly url: string;
  close(): Promise<void>;
}

const Amount = z.object({ amountCents: z.number().int().positive() });
const Open = z.object({ owner: z.string().min(1) });
const ACCOUNT_ROUTE = /^\/accounts\/([^/]+)\/(open|deposit|withdraw)$/;

/**
 * The bank's write side over HTTP:
 * - `POST /accounts/<id>/open` `{"owner":"Alice"}`, `.../deposit` and `.../withdraw`
 *   `{"amountCents":500}`: 200 `{ status: "accepted", version, events }` or 409
 *   `{ status: "rejected", code, reason }`. `Idempotency-Key` becomes the command ID
 *   (a retry is applied once); `If-Match: <version>` makes the command expect that
 *   account version (a stale one is a 409 `version-conflict`).
 * - `POST /admin/rebuild`: rebuilds the balances from the event log into a new table
 *   and switches the query service to it (202); `GET /admin/rebuild`: its progress.
 */
export async function serveCommands(options: {
  readonly client: AggregateClient<AccountCommand, AccountEvent>;
  readonly admin: AdminHooks;
  readonly host: string;
  readonly port: number;
}): Promise<CommandApi> {
  const server = createServer((req, res) => {
    handle(options, req, res).catch((error: unknown) => {
      reply(res, isTokaError(error) && error.code === "TOKA_TIMEOUT" ? 504 : 500, {
        error: (error as Error).message,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function handle(
  options: Parameters<typeof serveCommands>[0],
  req: IncomingMessage,
  res: ServerResponse,
) {
  const path = new URL(req.url ?? "/", "http://bank.invalid").pathname;
  if (path === "/admin/rebuild") {
    if (req.method === "POST") return reply(res, 202, await options.admin.startRebuild());
    return reply(res, 200, options.admin.rebuildStatus());
  }
  const route = ACCOUNT_ROUTE.exec(path);
  if (!route || req.method !== "POST") {
    return reply(res, 404, { error: "POST /accounts/<id>/open|deposit|withdraw" });
  }
  const id = decodeURIComponent(route[1]!);
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req)) || "{}");
  } catch {
    return reply(res, 400, { error: "the body is not JSON" });
  }
  let command: AccountCommand;
  if (route[2] === "open") {
    const parsed = Open.safeParse(body);
    if (!parsed.success) return reply(res, 400, { error: 'expected {"owner": "<name>"}' });
    command = create(AccountCommandSchema, {
      command: { case: "open", value: { owner: parsed.data.owner } },
    });
  } else {
    const parsed = Amount.safeParse(body);
    if (!parsed.success)
      return reply(res, 400, { error: 'expected {"amountCents": <positive integer>}' });
    const value = { amountCents: BigInt(parsed.data.amountCents) };
    command = create(AccountCommandSchema, {
      command: route[2] === "deposit" ? { case: "deposit", value } : { case: "withdraw", value },
    });
  }
  const idempotencyKey = req.headers["idempotency-key"];
  const ifMatch = req.headers["if-match"];
  const outcome = await options.client.execute(id, command, {
    ...(typeof idempotencyKey === "string" ? { id: idempotencyKey } : {}),
    ...(typeof ifMatch === "string" && /^\d+$/.test(ifMatch)
      ? { expectedVersion: Number(ifMatch) }
      : {}),
  });
  return reply(res, outcome.status === "accepted" ? 200 : 409, describe(outcome));
}

function describe(outcome: CommandOutcome<AccountEvent>) {
  if (outcome.status === "rejected") {
    return { status: "rejected", code: outcome.rejection.code, reason: outcome.rejection.reason };
  }
  return {
    status: "accepted",
    version: outcome.version,
    events: outcome.events.map((e) => e.meta.type),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(text);
}
