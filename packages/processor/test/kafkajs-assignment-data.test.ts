import { AssignerProtocol, type GroupDescription } from "kafkajs";
import { describe, expect, test } from "vitest";
import { readAssignmentData } from "../src/client/kafkajs-assignment-data.js";
import { encodeAssignmentData } from "../src/client/member-user-data.js";

const data = {
  owners: { partitionCount: 2, addresses: new Map([[0, "http://a:1"]]) },
  standby: [1],
};

function described(state: GroupDescription["state"]): GroupDescription {
  return {
    groupId: "g",
    state,
    protocol: "TokaCopartitioned",
    protocolType: "consumer",
    members: [
      {
        memberId: "me",
        clientId: "c",
        clientHost: "h",
        memberMetadata: Buffer.alloc(0),
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 2,
          assignment: { in: [0] },
          userData: encodeAssignmentData(data),
        }),
      },
    ],
  };
}

/** A consumer whose describeGroup answers with each of `answers` in turn (an Error throws). */
function consumerAnswering(answers: (GroupDescription | Error)[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    describeGroup: async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
}

describe("readAssignmentData", () => {
  test("reads through failed requests and a group still rebalancing", async () => {
    const consumer = consumerAnswering([
      new Error("coordinator moved"),
      new Error("connection reset"),
      described("CompletingRebalance"),
      described("Stable"),
    ]);
    const read = await readAssignmentData(consumer, "me", () => true, { firstRetryDelayMs: 1 });
    expect(read).toEqual(data);
    expect(consumer.calls).toBe(4);
  });

  test("gives up at the deadline, and as soon as a newer join supersedes the read", async () => {
    const failing = consumerAnswering([new Error("down")]);
    expect(
      await readAssignmentData(failing, "me", () => true, {
        deadlineMs: 500,
        firstRetryDelayMs: 10,
      }),
    ).toBeUndefined();
    expect(failing.calls).toBeGreaterThan(1);
    let current = true;
    const superseded = consumerAnswering([new Error("down")]);
    const reading = readAssignmentData(superseded, "me", () => current, { firstRetryDelayMs: 5 });
    current = false;
    expect(await reading).toBeUndefined();
    expect(superseded.calls).toBe(1);
  });
});
