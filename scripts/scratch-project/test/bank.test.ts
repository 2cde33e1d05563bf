// @toka/testing's "complete first test" (its README), on the in-memory Tester.
import { jsonCodec } from "@toka/codec";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { Balance, bank, Deposit } from "../src/bank.js";

function tester() {
  const t = new Tester();
  onTestFinished(() => t.close());
  return t;
}

test("a deposit raises the balance and announces it", async () => {
  const t = tester();
  t.createTopic("deposits", 4);
  t.createTopic("balance-changed", 4);
  await t.startProcessor(bank);

  await t.emit("deposits", "alice", { amount: 5 }, { codec: jsonCodec(Deposit) });
  await t.emit("deposits", "alice", { amount: 2 }, { codec: jsonCodec(Deposit) });

  expect(await t.tableValue(bank, "alice")).toEqual({ total: 7 });
  const out = t.output("balance-changed", jsonCodec(Balance));
  expect(out.take(2).map((m) => m.value)).toEqual([{ total: 5 }, { total: 7 }]);
  out.expectEmpty();
});
