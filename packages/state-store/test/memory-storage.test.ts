import { describe, expect, it } from "vitest";
import { memoryStorage, StorageErrorCode } from "../src/index.js";
import { bytes, openStorage, text, throwsWith } from "./helpers.js";
import { storageContract } from "./storage-contract.js";

storageContract("memoryStorage", { create: () => memoryStorage(), onDisk: false });

describe("memoryStorage", () => {
  it("keeps a partition's data per factory: a new factory starts empty", async () => {
    const factory = memoryStorage();
    const storage = await openStorage(factory);
    await storage.write({ puts: [["a", bytes("1")]] });
    await storage.close();
    expect(text(await (await openStorage(factory)).get("a"))).toBe("1");
    expect(await (await openStorage(memoryStorage())).get("a")).toBeUndefined();
  });

  it("drop() deletes one partition's data, and refuses while it is open", async () => {
    const factory = memoryStorage();
    const storage = await openStorage(factory, "t", 0);
    const other = await openStorage(factory, "t", 1);
    await storage.write({
      puts: [["a", bytes("1")]],
      checkpoint: { tableOffset: "1", inputOffsets: {} },
    });
    await other.write({ puts: [["b", bytes("2")]] });
    const error = throwsWith(() => factory.drop("t", 0), StorageErrorCode.Locked);
    expect(error.message).toContain('topic "t" partition 0');
    await storage.close();
    factory.drop("t", 0);
    factory.drop("t", 7);
    await storage.open();
    expect(await storage.get("a")).toBeUndefined();
    expect(await storage.checkpoint()).toBeUndefined();
    expect(text(await other.get("b"))).toBe("2");
  });

  it("dropAll() deletes every partition, and refuses while any is open", async () => {
    const factory = memoryStorage();
    const a = await openStorage(factory, "t", 0);
    const b = await openStorage(factory, "u", 0);
    await a.write({ puts: [["a", bytes("1")]] });
    await b.write({ puts: [["b", bytes("2")]] });
    await a.close();
    throwsWith(() => factory.dropAll(), StorageErrorCode.Locked);
    expect(text(await b.get("b"))).toBe("2");
    await b.close();
    factory.dropAll();
    await a.open();
    await b.open();
    expect(await a.get("a")).toBeUndefined();
    expect(await b.get("b")).toBeUndefined();
  });

  it("has no path and reports no bytes on disk", async () => {
    const storage = await openStorage(memoryStorage());
    expect(storage.path).toBeUndefined();
    expect((await storage.stats()).bytesOnDisk).toBeUndefined();
  });
});
