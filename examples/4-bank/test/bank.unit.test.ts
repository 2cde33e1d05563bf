import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { createAggregateTopics, rejectionCodec } from "@toka/event-sourcing";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { accountAggregate, accountCommandCodec } from "../src/account.js";
import { balancesProjection } from "../src/balances.js";
import { type AccountCommand, AccountCommandSchema } from "../src/gen/bank/v1/account_pb.js";

const command = (init: NonNullable<MessageInitShape<typeof AccountCommandSchema>["command"]>) =>
  create(AccountCommandSchema, { command: init });

test("accounts decide protobuf events, reject overdrafts and feed the balance projection", async () => {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  const balances = balancesProjection(account);
  await createAggregateTopics(account, { client: tester.client, partitions: 2 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  await tester.startProcessor(balances.graph, { guarantee: "exactly-once" });
  const send = (value: AccountCommand, id: string) =>
    tester.emit(account.commandsTopic, "alice", value, { codec: accountCommandCodec, id });

  await send(command({ case: "open", value: { owner: "Alice" } }), "c1");
  await send(command({ case: "deposit", value: { amountCents: 500n } }), "c2");
  await send(command({ case: "withdraw", value: { amountCents: 700n } }), "c3");
  await send(command({ case: "withdraw", value: { amountCents: 200n } }), "c4");

  expect(tester.messages(account.eventsTopic).map((m) => m.headers["toka-event-type"])).toEqual([
    "opened",
    "deposited",
    "withdrawn",
  ]);
  expect(tester.messages(account.rejectionsTopic, rejectionCodec).map((m) => m.value)).toEqual([
    {
      commandId: "c3",
      code: "insufficient-funds",
      reason: "insufficient funds: the balance is 500 cents, the withdrawal 700",
      version: 2,
    },
  ]);
  const snapshot = await tester.tableValue(account.graph, "alice");
  expect(snapshot?.version).toBe(3);
  expect(snapshot?.state.balanceCents).toBe(300n);
  expect(await tester.tableValue(balances.graph, "alice")).toEqual({
    owner: "Alice",
    balance: 300,
    deposits: 1,
    withdrawals: 1,
  });
});
