// The READMEs' commands work as written on a machine that ran `npm run demo`: every
// shell line starts with a command such a machine has (npm, npx, node, ..., never a
// global pnpm, tsx or toka), and each example's documented `npm run example` commands,
// taken from its README, run against the broker and do what the README says.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, onTestFinished, test } from "vitest";
import { brokers, uniqueName } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const readmes = [
  "README.md",
  ...["packages", "examples"].flatMap((dir) =>
    readdirSync(join(root, dir))
      .map((name) => `${dir}/${name}/README.md`)
      .filter((path) => existsSync(join(root, path))),
  ),
];
const examples = readdirSync(join(root, "examples")).sort();

/** Commands a machine has after `npm run demo` (Node, npm, Bash and curl). */
const AVAILABLE = new Set(["npm", "npx", "node", "bash", "curl", "docker", "export", "for"]);

/** The lines of a README's sh code blocks, comments removed. */
function shellLines(markdown: string): string[] {
  const lines: string[] = [];
  let inBlock = false;
  for (const line of markdown.split("\n")) {
    if (/^```(sh|bash|shell)\s*$/.test(line)) inBlock = true;
    else if (line.startsWith("```")) inBlock = false;
    else if (inBlock) {
      const command = withoutComment(line).trim();
      if (command) lines.push(command);
    }
  }
  return lines;
}

/** The line up to a `#` that starts a shell comment (outside quotes, after a blank). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** The program a shell line runs: its first word after variable assignments. */
function program(line: string): string {
  const words = line.split(/\s+/);
  while (words.length > 1 && /^[A-Za-z_][A-Za-z0-9_]*=\S*$/.test(words[0]!.replace(/;$/, ""))) {
    words.shift();
  }
  return words[0]!.replace(/;$/, "");
}

describe("every README command line starts with a command a fresh machine has", () => {
  test.each(readmes)("%s", (readme) => {
    const defined = new Set<string>();
    const missing: string[] = [];
    for (const line of shellLines(readFileSync(join(root, readme), "utf8"))) {
      const fn = /^([a-z][\w-]*)\(\)\s*\{/.exec(line);
      if (fn) defined.add(fn[1]!);
      else if (/=/.test(program(line)))
        continue; // assignments only, e.g. C=...; Q=...
      else if (!AVAILABLE.has(program(line)) && !defined.has(program(line))) missing.push(line);
    }
    expect(missing).toEqual([]);
  });
});

/** The `npm run example <name> [script]` lines of an example's README. */
function exampleCommands(name: string): { command: string; script: string }[] {
  const readme = readFileSync(join(root, "examples", name, "README.md"), "utf8");
  return shellLines(readme).flatMap((line) => {
    const match = /^npm run example (\S+)(?: (\S+))?$/.exec(line);
    if (!match) return [];
    expect(match[1], `${line} in examples/${name}/README.md`).toBe(name);
    return [{ command: line, script: match[2] ?? "start" }];
  });
}

test("the root README's examples table runs each example with its README's command", () => {
  const rows = readFileSync(join(root, "README.md"), "utf8")
    .split("\n")
    .filter((line) => line.startsWith("| ["));
  const table = rows.flatMap((row) => row.match(/`npm run example [^`]+`/g) ?? []);
  expect(table).toEqual(examples.map((name) => `\`npm run example ${name}\``));
  for (const name of examples) {
    const scripts = Object.keys(
      JSON.parse(readFileSync(join(root, "examples", name, "package.json"), "utf8")).scripts,
    );
    const documented = exampleCommands(name).map((c) => c.script);
    expect(documented, `examples/${name}/README.md`).toContain("start");
    for (const script of documented) expect(scripts).toContain(script);
  }
});

/** A documented command running in its own process group, as in a terminal. */
class Run {
  readonly child: ChildProcess;
  output = "";
  /** The top process's exit status, once every process holding its output is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private closed = false;

  constructor(command: string, env: Record<string, string>) {
    this.child = spawn("bash", ["-c", command], {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, KAFKA_BROKERS: brokers().join(","), ...env },
    });
    this.child.stdout!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
    });
    this.child.stderr!.on("data", (chunk: Buffer) => {
      this.output += chunk.toString("utf8");
    });
    // "close", not "exit": npm exits on Ctrl-C at once, the example after its shutdown.
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        this.closed = true;
        resolve({ code, signal });
      });
    });
    onTestFinished(() => {
      if (!this.closed) this.signal("SIGKILL");
    });
  }

  /** Resolves with the first match of `pattern` in the output; fails if the command ends first. */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.output.match(pattern);
      if (match) return match;
      if (this.closed || Date.now() > deadline) {
        throw new Error(`no ${pattern} in the output of the command:\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Signals the whole process group, as Ctrl-C in a terminal does. */
  signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // already gone
    }
  }

  /** Ctrl-C, then the example's graceful shutdown. */
  async interrupt(): Promise<void> {
    this.signal("SIGINT");
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`no exit after SIGINT:\n${this.output}`)), 60_000),
    );
    await Promise.race([this.exited, timeout]);
  }
}

/** Polls `url` until `accept` takes its JSON body. */
async function poll(url: string, accept: (body: unknown) => boolean): Promise<unknown> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const response = await fetch(url).catch(() => undefined);
    const body = response?.ok ? await response.json() : undefined;
    if (body !== undefined && accept(body)) return body;
    if (Date.now() > deadline) throw new Error(`${url} answered ${JSON.stringify(body)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function command(name: string, script: string): string {
  const found = exampleCommands(name).find((c) => c.script === script);
  if (!found) throw new Error(`examples/${name}/README.md documents no ${script} command`);
  return found.command;
}

const LONG = 300_000;

test("1-simplest: runs once and prints the counts", { timeout: LONG }, async () => {
  const run = new Run(command("1-simplest", "start"), {});
  expect(await run.exited).toEqual({ code: 0, signal: null });
  expect(run.output).toMatch(/clicks per user, read through a view .*: \{ alice: \d+/);
});

test("2-clicks: serves clicks and counts, stops on Ctrl-C", { timeout: LONG }, async () => {
  const service = new Run(command("2-clicks", "start"), {
    PORT: "0",
    QUERY_PORT: "0",
    CLICKS_TOPIC: uniqueName("readme-clicks"),
    CLICKS_GROUP: uniqueName("readme-counter"),
  });
  const [, clicks] = await service.waitFor(/clicks: POST (\S+)\/click\//);
  const [, counts] = await service.waitFor(/counts: GET (\S+)\/<user>/);
  for (let i = 0; i < 3; i++) {
    expect((await fetch(`${clicks}/click/alice`, { method: "POST" })).status).toBe(202);
  }
  await poll(`${counts}/alice`, (body) => (body as { clicks: number }).clicks === 3);
  await service.interrupt();
  expect(service.output).toContain("stopped");
});

test("3-messaging: the load generator's spammer is blocked", { timeout: LONG }, async () => {
  const service = new Run(command("3-messaging", "start"), {
    PORT: "0",
    QUERY_PORT: "0",
    NAME_SUFFIX: `-${uniqueName("readme")}`,
  });
  const [, api] = await service.waitFor(/send: +POST (\S+)\/send\//);
  const [, query] = await service.waitFor(/blocked: GET (\S+)\/blocked\//);
  const loadgen = new Run(command("3-messaging", "loadgen"), { CHAT_URL: api!, INTERVAL_MS: "20" });
  await poll(`${query}/blocked/mallory`, (body) => (body as { blocked: boolean }).blocked).catch(
    (error: Error) => {
      throw new Error(`${error.message}; the load generator printed:\n${loadgen.output}`);
    },
  );
  await loadgen.interrupt();
  expect(loadgen.output).toMatch(/sent [1-9]\d*, failed 0/);
  await service.interrupt();
  expect(service.output).toContain("stopped");
});

test("4-bank: the replay demonstration switches to an equal table", { timeout: LONG }, async () => {
  const service = new Run(command("4-bank", "start"), {
    PORT: "0",
    QUERY_PORT: "0",
    BANK_NAME: uniqueName("readme-account"),
  });
  const [ready] = await service.waitFor(/\{"event":"ready".*\}/);
  const { commands, query } = JSON.parse(ready) as { commands: string; query: string };
  const replay = new Run(command("4-bank", "replay"), {
    BANK_URL: commands,
    QUERY_URL: query,
    ACCOUNTS: "3",
    MOVES: "12",
  });
  expect(await replay.exited).toEqual({ code: 0, signal: null });
  expect(replay.output).toContain("the same: true");
  await service.interrupt();
});
