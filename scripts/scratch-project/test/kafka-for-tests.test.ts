// Testcontainers is an optional peer of @toka/testing, not installed here: kafkaForTests
// must still load, use the fallback, and say how to install it when there is none.
import { kafkaForTests } from "@toka/testing";
import { expect, test } from "vitest";

const envVar = "TOKA_SCRATCH_UNSET_BROKERS";

test("without Testcontainers kafkaForTests uses the fallback", async () => {
  const kafka = await kafkaForTests({
    envVar,
    fallback: async () => ({ brokers: ["127.0.0.1:1"], stop: async () => {} }),
  });
  expect(kafka.source).toBe("fallback");
  expect(kafka.brokers).toEqual(["127.0.0.1:1"]);
});

test("without Testcontainers and a fallback kafkaForTests says how to install it", async () => {
  await expect(kafkaForTests({ envVar })).rejects.toThrow(
    "Testcontainers is not installed (npm install -D testcontainers @testcontainers/kafka)",
  );
});
