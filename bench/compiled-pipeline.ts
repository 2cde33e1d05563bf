import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

/**
 * Compiles the pipeline process (processor-pipeline.ts and what it imports) to
 * bench/dist and returns the script to run: a deployed application runs compiled
 * JavaScript, and a TypeScript loader in the measured process costs it about 37 MB of
 * RSS and its start-up time.
 */
export function compiledPipeline(): string {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const project = fileURLToPath(new URL("./tsconfig.pipeline.json", import.meta.url));
  execFileSync(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
  return fileURLToPath(new URL("./dist/processor-pipeline.js", import.meta.url));
}
