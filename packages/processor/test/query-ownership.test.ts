import { describe, expect, test } from "vitest";
import { defaultPartition } from "../src/client/default-partitioner.js";
import { QueryOwnership } from "../src/query-ownership.js";

describe("QueryOwnership", () => {
  test("a key's owner is the address of its murmur2 partition's owner", () => {
    const ownership = new QueryOwnership("http://a:1");
    expect(ownership.ownerOf("alice")).toBeUndefined();
    expect(ownership.partitionOf("alice")).toBeUndefined();
    const addresses = new Map([
      [0, "http://a:1"],
      [1, "http://b:1"],
      [2, "http://c:1"],
    ]);
    ownership.update({ partitionCount: 3, addresses });
    for (const key of ["alice", "bob", "carol", "dave", "ünï", ""]) {
      const partition = defaultPartition(key, 3);
      expect(ownership.partitionOf(key)).toBe(partition);
      expect(ownership.ownerOf(key)).toBe(addresses.get(partition));
    }
  });

  test("during a rebalance owners are unknown, the partition count stays known", () => {
    const ownership = new QueryOwnership();
    ownership.update({ partitionCount: 4, addresses: new Map([[0, "http://a:1"]]) });
    ownership.update(undefined);
    expect(ownership.owners).toBeUndefined();
    expect(ownership.ownerOf("alice")).toBeUndefined();
    expect(ownership.partitionOf("alice")).toBe(defaultPartition("alice", 4));
  });
});
