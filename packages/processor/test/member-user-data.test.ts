import fc from "fast-check";
import { AssignerProtocol, type Cluster, type GroupMember } from "kafkajs";
import { describe, expect, test } from "vitest";
import { copartitionedAssigner } from "../src/client/copartitioned-assigner.js";
import {
  decodeAssignmentData,
  decodeSubscriptionData,
  encodeAssignmentData,
  encodeSubscriptionData,
  partitionOwners,
} from "../src/client/member-user-data.js";

const SEED = Number(process.env.TOKA_USER_DATA_SEED ?? 20261204);
console.log(`member user data property seed ${SEED} (rerun with TOKA_USER_DATA_SEED=${SEED})`);

describe("member user data", () => {
  test("a subscription of an older toka (a JSON array of owned partitions) still decodes", () => {
    expect(decodeSubscriptionData(Buffer.from("[0,3,5]"))).toEqual({ owned: [0, 3, 5] });
    expect(decodeSubscriptionData(Buffer.from("[]"))).toEqual({ owned: [] });
  });

  test("empty, foreign or corrupt user data reads as owning nothing, advertising nothing", () => {
    for (const bytes of ["", "{", "null", '"x"', "42", '{"owned":"0"}', '[-1, 1.5, "2"]']) {
      expect(decodeSubscriptionData(Buffer.from(bytes))).toEqual({ owned: [] });
    }
    expect(decodeSubscriptionData(undefined)).toEqual({ owned: [] });
    expect(decodeSubscriptionData(Buffer.from('{"owned":[1],"queryAddress":7}'))).toEqual({
      owned: [1],
    });
  });

  test("subscriptions round-trip, with and without stored partitions and an address", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.nat(1000), { maxLength: 64 }),
        fc
          .array(fc.tuple(fc.nat(1000), fc.nat(1_000_000)), { maxLength: 64 })
          .map((pairs) => new Map(pairs)),
        fc.option(fc.webUrl({ size: "xsmall" }), { nil: undefined }),
        (owned, stored, queryAddress) => {
          const decoded = decodeSubscriptionData(
            encodeSubscriptionData({ owned, stored, queryAddress }),
          );
          expect(decoded).toEqual({
            owned,
            ...(stored.size > 0 ? { stored } : {}),
            ...(queryAddress === undefined ? {} : { queryAddress }),
          });
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
    // About a second alone; a loaded two-core machine has taken over the default 5 s.
  }, 30_000);

  test("assignments round-trip; an assignment of an older toka (empty) has no owners", () => {
    const owners = {
      partitionCount: 4,
      addresses: new Map([
        [0, "http://a:1"],
        [3, "http://b:2"],
      ]),
    };
    expect(decodeAssignmentData(encodeAssignmentData({ owners, standby: [] }))).toEqual({
      owners,
      standby: [],
    });
    expect(decodeAssignmentData(encodeAssignmentData({ owners, standby: [2, 1] }))).toEqual({
      owners,
      standby: [1, 2],
    });
    // Standby partitions out of range are dropped.
    expect(
      decodeAssignmentData(Buffer.from('{"partitions":2,"owners":{},"standby":[1,2,-1,"x"]}')),
    ).toEqual({ owners: { partitionCount: 2, addresses: new Map() }, standby: [1] });
    expect(decodeAssignmentData(Buffer.alloc(0))).toBeUndefined();
    expect(decodeAssignmentData(Buffer.from("[1,2]"))).toBeUndefined();
    expect(decodeAssignmentData(Buffer.from('{"partitions":0,"owners":{}}'))).toBeUndefined();
    // Partitions out of range and non-address values are dropped, not trusted.
    expect(
      decodeAssignmentData(
        Buffer.from('{"partitions":2,"owners":{"0":"http://a:1","5":"http://b:2","x":"y","1":3}}'),
      ),
    ).toEqual({
      owners: { partitionCount: 2, addresses: new Map([[0, "http://a:1"]]) },
      standby: [],
    });
  });

  test("partition owners map each member's partitions to its address; none for a member without", () => {
    const owners = partitionOwners(
      new Map([
        ["m1", [0, 2]],
        ["m2", [1]],
        ["m3", [3]],
      ]),
      new Map([
        ["m1", { owned: [], queryAddress: "http://one:1" }],
        ["m2", { owned: [], queryAddress: "http://two:2" }],
        ["m3", { owned: [] }],
      ]),
      4,
    );
    expect(owners).toEqual({
      partitionCount: 4,
      addresses: new Map([
        [0, "http://one:1"],
        [2, "http://one:1"],
        [1, "http://two:2"],
      ]),
    });
  });
});

