// toka example 1: an emitter writes clicks, a processor counts them per user in its
// group table, and a view reads the counts. Run it with `npm run demo` from the root.
import { consoleLogger } from "@toka/processor";
import { runExample } from "./clicks.js";

const brokers = (process.env.KAFKA_BROKERS ?? "127.0.0.1:19092").split(",");
const clicks = { alice: 3, bob: 5, carol: 2 };

console.log(`emitting ${JSON.stringify(clicks)} to "example-clicks" on ${brokers.join(",")}`);
const counts = await runExample({
  brokers,
  topic: "example-clicks",
  group: "example-click-counter",
  clicks,
  logger: consoleLogger("warn"),
});
console.log("clicks per user, read through a view of example-click-counter-table:", counts);
