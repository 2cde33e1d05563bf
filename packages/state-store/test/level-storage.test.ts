import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { Level } from "level";
import { describe, expect, it } from "vitest";
import {
  LEVEL_STORAGE_DEFAULTS,
  type LevelStorageOptions,
  levelStorage,
  type Storage,
  StorageErrorCode,
  StorageStatus,
} from "../src/index.js";
import {
  bytes,
  entries,
  exited,
  openStorage,
  rejectsWith,
  spawnFixture,
  tempDir,
  text,
  throwsWith,
  waitForLine,
} from "./helpers.js";
import { storageContract } from "./storage-contract.js";

storageContract("levelStorage", {
  create: async () => levelStorage({ path: await tempDir() }),
  onDisk: true,
});

/** A storage with some values and a checkpoint, closed again; returns its directory. */
async function filledDirectory(root: string, keys = 10): Promise<string> {
  const storage = levelStorage({ path: root })("bank-table", 0);
  await storage.open();
  await storage.write({
    puts: Array.from(
      { length: keys },
      (_, i) => [`k${i}`, bytes(`value ${i} `.repeat(10))] as const,
    ),
    checkpoint: { tableOffset: "10", inputOffsets: { deposits: "10" } },
  });
  await storage.close();
  return storage.path!;
}

/** Expects `open()` to fail with `code`, with a message naming the path and saying how to recover. */
async function expectOpenFails(storage: Storage, code: StorageErrorCode): Promise<void> {
  const error = await rejectsWith(storage.open(), code);
  expect(error.path).toBe(storage.path);
  expect(error.topic).toBe("bank-table");
  expect(error.partition).toBe(0);
  expect(error.retriable).toBe(false);
  expect(error.message).toContain(storage.path);
  expect(error.message).toContain("storage.destroy()");
  expect(error.message).toContain("rebuilt from the table topic");
  expect(storage.status).toBe(StorageStatus.Closed);
}

/** Wipes a storage that failed to open, and checks it then opens empty. */
async function expectRecoverable(storage: Storage): Promise<void> {
  await storage.destroy!();
  await storage.open();
  expect(await storage.checkpoint()).toBeUndefined();
  expect(await entries(storage.iterate())).toEqual([]);
  await storage.close();
}

