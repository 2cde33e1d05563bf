import { describe, expect, expectTypeOf, onTestFinished, test } from "vitest";
import {
  type KeyLocation,
  type QueryableView,
  queryClient,
  serveViews,
  silentLogger,
  TokaErrorCode,
  type ViewStatus,
} from "../src/index.js";

interface Balance {
  total: number;
}

/** Answers 503 (rebalancing) for the first `unknownFor` reads, then locally. */
class SettlingView implements QueryableView {
  status: ViewStatus = "running";
  reads = 0;
  constructor(
    private readonly entries: Map<string, unknown>,
    private readonly unknownFor: number,
  ) {}
  locate(): KeyLocation {
    return this.reads++ < this.unknownFor
      ? { kind: "unavailable", reason: "rebalancing; retry", retriable: true }
      : { kind: "local", instance: "http://owner:1" };
  }
  async get(key: string): Promise<unknown> {
    return this.entries.get(key);
  }
  async *iterate(): AsyncGenerator<[string, unknown]> {}
}

async function serve(view: QueryableView, token?: string) {
  const service = await serveViews({
    logger: silentLogger,
    views: { balances: view },
    ...(token ? { token } : {}),
  });
  onTestFinished(() => service.close());
  return service;
}

describe("queryClient", () => {
  test("reads a typed value and names the instance that answered", async () => {
    const service = await serve(new SettlingView(new Map([["alice", { total: 5 }]]), 0));
    const client = queryClient<{ balances: Balance }>(service.url);
    const answer = await client.get("balances", "alice");
    expect(answer).toEqual({ found: true, value: { total: 5 }, answeredBy: "http://owner:1" });
    if (answer.found) expectTypeOf(answer.value).toEqualTypeOf<Balance>();
    expect(await client.get("balances", "bob")).toEqual({
      found: false,
      answeredBy: "http://owner:1",
    });
    // @ts-expect-error: a view the client was not typed with
    await expect(client.get("others", "alice")).rejects.toMatchObject({
      code: TokaErrorCode.QueryFailed,
      message: expect.stringContaining('no view "others"'),
    });
  });

  test("tries again while the owner is unknown, and gives up after its attempts", async () => {
    const view = new SettlingView(new Map([["alice", { total: 5 }]]), 3);
    const service = await serve(view);
    const client = queryClient<{ balances: Balance }>(service.url, { maxRetryDelayMs: 10 });
    expect(await client.get("balances", "alice")).toMatchObject({ found: true });
    expect(view.reads).toBe(4);

    const stuck = await serve(new SettlingView(new Map(), Number.POSITIVE_INFINITY));
    const impatient = queryClient(stuck.url, { attempts: 3, maxRetryDelayMs: 10 });
    await expect(impatient.get("balances", "alice")).rejects.toMatchObject({
      code: TokaErrorCode.QueryFailed,
      retriable: true,
      message: expect.stringMatching(/answered 503 .* after 3 attempts: rebalancing; retry/),
    });
  });

  test("parses values with the given parser and sends the token", async () => {
    const token = "a-token-of-sixteen-chars";
    const service = await serve(new SettlingView(new Map([["alice", { total: "5" }]]), 0), token);
    const client = queryClient<{ balances: Balance }>(service.url, {
      token,
      parse: { balances: (json) => ({ total: Number((json as { total: string }).total) }) },
    });
    expect(await client.get("balances", "alice")).toMatchObject({ value: { total: 5 } });
    await expect(queryClient(service.url).get("balances", "alice")).rejects.toMatchObject({
      message: expect.stringContaining("answered 401"),
    });
  });
});
