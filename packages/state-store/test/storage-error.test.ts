import { describe, expect, it } from "vitest";
import { isStorageError, StorageError, StorageErrorCode, TOKA_ERROR_BRAND } from "../src/index.js";

describe("StorageError", () => {
  it("carries code, retriable, coordinates, cause and the shared toka brand", () => {
    const cause = Object.assign(new Error("IO error: lock"), { code: "LEVEL_LOCKED" });
    const error = new StorageError(StorageErrorCode.Locked, "locked", {
      topic: "bank-table",
      partition: 3,
      path: "/state/bank-table.3",
      retriable: true,
      cause,
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("StorageError");
    expect(error.code).toBe("STORAGE_LOCKED");
    expect(error.retriable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error[TOKA_ERROR_BRAND]).toBe(true);
    expect(TOKA_ERROR_BRAND).toBe(Symbol.for("toka.error"));
    expect({ ...error }).toMatchObject({
      topic: "bank-table",
      partition: 3,
      path: "/state/bank-table.3",
    });
  });

  it("defaults to not retriable, without path or cause", () => {
    const error = new StorageError(StorageErrorCode.InvalidArgument, "bad option");
    expect(error.retriable).toBe(false);
    expect(error.topic).toBeUndefined();
    expect(error.partition).toBeUndefined();
    expect("path" in error).toBe(false);
    expect("cause" in error).toBe(false);
  });

  it("has the closed set of codes", () => {
    expect(Object.values(StorageErrorCode).sort()).toEqual([
      "STORAGE_CLOSED",
      "STORAGE_CORRUPT",
      "STORAGE_INVALID_ARGUMENT",
      "STORAGE_IO",
      "STORAGE_LOCKED",
    ]);
  });
});

describe("isStorageError", () => {
  it("recognizes storage errors by name and code, also from another copy of the package", () => {
    expect(isStorageError(new StorageError(StorageErrorCode.Closed, "closed"))).toBe(true);
    const foreign = Object.assign(new Error("closed"), {
      name: "StorageError",
      code: "STORAGE_CLOSED",
    });
    expect(isStorageError(foreign)).toBe(true);
  });

  it("rejects everything else", () => {
    for (const value of [
      new Error("x"),
      Object.assign(new Error("x"), { name: "StorageError", code: "LEVEL_LOCKED" }),
      Object.assign(new Error("x"), { name: "CodecError", code: "STORAGE_CLOSED" }),
      { name: "StorageError" },
      null,
      undefined,
      "StorageError",
      42,
    ]) {
      expect(isStorageError(value)).toBe(false);
    }
  });
});