describe("copartitionedAssigner", () => {
  const cluster = {
    findTopicPartitionMetadata: () =>
      Array.from({ length: 6 }, (_, partitionId) => ({ partitionId })),
  } as unknown as Cluster;

  const member = (memberId: string, userData: Buffer): GroupMember => ({
    memberId,
    memberMetadata: AssignerProtocol.MemberMetadata.encode({
      version: 2,
      topics: ["in", "in-table"],
      userData,
    }),
  });

  test("gives every member the whole group's owners; an older member keeps its partitions", async () => {
    const assigner = copartitionedAssigner(() => [], "http://self:1")({ cluster } as never);
    const result = await assigner.assign({
      members: [
        // A member of an older toka: owned partitions only, no address.
        member("a-old", Buffer.from("[4,5]")),
        member("b", encodeSubscriptionData({ owned: [0, 1], queryAddress: "http://b:8080" })),
        member("c", encodeSubscriptionData({ owned: [], queryAddress: "http://c:8080" })),
      ],
      topics: ["in", "in-table"],
    });
    const decoded = new Map(
      result.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)!,
      ]),
    );
    expect(decoded.get("a-old")!.assignment.in).toEqual([4, 5]);
    expect(decoded.get("b")!.assignment.in).toEqual([0, 1]);
    expect(decoded.get("c")!.assignment.in).toEqual([2, 3]);
    const expected = {
      partitionCount: 6,
      addresses: new Map([
        [0, "http://b:8080"],
        [1, "http://b:8080"],
        [2, "http://c:8080"],
        [3, "http://c:8080"],
      ]),
    };
    for (const { userData } of decoded.values())
      expect(decodeAssignmentData(userData)).toEqual({ owners: expected, standby: [] });
  });

  test("gives a member the partitions it holds state of, from the member above its share", async () => {
    const assigner = copartitionedAssigner(() => [])({ cluster } as never);
    const result = await assigner.assign({
      members: [
        member(
          "b",
          encodeSubscriptionData({
            owned: [0, 1, 2, 3, 4, 5],
            stored: new Map([0, 1, 2, 3, 4, 5].map((p) => [p, 100])),
          }),
        ),
        // Restarted on its state directory: it holds 0 and 4 from before.
        member(
          "c",
          encodeSubscriptionData({
            owned: [],
            stored: new Map([
              [0, 95],
              [4, 99],
            ]),
          }),
        ),
      ],
      topics: ["in", "in-table"],
    });
    const shares = new Map(
      result.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)!.assignment.in,
      ]),
    );
    expect(shares.get("c")).toEqual([0, 4, 5]);
    expect(shares.get("b")).toEqual([1, 2, 3]);
  });

  test("advertises the member's owned partitions and address when it joins", () => {
    const assigner = copartitionedAssigner(() => [2, 7], "http://self:1")({ cluster } as never);
    const { metadata } = assigner.protocol({ topics: ["in"] });
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata)!;
    expect(decodeSubscriptionData(userData)).toEqual({
      owned: [2, 7],
      queryAddress: "http://self:1",
    });
  });

  test("advertises the partitions it holds state of, with the table offsets they reached", () => {
    const stored = new Map([
      [1, 40],
      [2, 700],
      [7, 12],
    ]);
    const assigner = copartitionedAssigner(
      () => [2, 7],
      undefined,
      () => stored,
    )({ cluster } as never);
    const { metadata } = assigner.protocol({ topics: ["in"] });
    const { userData } = AssignerProtocol.MemberMetadata.decode(metadata)!;
    expect(decodeSubscriptionData(userData)).toEqual({ owned: [2, 7], stored });
  });
});
