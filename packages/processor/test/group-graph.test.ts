import { jsonCodec, stringCodec } from "@toka/codec";
import { describe, expect, expectTypeOf, test } from "vitest";
import { z } from "zod";
import {
  type Context,
  defineGroup,
  join,
  lookup,
  loop,
  output,
  persist,
  TokaError,
} from "../src/index.js";

const Deposit = z.object({ amount: z.number() });
const Balance = z.object({ total: z.number() });
type Balance = z.infer<typeof Balance>;

describe("defineGroup types", () => {
  test("ctx.value() is the persisted type and emits are checked against declared outputs", () => {
    const graph = defineGroup("bank", {
      persist: persist(jsonCodec(Balance)),
      outputs: [output("balance-changed", jsonCodec(Balance)), output("audit", stringCodec)],
      joins: [join("limits-table", jsonCodec(z.object({ max: z.number() })))],
      lookups: [lookup("fx-table", stringCodec)],
      loop: loop(jsonCodec(Deposit)),
      inputs: ({ input, loop: fromLoop }) => [
        input("deposits", jsonCodec(Deposit), async (ctx, deposit) => {
          expectTypeOf(deposit).toEqualTypeOf<{ amount: number }>();
          expectTypeOf(ctx.value()).toEqualTypeOf<Balance | undefined>();
          expectTypeOf(ctx.join("limits-table")).toEqualTypeOf<{ max: number } | undefined>();
          expectTypeOf(await ctx.lookup("fx-table", "eur")).toEqualTypeOf<string | undefined>();
          ctx.setValue({ total: 1 });
          ctx.emit("balance-changed", ctx.key, { total: 1 });
          ctx.emit("audit", ctx.key, "deposit");
          ctx.loopback("other", { amount: 1 });
          // @ts-expect-error an undeclared output does not compile
          ctx.emit("nowhere", ctx.key, { total: 1 });
          // @ts-expect-error a value of the wrong type for the output does not compile
          ctx.emit("balance-changed", ctx.key, "not a balance");
          // @ts-expect-error the table holds Balance values
          ctx.setValue({ total: "1" });
          // @ts-expect-error the loop carries deposits
          ctx.loopback("other", { total: 1 });
          // @ts-expect-error only declared joins
          ctx.join("other-table");
        }),
        fromLoop((ctx, deposit) => {
          expectTypeOf(deposit).toEqualTypeOf<{ amount: number }>();
          expectTypeOf(ctx).toMatchTypeOf<Context<Balance, unknown, unknown, unknown, unknown>>();
        }),
      ],
    });
    expect(graph.tableTopic).toBe("bank-table");
    expect(graph.loopTopic).toBe("bank-loop");
    expect(graph.deadLetterTopic).toBe("bank-dlq");
    expect([...graph.outputs.keys()]).toEqual(["balance-changed", "audit"]);
  });

  test("a stateless group has no table to set", () => {
    defineGroup("relay", {
      outputs: [output("out", stringCodec)],
      inputs: ({ input }) => [
        input("in", stringCodec, (ctx, message) => {
          ctx.emit("out", ctx.key, message);
          // @ts-expect-error no persist: nothing can be stored
          ctx.setValue("x");
        }),
      ],
    });
  });
});

describe("defineGroup validation", () => {
  const inputs =
    (...topics: string[]) =>
    ({ input }: { input: (t: string, c: typeof stringCodec, cb: () => void) => never }) =>
      topics.map((t) => input(t, stringCodec, () => {}));

  const cases: [string, () => unknown, string][] = [
    ["no inputs", () => defineGroup("g", { inputs: () => [] }), "at least one input"],
    [
      "an invalid name",
      () => defineGroup("bad name", { inputs: inputs("a") as never }),
      "the name must be",
    ],
    [
      "an input twice",
      () => defineGroup("g", { inputs: inputs("a", "a") as never }),
      'input "a" is declared twice',
    ],
    [
      "its own table as input",
      () => defineGroup("g", { inputs: inputs("g-table") as never }),
      "is one of the group's own topics",
    ],
    [
      "an input that is also an output",
      () => defineGroup("g", { outputs: [output("a", stringCodec)], inputs: inputs("a") as never }),
      "both an input and an output",
    ],
    [
      "a loop callback without a loop codec",
      () =>
        defineGroup("g", {
          inputs: ({ input, loop: l }) => [input("a", stringCodec, () => {}), l(() => {})],
        }),
      "no loop codec",
    ],
    [
      "a loop codec without a callback",
      () => defineGroup("g", { loop: loop(stringCodec), inputs: inputs("a") as never }),
      "no loop callback",
    ],
    [
      "a table joined and looked up",
      () =>
        defineGroup("g", {
          joins: [join("t", stringCodec)],
          lookups: [lookup("t", stringCodec)],
          inputs: inputs("a") as never,
        }),
      "both joined and looked up",
    ],
  ];
  test.each(cases)(
    "%s is a TOKA_INVALID_CONFIG error that says what to change",
    (_, define, message) => {
      let error: unknown;
      try {
        define();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(TokaError);
      expect(error).toMatchObject({ code: "TOKA_INVALID_CONFIG" });
      expect((error as Error).message).toContain(message);
    },
  );
});
