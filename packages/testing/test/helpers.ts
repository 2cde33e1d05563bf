import { onTestFinished } from "vitest";
import { Tester, type TesterOptions } from "../src/index.js";

/** A tester closed when the test finishes. */
export function tester(options: TesterOptions = {}): Tester {
  const t = new Tester(options);
  onTestFinished(() => t.close());
  return t;
}
