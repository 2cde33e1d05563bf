import { type CliIo, main } from "@toka/cli";
import { brokers } from "./helpers.js";

/** Runs `toka <args>` in this process against the integration broker; returns its exit code and output. */
export async function toka(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (s) => void out.push(s), err: (s) => void err.push(s), errIsTTY: false };
  const code = await main(["node", "toka", "--brokers", brokers().join(","), ...args], io);
  return { code, out: out.join(""), err: err.join("") };
}
