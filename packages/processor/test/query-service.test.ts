import { request } from "node:http";
import { connect } from "node:net";
import { describe, expect, onTestFinished, test } from "vitest";
import {
  type ProcessorStatus,
  type QueryableView,
  type QueryService,
  type QueryServiceOptions,
  serveViews,
  silentLogger,
  TokaError,
  TokaErrorCode,
  type ViewIterateOptions,
  type ViewStatus,
} from "../src/index.js";

/** A view over a fixed map, for the routes. */
class MapView implements QueryableView {
  status: ViewStatus = "running";
  failGet: unknown;

  constructor(private readonly entries: Map<string, unknown>) {}

  async get(key: string): Promise<unknown> {
    if (this.failGet !== undefined) throw this.failGet;
    return this.entries.get(key);
  }

  async *iterate(options: ViewIterateOptions = {}): AsyncGenerator<[string, unknown]> {
    const keys = [...this.entries.keys()].sort();
    let n = 0;
    for (const key of keys) {
      if (options.prefix !== undefined && !key.startsWith(options.prefix)) continue;
      if (options.gt !== undefined && key <= options.gt) continue;
      if (n++ >= (options.limit ?? Number.POSITIVE_INFINITY)) return;
      yield [key, this.entries.get(key)];
    }
  }
}

async function serve(options: Partial<QueryServiceOptions> & Pick<QueryServiceOptions, "views">) {
  const service = await serveViews({ logger: silentLogger, ...options });
  onTestFinished(() => service.close());
  return service;
}

