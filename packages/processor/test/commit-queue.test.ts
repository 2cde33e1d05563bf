import { expect, test } from "vitest";
import type { TopicPartitionOffset } from "../src/client/kafka-client.js";
import { CommitQueue } from "../src/commit-queue.js";
import { silentLogger } from "../src/logger.js";
import { ManualClock } from "./manual-clock.js";

/** A coordinator whose commit answers the test gives, one request at a time. */
function queue() {
  const clock = new ManualClock();
  const sent: string[] = [];
  const answers: { ok: () => void; fail: (error: Error) => void }[] = [];
  const events: string[] = [];
  const commits = new CommitQueue({
    group: "g",
    partition: 3,
    logger: silentLogger,
    clock,
    commit: (offsets: readonly TopicPartitionOffset[]) => {
      sent.push(offsets.map((o) => `${o.topic}@${o.offset}`).join(","));
      return new Promise<void>((ok, fail) => answers.push({ ok, fail }));
    },
    emit: (event: string, ..._args: unknown[]) => {
      events.push(event);
    },
  });
  const answer = async (outcome: "ok" | Error) => {
    const next = answers.shift()!;
    if (outcome === "ok") next.ok();
    else next.fail(outcome);
    // Lets the queue see the answer and send what is due next.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  const at = (topic: string, offset: string) => ({ topic, partition: 3, offset });
  return { clock, commits, sent, events, answer, at };
}

test("one commit at a time; positions that queue meanwhile merge into the newest per topic", async () => {
  const { commits, sent, answer, at } = queue();
  commits.commitLater(at("a", "10"));
  commits.commitLater(at("a", "20"));
  commits.commitLater(at("a", "15"));
  commits.commitLater(at("b", "5"));
  expect(sent).toEqual(["a@10"]);
  await answer("ok");
  expect(sent).toEqual(["a@10", "a@20"]);
  await answer("ok");
  expect(sent).toEqual(["a@10", "a@20", "b@5"]);
  await answer("ok");
  await commits.settled();
  expect(sent).toHaveLength(3);
});

test("a failed commit is sent again after a backoff that doubles, with the newest position", async () => {
  const { clock, commits, sent, events, answer, at } = queue();
  commits.commitLater(at("a", "10"));
  await answer(new Error("coordinator moved"));
  expect(clock.pending()).toEqual([1_000]);
  commits.commitLater(at("a", "12"));
  // A newer position is sent at once; its failure keeps the one retry already scheduled.
  expect(sent).toEqual(["a@10", "a@12"]);
  await answer(new Error("still moving"));
  expect(clock.pending()).toEqual([1_000]);
  clock.advance(999);
  expect(sent).toHaveLength(2);
  clock.advance(1);
  expect(sent).toEqual(["a@10", "a@12", "a@12"]);
  await answer(new Error("again"));
  expect(clock.pending()).toEqual([2_000]);
  clock.advance(2_000);
  await answer("ok");
  expect(sent.at(-1)).toBe("a@12");
  expect(events).toEqual([
    "offsets.commit-failed",
    "offsets.commit-failed",
    "offsets.commit-failed",
    "offsets.committed",
  ]);
});

test("a closed queue sends no more retries", async () => {
  const { clock, commits, sent, answer, at } = queue();
  commits.commitLater(at("a", "10"));
  await answer(new Error("coordinator moved"));
  commits.close();
  expect(clock.pending()).toEqual([]);
  clock.advance(60_000);
  expect(sent).toEqual(["a@10"]);
});

test("a closed queue sends nothing queued before or after: a flush that ends after its partition was revoked commits nothing", async () => {
  const { commits, sent, answer, at } = queue();
  commits.commitLater(at("a", "10"));
  commits.commitLater(at("b", "4"));
  commits.close();
  // The commit in flight is answered; what was due behind it stays unsent.
  await answer("ok");
  commits.commitLater(at("a", "30"));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  expect(sent).toEqual(["a@10"]);
});

test("a retry that finds nothing due (a newer position was committed meanwhile) leaves the queue sending later positions", async () => {
  const { clock, commits, sent, answer, at } = queue();
  commits.commitLater(at("a", "10"));
  await answer(new Error("the group is rebalancing"));
  commits.commitLater(at("a", "20"));
  await answer("ok");
  // The retry of a@10 fires with nothing due.
  clock.advance(1_000);
  for (let i = 0; i < 5; i++) await Promise.resolve();
  commits.commitLater(at("a", "30"));
  expect(sent).toEqual(["a@10", "a@20", "a@30"]);
  await answer("ok");
  await commits.settled();
});
