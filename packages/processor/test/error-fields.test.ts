import { describe, expect, test } from "vitest";
import { errorFields } from "../src/error-fields.js";
import { TokaError, TokaErrorCode } from "../src/errors.js";

describe("errorFields", () => {
  test("keeps the code, the coordinates and the cause chain down to the refused connection", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:29093"), {
      code: "ECONNREFUSED",
      address: "127.0.0.1",
      port: 29093,
    });
    const kafka = Object.assign(new Error("Connection error"), {
      name: "KafkaJSConnectionError",
      retriable: true,
      broker: "127.0.0.1:29093",
      cause: refused,
    });
    const error = new TokaError(TokaErrorCode.ProduceFailed, "producing the batch failed", {
      group: "bank",
      topic: "deposits",
      partition: 3,
      offset: "42",
      key: "alice",
      cause: kafka,
      retriable: true,
    });
    expect(errorFields(error)).toEqual({
      name: "TokaError",
      message:
        'producing the batch failed [group=bank topic=deposits partition=3 offset=42 key="alice"]',
      code: "TOKA_PRODUCE_FAILED",
      retriable: true,
      group: "bank",
      topic: "deposits",
      partition: 3,
      offset: "42",
      key: "alice",
      cause: {
        name: "KafkaJSConnectionError",
        message: "Connection error",
        retriable: true,
        broker: "127.0.0.1:29093",
        cause: {
          name: "Error",
          message: "connect ECONNREFUSED 127.0.0.1:29093",
          code: "ECONNREFUSED",
          broker: "127.0.0.1:29093",
        },
      },
    });
  });

  test("a cause that is not an Error is kept as text; a cyclic chain stops", () => {
    const error = new Error("outer", { cause: "plain text" });
    expect(errorFields(error)).toEqual({ name: "Error", message: "outer", cause: "plain text" });
    const cyclic = new Error("self");
    (cyclic as { cause?: unknown }).cause = cyclic;
    expect(JSON.stringify(errorFields(cyclic))).toContain('"message":"self"');
  });
});