describe("levelStorage", () => {
  describe("layout and options", () => {
    it("keeps each partition in <path>/<topic>.<partition>", async () => {
      const root = await tempDir();
      const factory = levelStorage({ path: root });
      const storage = await openStorage(factory, "bank-table", 7);
      expect(storage.path).toBe(join(root, "bank-table.7"));
      expect(factory.location("bank-table", 7)).toBe(storage.path);
      expect(existsSync(join(root, "bank-table.7", "CURRENT"))).toBe(true);
      expect(await readdir(root)).toEqual(["bank-table.7"]);
    });

    it("resolves a relative path once and applies the documented defaults", () => {
      const factory = levelStorage({ path: "state" });
      expect(factory.options).toEqual({
        ...LEVEL_STORAGE_DEFAULTS,
        path: join(process.cwd(), "state"),
      });
      expect(relative(process.cwd(), factory.location("t", 0))).toBe(join("state", "t.0"));
      expect(Object.isFrozen(factory.options)).toBe(true);
    });

    it("rejects invalid options with STORAGE_INVALID_ARGUMENT naming the option", () => {
      const cases: [unknown, string][] = [
        [undefined, "options object"],
        [{}, '"path"'],
        [{ path: "" }, '"path"'],
        [{ path: "s", cacheSize: -1 }, '"cacheSize"'],
        [{ path: "s", writeBufferSize: 1.5 }, '"writeBufferSize"'],
        [{ path: "s", blockSize: "4k" }, '"blockSize"'],
        [{ path: "s", maxOpenFiles: 2 ** 32 }, '"maxOpenFiles"'],
        [{ path: "s", maxFileSize: 0 }, '"maxFileSize"'],
        [{ path: "s", compression: "yes" }, '"compression"'],
        [{ path: "s", sync: 1 }, '"sync"'],
      ];
      for (const [options, name] of cases) {
        const error = throwsWith(
          () => levelStorage(options as LevelStorageOptions),
          StorageErrorCode.InvalidArgument,
        );
        expect(error.message).toContain(name);
        expect(error.topic).toBeUndefined();
      }
    });

    it("writes with sync and custom LevelDB options", async () => {
      const root = await tempDir();
      const factory = levelStorage({
        path: root,
        sync: true,
        cacheSize: 1024 * 1024,
        writeBufferSize: 64 * 1024,
        compression: false,
      });
      const storage = await openStorage(factory);
      await storage.write({
        puts: Array.from({ length: 2000 }, (_, i) => [`k${i}`, bytes("x".repeat(100))] as const),
        checkpoint: { tableOffset: "1", inputOffsets: {} },
      });
      const stats = await storage.stats();
      expect(stats.keys).toBe(2000);
      expect(stats.bytesOnDisk).toBeGreaterThan(200_000);
    });
  });

  describe("durability", () => {
    it("keeps data for a new factory over the same path", async () => {
      const root = await tempDir();
      await filledDirectory(root);
      const storage = await openStorage(levelStorage({ path: root }), "bank-table", 0);
      expect((await storage.stats()).keys).toBe(10);
      expect(await storage.checkpoint()).toEqual({
        tableOffset: "10",
        inputOffsets: { deposits: "10" },
      });
    });

    it("finishes a clear() that a crash interrupted", async () => {
      const root = await tempDir();
      const path = await filledDirectory(root);
      // What clear() leaves behind when the process dies right after its first batch.
      const raw = new Level<string, Uint8Array>(path, { valueEncoding: "view" });
      await raw.batch([
        { type: "put", key: "m/clearing", value: new Uint8Array(0) },
        { type: "del", key: "m/checkpoint" },
      ]);
      await raw.close();
      const storage = await openStorage(levelStorage({ path: root }), "bank-table", 0);
      expect(await entries(storage.iterate())).toEqual([]);
      expect(await storage.checkpoint()).toBeUndefined();
      await storage.write({ puts: [["a", bytes("1")]] });
      await storage.close();
      await storage.open();
      expect(await entries(storage.iterate())).toEqual([["a", "1"]]);
    });
  });

  describe("bad situations", () => {
    it("reports a partition locked by another process as STORAGE_LOCKED naming the path", async () => {
      const root = await tempDir();
      const child = spawnFixture("hold-lock.ts", [root, "bank-table", "0"]);
      await waitForLine(child, (line) => line === "ready");
      const storage = levelStorage({ path: root })("bank-table", 0);
      const error = await rejectsWith(storage.open(), StorageErrorCode.Locked);
      expect(error.path).toBe(storage.path);
      expect(error.message).toContain(storage.path);
      expect(error.message).toContain("another process");
      expect(error.retriable).toBe(true);
      expect((error.cause as { cause?: { code?: string } }).cause?.code).toBe("LEVEL_LOCKED");
      await rejectsWith(storage.destroy!(), StorageErrorCode.Locked);
      // The kernel drops the lock of a killed process.
      child.kill("SIGKILL");
      await exited(child);
      await storage.open();
      await storage.close();
    });

    it("reports garbage in CURRENT as STORAGE_CORRUPT that says how to recover", async () => {
      const path = await filledDirectory(await tempDir());
      await writeFile(join(path, "CURRENT"), "this is not a manifest name");
      const storage = levelStorage({ path: join(path, "..") })("bank-table", 0);
      await expectOpenFails(storage, StorageErrorCode.Corrupt);
      const error = await rejectsWith(storage.open(), StorageErrorCode.Corrupt);
      expect((error.cause as { cause?: { code?: string } }).cause?.code).toBe("LEVEL_CORRUPTION");
      await expectRecoverable(storage);
    });

    it("reports a garbage MANIFEST as STORAGE_CORRUPT", async () => {
      const path = await filledDirectory(await tempDir());
      const manifest = (await readdir(path)).find((name) => name.startsWith("MANIFEST-"))!;
      await writeFile(join(path, manifest), Buffer.alloc(300, 0x5a));
      const storage = levelStorage({ path: join(path, "..") })("bank-table", 0);
      await expectOpenFails(storage, StorageErrorCode.Corrupt);
      await expectRecoverable(storage);
    });

    it("reports a damaged table file as STORAGE_CORRUPT on read", async () => {
      const root = await tempDir();
      const path = await filledDirectory(root, 5000);
      // Reopening turns the log into a table file.
      const storage = levelStorage({ path: root })("bank-table", 0);
      await storage.open();
      await storage.close();
      const tables = (await readdir(path)).filter((name) => name.endsWith(".ldb"));
      expect(tables).toHaveLength(1);
      // Damage data blocks in the middle only; the first block (with the format marker),
      // the index and the footer stay intact, so open() succeeds and reads fail.
      const table = join(path, tables[0]!);
      const data = await readFile(table);
      data.fill(0x5a, Math.floor(data.length * 0.4), Math.floor(data.length * 0.7));
      await writeFile(table, data);
      await storage.open();
      expect(text(await storage.get("k0"))).toContain("value 0");
      const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
      const error = await rejectsWith(storage.getMany(keys), StorageErrorCode.Corrupt);
      expect((error.cause as { code?: string }).code).toBe("LEVEL_CORRUPTION");
      expect(error.message).toContain(path);
      expect(error.message).toContain("storage.destroy()");
      await rejectsWith(entries(storage.iterate()), StorageErrorCode.Corrupt);
      await expectRecoverable(storage);
    });

    it("reports a path that is a file as STORAGE_IO that says how to recover", async () => {
      const root = await tempDir();
      await writeFile(join(root, "bank-table.0"), "not a directory");
      const storage = levelStorage({ path: root })("bank-table", 0);
      await expectOpenFails(storage, StorageErrorCode.Io);
      await expectRecoverable(storage);
    });

    it("refuses a LevelDB directory it did not write, as STORAGE_CORRUPT", async () => {
      const root = await tempDir();
      const raw = new Level(join(root, "bank-table.0"));
      await raw.put("some-goka-key", "value");
      await raw.close();
      const storage = levelStorage({ path: root })("bank-table", 0);
      await expectOpenFails(storage, StorageErrorCode.Corrupt);
      const error = await rejectsWith(storage.open(), StorageErrorCode.Corrupt);
      expect(error.message).toContain("did not write");
      await expectRecoverable(storage);
    });

    it("refuses a state format it does not know, as STORAGE_CORRUPT", async () => {
      const path = await filledDirectory(await tempDir());
      const raw = new Level(path);
      await raw.put("m/format", "99");
      await raw.close();
      const storage = levelStorage({ path: join(path, "..") })("bank-table", 0);
      const error = await rejectsWith(storage.open(), StorageErrorCode.Corrupt);
      expect(error.message).toContain('"99"');
      await expectRecoverable(storage);
    });

    it("reports an unreadable checkpoint record as STORAGE_CORRUPT", async () => {
      const path = await filledDirectory(await tempDir());
      const raw = new Level<string, Uint8Array>(path, { valueEncoding: "view" });
      await raw.put("m/checkpoint", new Uint8Array([1, 200]));
      await raw.close();
      const storage = await openStorage(levelStorage({ path: join(path, "..") }), "bank-table", 0);
      const error = await rejectsWith(storage.checkpoint(), StorageErrorCode.Corrupt);
      expect(error.message).toContain("checkpoint");
      expect(text(await storage.get("k1"))).toContain("value 1");
    });
  });
});
