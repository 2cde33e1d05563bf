import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** The brokers a benchmark runs against: `KAFKA_BROKERS`, or the local broker it starts. */
export function benchBrokers(): string[] {
  const list =
    process.env.KAFKA_BROKERS ??
    execFileSync(
      "bash",
      [fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url)), "start"],
      {
        encoding: "utf8",
      },
    )
      .trim()
      .split("\n")
      .at(-1)!;
  return list.split(",");
}
