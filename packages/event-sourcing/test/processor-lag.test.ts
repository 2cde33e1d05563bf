import { createAggregateTopics } from "@toka/event-sourcing";
import { Tester } from "@toka/testing";
import { expect, onTestFinished, test } from "vitest";
import { accountAggregate, commandCodec, summaryProjection } from "./account-fixture.js";

// Regression: a group reading a topic written in transactions (an aggregate's event log)
// never reported lag 0, because its input offset advanced past records only, not past
// the commit marker that ends each transaction.
test("a projection that has read its whole transactional log reports lag 0", async () => {
  const tester = new Tester();
  onTestFinished(() => tester.close());
  const account = accountAggregate("account");
  await createAggregateTopics(account, { client: tester.client, partitions: 1 });
  await tester.startProcessor(account.graph, { guarantee: "exactly-once-transactional" });
  const projection = await tester.startProcessor(summaryProjection("summaries", account).graph);
  await tester.emit(
    account.commandsTopic,
    "a",
    { type: "open", owner: "A" },
    { codec: commandCodec },
  );
  const input = projection
    .stats()
    .partitions[0]!.inputs.find((i) => i.topic === account.eventsTopic);
  expect(input?.lag).toBe(0);
});
