import { execFile, execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { adminClient, awaitLeaders, waitUntil } from "./helpers.js";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Whether the three-node cluster tests run: they start three more JVMs and kill them.
 * `TOKA_CLUSTER_TESTS=0` skips them.
 */
export const clusterTests = process.env.TOKA_CLUSTER_TESTS !== "0";

/**
 * Starts the three-node cluster of scripts/kafka.sh (RF 3, min ISR 2) and returns its
 * brokers. Harmless when all three nodes run; a cluster with a dead node is started
 * afresh (formatted), so each test gets a whole cluster.
 */
export async function startCluster(): Promise<string[]> {
  const { stdout } = await run("bash", [script, "start", "cluster"], { timeout: 300_000 });
  return stdout.trim().split("\n").at(-1)!.split(",");
}

/** Stops the cluster, unless TOKA_KEEP_CLUSTER=1 keeps it (and its topics) to look at. */
export async function stopCluster(): Promise<void> {
  if (process.env.TOKA_KEEP_CLUSTER === "1") return;
  await run("bash", [script, "stop", "cluster"], { timeout: 120_000 });
}

/** SIGKILLs one node (1 to 3): no controlled shutdown, no flushed log. */
export async function killNode(id: number): Promise<void> {
  const pidFile = `${process.env.TOKA_KAFKA_CACHE ?? `${root}/.cache/kafka`}/run/cluster/node-${id}/pid`;
  process.kill(Number((await readFile(pidFile, "utf8")).trim()), "SIGKILL");
}

/**
 * SIGKILLs one node (1 to 3) through `kafka.sh kill-node` and returns once it is gone:
 * synchronous, for a callback that must kill at an exact point (a fold at its n-th event).
 */
export function killNodeNow(id: number): void {
  execFileSync("bash", [script, "kill-node", String(id)], { stdio: "ignore", timeout: 60_000 });
}

/**
 * Starts a killed node again on its data directory (`kafka.sh restart-node`, not the
 * formatting `start`) and resolves once it answers; it then rejoins with its log.
 */
export async function restartNode(id: number): Promise<void> {
  await run("bash", [script, "restart-node", String(id)], { timeout: 300_000 });
}

/**
 * Creates RF 3 topics on the cluster and waits until every broker's metadata shows a
 * leader for each of their partitions (toka's own wait, `waitForTopicLeaders`): right
 * after creation (or a node's restart) a broker may still answer "does not host this
 * topic-partition".
 */
export async function createClusterTopics(
  brokers: readonly string[],
  topics: readonly string[],
  partitions: number,
): Promise<void> {
  const admin = await adminClient(brokers);
  await waitUntil(`topics ${topics.join(", ")} created`, async () => {
    // kafkajs's own wait (its default) asks one broker, which may not know the topics yet.
    await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 3 })),
    });
    return true;
  });
  await awaitLeaders(topics, brokers);
}
