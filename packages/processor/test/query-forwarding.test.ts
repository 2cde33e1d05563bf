import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  type KeyLocation,
  MAX_QUERY_HOPS,
  type QueryableView,
  QueryHeader,
  type QueryService,
  type QueryServiceOptions,
  serveViews,
  silentLogger,
  type ViewStatus,
} from "../src/index.js";

/** A partitioned view: the keys it holds, and where the others are. */
class PartitionedView implements QueryableView {
  status: ViewStatus = "running";
  constructor(
    readonly entries: Map<string, unknown>,
    public where: (key: string) => KeyLocation,
  ) {}
  locate(key: string): KeyLocation {
    return this.where(key);
  }
  async get(key: string): Promise<unknown> {
    return this.entries.get(key);
  }
  async *iterate(): AsyncGenerator<[string, unknown]> {
    yield* [...this.entries].sort(([a], [b]) => (a < b ? -1 : 1));
  }
}

async function serve(options: QueryServiceOptions): Promise<QueryService> {
  const service = await serveViews({ logger: silentLogger, ...options });
  onTestFinished(() => service.close());
  return service;
}

async function read(service: QueryService, path: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${service.url}${path}`, { headers });
  return {
    status: response.status,
    body: JSON.parse(await response.text()) as unknown,
    answeredBy: response.headers.get(QueryHeader.AnsweredBy),
    retryAfter: response.headers.get("retry-after"),
  };
}

describe("query service forwarding", () => {
  test("a key another instance owns is forwarded to it, and the answer names the owner", async () => {
    const owner = await serve({
      views: {
        t: new PartitionedView(new Map([["alice", { total: 5 }]]), () => ({
          kind: "local",
          instance: "http://owner.example:1",
        })),
      },
    });
    const front = await serve({
      views: {
        t: new PartitionedView(new Map([["bob", 1]]), (key) =>
          key === "bob" ? { kind: "local" } : { kind: "remote", address: owner.url },
        ),
      },
    });
    expect(await read(front, "/t/alice")).toEqual({
      status: 200,
      body: { total: 5 },
      answeredBy: "http://owner.example:1",
      retryAfter: null,
    });
    // A missing key is the owner's 404, relayed.
    expect(await read(front, "/t/nobody")).toMatchObject({
      status: 404,
      answeredBy: "http://owner.example:1",
    });
    // Local keys are answered here, named by this service's url (no advertised address).
    expect(await read(front, "/t/bob")).toMatchObject({
      status: 200,
      body: 1,
      answeredBy: front.url,
    });
  });

  test("keys with slashes, spaces and non-ASCII characters survive the forward", async () => {
    const keys = ["a/b c", "ünï", "%41", "x?y#z"];
    const owner = await serve({
      views: {
        t: new PartitionedView(new Map(keys.map((k) => [k, `value of ${k}`])), () => ({
          kind: "local",
        })),
      },
    });
    const front = await serve({
      views: {
        t: new PartitionedView(new Map(), () => ({ kind: "remote", address: owner.url })),
      },
    });
    for (const key of keys) {
      const answer = await read(front, `/t/${encodeURIComponent(key)}`);
      expect(answer).toMatchObject({ status: 200, body: `value of ${key}`, answeredBy: owner.url });
    }
  });

  test(`two instances pointing at each other stop after ${MAX_QUERY_HOPS} hops with a 503`, async () => {
    const view = new PartitionedView(new Map(), () => ({ kind: "remote", address: "" }));
    const a = await serve({ views: { t: view } });
    const viewB = new PartitionedView(new Map(), () => ({ kind: "remote", address: a.url }));
    const b = await serve({ views: { t: viewB } });
    view.where = () => ({ kind: "remote", address: b.url });
    const answer = await read(a, "/t/alice");
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe("1");
    expect(answer.body).toEqual({
      error: expect.stringContaining(`forwarded ${MAX_QUERY_HOPS} times`),
      retriable: true,
    });
    // A malformed hop count is the client's mistake.
    expect((await read(a, "/t/alice", { [QueryHeader.Hops]: "many" })).status).toBe(400);
  });

  test("an unknown owner (rebalancing) and an owner that does not answer are 503 with Retry-After", async () => {
    const view = new PartitionedView(new Map(), () => ({
      kind: "unavailable",
      reason: "group g is rebalancing; retry",
      retriable: true,
    }));
    const service = await serve({ views: { t: view } });
    expect(await read(service, "/t/alice")).toEqual({
      status: 503,
      body: { error: "group g is rebalancing; retry", retriable: true },
      answeredBy: service.url,
      retryAfter: "1",
    });
    view.where = () => ({ kind: "unavailable", reason: "no address", retriable: false });
    expect(await read(service, "/t/alice")).toMatchObject({
      status: 503,
      body: { retriable: false },
      retryAfter: null,
    });
    // A port nobody listens on: the owner is gone.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    view.where = () => ({ kind: "remote", address: `http://127.0.0.1:${port}` });
    const gone = await read(service, "/t/alice");
    expect(gone).toMatchObject({ status: 503, retryAfter: "1" });
    expect((gone.body as { error: string }).error).toMatch(/did not answer.*retry/);
  });

  test("the bearer token travels with the forward", async () => {
    const token = "a-token-of-sixteen-chars";
    const owner = await serve({
      token,
      views: { t: new PartitionedView(new Map([["k", 1]]), () => ({ kind: "local" })) },
    });
    const front = await serve({
      token,
      views: { t: new PartitionedView(new Map(), () => ({ kind: "remote", address: owner.url })) },
    });
    const auth = { authorization: `Bearer ${token}` };
    expect(await read(front, "/t/k", auth)).toMatchObject({ status: 200, body: 1 });
    expect((await read(front, "/t/k")).status).toBe(401);
  });
});