async function getJson(service: QueryService, path: string, init?: RequestInit) {
  const response = await fetch(`${service.url}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : JSON.parse(text), response };
}

describe("serveViews", () => {
  test("serves values, 404s, bigints and bytes as JSON", async () => {
    const view = new MapView(
      new Map<string, unknown>([
        ["alice", { total: 5 }],
        ["a/b c", "slash and space"],
        ["big", { n: 12345678901234567890n }],
        ["bytes", new Uint8Array([1, 2, 3])],
        ["ünï", 1],
      ]),
    );
    const service = await serve({ views: { balances: view } });
    expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    expect(await getJson(service, "/balances/alice")).toMatchObject({
      status: 200,
      body: { total: 5 },
    });
    const ok = await getJson(service, "/balances/alice");
    expect(ok.response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect((await getJson(service, "/balances/a%2Fb%20c")).body).toBe("slash and space");
    expect((await getJson(service, "/balances/a/b%20c")).body).toBe("slash and space");
    expect((await getJson(service, `/balances/${encodeURIComponent("ünï")}`)).body).toBe(1);
    expect((await getJson(service, "/balances/big")).body).toEqual({ n: "12345678901234567890" });
    expect((await getJson(service, "/balances/bytes")).body).toBe("AQID");

    const missing = await getJson(service, "/balances/bob");
    expect(missing.status).toBe(404);
    expect(missing.body.error).toContain('"bob"');
    const unknown = await getJson(service, "/nope/alice");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toContain("balances");
  });

  test("lists with limit, prefix and paging through next", async () => {
    const entries = new Map<string, unknown>();
    for (let i = 0; i < 25; i++) entries.set(`k${String(i).padStart(2, "0")}`, i);
    entries.set("other", -1);
    const service = await serve({ views: { t: new MapView(entries) }, defaultLimit: 10 });

    const first = await getJson(service, "/t?prefix=k");
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(10);
    expect(first.body.items[0]).toEqual({ key: "k00", value: 0 });
    expect(first.body.next).toBe("k09");
    const keys: string[] = [];
    let next: string | undefined;
    do {
      const page = await getJson(
        service,
        `/t?prefix=k&limit=7${next === undefined ? "" : `&after=${encodeURIComponent(next)}`}`,
      );
      keys.push(...page.body.items.map((i: { key: string }) => i.key));
      next = page.body.next;
    } while (next !== undefined);
    expect(keys).toEqual([...entries.keys()].filter((k) => k.startsWith("k")));
    expect((await getJson(service, "/t?limit=100")).body.items).toHaveLength(26);
    expect((await getJson(service, "/t?limit=26")).body.next).toBeUndefined();

    for (const bad of ["0", "-1", "abc", "1.5", "1001", ""]) {
      const reply = await getJson(service, `/t?limit=${bad}`);
      expect(reply.status, `limit=${bad}`).toBe(400);
      expect(reply.body.error).toContain('"limit"');
    }
    expect((await getJson(service, "/t?limt=5")).status).toBe(400);
  });

  test("health, readiness and views that are not running", async () => {
    const view = new MapView(new Map([["a", 1]]));
    view.status = "recovering";
    const service = await serve({ views: { v: view } });

    expect(await getJson(service, "/health")).toMatchObject({ status: 200 });
    expect(await getJson(service, "/ready")).toMatchObject({
      status: 503,
      body: { ready: false, views: { v: "recovering" } },
    });
    const notYet = await getJson(service, "/v/a");
    expect(notYet.status).toBe(503);
    expect(notYet.response.headers.get("retry-after")).toBe("1");
    view.status = "reconnecting";
    expect((await getJson(service, "/v/a")).body).toBe(1);
    expect((await getJson(service, "/ready")).status).toBe(503);
    view.status = "running";
    expect(await getJson(service, "/ready")).toMatchObject({
      status: 200,
      body: { ready: true, views: { v: "running" } },
    });
    expect((await getJson(service, "/")).body).toEqual({ views: { v: "running" } });
  });

  test("processors: ready only while running, not live once failed", async () => {
    const view = new MapView(new Map([["a", 1]]));
    const processor = { status: "recovering" as ProcessorStatus };
    const service = await serve({ views: { v: view }, processors: { bank: processor } });

    expect(await getJson(service, "/ready")).toMatchObject({
      status: 503,
      body: { ready: false, processors: { bank: "recovering" } },
    });
    expect(await getJson(service, "/health")).toMatchObject({ status: 200 });
    processor.status = "running";
    expect(await getJson(service, "/ready")).toMatchObject({
      status: 200,
      body: { ready: true, views: { v: "running" }, processors: { bank: "running" } },
    });
    processor.status = "failed";
    expect(await getJson(service, "/ready")).toMatchObject({ status: 503 });
    expect(await getJson(service, "/health")).toMatchObject({
      status: 503,
      body: { status: "down", processors: { bank: "failed" } },
    });
  });

  test("bad requests get 4xx, failing handlers 500, and the server keeps serving", async () => {
    const view = new MapView(new Map([["a", 1]]));
    const service = await serve({ views: { v: view } });

    const post = await getJson(service, "/v/a", { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.response.headers.get("allow")).toBe("GET, HEAD");
    const head = await fetch(`${service.url}/v/a`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await getJson(service, "/v/%E0%A4%A")).status).toBe(400);
    expect((await getJson(service, "/v/")).status).toBe(400);

    view.failGet = new TokaError(TokaErrorCode.DecodeFailed, "does not decode", { key: "a" });
    const failed = await getJson(service, "/v/a");
    expect(failed).toMatchObject({
      status: 500,
      body: { code: TokaErrorCode.DecodeFailed },
    });
    // The internals stay in the log: the answer names an id to look them up by.
    expect(failed.body.error).not.toContain("does not decode");
    expect(failed.body.error).toContain(failed.body.id);
    view.failGet = "not even an Error";
    expect((await getJson(service, "/v/a")).status).toBe(500);
    view.failGet = undefined;
    expect((await getJson(service, "/v/a")).body).toBe(1);

    // A request that is not HTTP is answered with 400 by Node, not a crash.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(service.port, "127.0.0.1", () => socket.write("NOT HTTP\r\n\r\n"));
      let data = "";
      socket.on("data", (chunk) => {
        data += chunk.toString();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect((await getJson(service, "/health")).status).toBe(200);
  });

  test("hardened: Host allow-list, bearer token, size limits, slow clients, fuzzed paths", async () => {
    const view = new MapView(new Map([["a", 1]]));
    const token = "s3cret-token-of-32-characters!!!";
    const service = await serve({ views: { v: view }, token, headersTimeoutMs: 500 });
    const raw = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port: service.port, path, headers }, (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode!, body }));
        });
        req.on("error", reject);
        req.end();
      });
    const auth = { authorization: `Bearer ${token}` };

    // DNS rebinding: a page of another name reaching this port is refused.
    expect((await raw("/v/a", { ...auth, host: "evil.example" })).status).toBe(403);
    expect((await raw("/v/a", { ...auth, host: `localhost:${service.port}` })).status).toBe(200);
    // The token, except on the probes.
    expect((await raw("/v/a")).status).toBe(401);
    expect((await raw("/v/a", { authorization: "Bearer wrong" })).status).toBe(401);
    expect((await raw("/health")).status).toBe(200);
    expect((await raw("/v/a", auth)).body).toBe("1");
    // Sizes: a huge header, a huge target.
    expect((await raw("/v/a", { ...auth, "x-big": "x".repeat(20_000) })).status).toBe(431);
    expect((await raw(`/v/${"a".repeat(5000)}`, auth)).status).toBe(414);
    // A slow client that never finishes its headers is cut off.
    const cut = await new Promise<string>((resolve) => {
      const socket = connect(service.port, "127.0.0.1", () =>
        socket.write("GET /v/a HTTP/1.1\r\nHost: 127.0.0.1\r\n"),
      );
      let data = "";
      socket.on("data", (c) => {
        data += c.toString();
      });
      socket.on("close", () => resolve(data));
    });
    expect(cut).toMatch(/^HTTP\/1\.1 408/);
    // Fuzzed paths: never a 500, and the service keeps serving.
    const seed = Number(process.env.TOKA_FUZZ_SEED ?? Date.now() % 2 ** 31);
    console.log(`query service fuzz seed ${seed} (rerun with TOKA_FUZZ_SEED=${seed})`);
    let state = seed >>> 0;
    const random = () => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const alphabet = Array.from("/%?&=#.~-_aZ09\u00e9\u{1F600}[]{}|\\^`\"' ");
    for (let i = 0; i < 200; i++) {
      const length = Math.floor(random() * 40);
      let path = "/";
      for (let j = 0; j < length; j++) path += alphabet[Math.floor(random() * alphabet.length)];
      const { status } = await raw(encodeURI(path).replace(/%25/g, "%"), auth).catch(() => ({
        status: 400,
      }));
      expect(status, `path ${JSON.stringify(path)}`).toBeLessThan(500);
    }
    expect((await raw("/v/a", auth)).body).toBe("1");
  }, 30_000);

  test("options are validated; a port in use is a clear error; close is idempotent", async () => {
    const view = new MapView(new Map());
    await expect(serveViews({ views: {} })).rejects.toThrow(/"views": give at least one view/);
    await expect(serveViews({ views: { health: view } })).rejects.toThrow(/taken/);
    await expect(serveViews({ views: { "a b": view } })).rejects.toThrow(/"views.a b"/);
    await expect(serveViews({ views: { v: view }, port: -1 })).rejects.toThrow(/"port"/);
    await expect(
      serveViews({ views: { v: view }, defaultLimit: 50, maxLimit: 10 }),
    ).rejects.toThrow(/"defaultLimit"/);

    const service = await serve({ views: { v: view } });
    await expect(serveViews({ views: { v: view }, port: service.port })).rejects.toMatchObject({
      code: TokaErrorCode.InvalidConfig,
      message: expect.stringContaining("in use"),
    });
    // A kept-alive connection does not hold close() up.
    expect((await getJson(service, "/health")).status).toBe(200);
    await Promise.all([service.close(), service.close()]);
    await expect(fetch(`${service.url}/health`)).rejects.toThrow();
  });
});
