import { setTimeout as delay } from "node:timers/promises";
import type { Message } from "./message.js";

/** Options of {@link generateLoad}. */
export interface LoadOptions {
  /** Base URL of the chat API. */
  readonly url: string;
  /** Users who chat with each other. Default alice, bob, carol, dave, erin. */
  readonly users?: readonly string[];
  /** A user who sends spam to the others and receives nothing. Default `mallory`. */
  readonly spammer?: string;
  /** Share of messages that are spam. Default 0.3. */
  readonly spamShare?: number;
  /** Pause between two messages in ms. Default 200. */
  readonly intervalMs?: number;
  /** Messages to send. Default: until `signal` aborts. */
  readonly count?: number;
  readonly signal?: AbortSignal;
  /** Random numbers in [0, 1). Default `Math.random`; pass a seeded one for repeatable runs. */
  readonly random?: () => number;
  /** Told about every message after the API took it (or refused it, with the error). */
  readonly onMessage?: (message: Message, error?: Error) => void;
}

const USERS = ["alice", "bob", "carol", "dave", "erin"];
const CHAT = [
  "hello my friend",
  "are you coming to lunch",
  "yes see you there",
  "hello you",
  "my train is late",
];
const SPAM = "cheap watches for you my friend";

/**
 * Sends chat traffic to the chat API: users write to each other at random, and a
 * spammer writes a share of all messages, which the spam detector should catch (the
 * spammer only sends, the others send about as much as they receive).
 * @returns the number of messages the API took and refused.
 */
export async function generateLoad(
  options: LoadOptions,
): Promise<{ sent: number; failed: number }> {
  const users = options.users ?? USERS;
  const spammer = options.spammer ?? "mallory";
  const random = options.random ?? Math.random;
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  let sent = 0;
  let failed = 0;
  while (sent + failed < count && !options.signal?.aborted) {
    let message: Message;
    if (random() < (options.spamShare ?? 0.3)) {
      message = { from: spammer, to: pick(users), content: SPAM };
    } else {
      const from = pick(users);
      message = { from, to: pick(users.filter((u) => u !== from)), content: pick(CHAT) };
    }
    try {
      const response = await fetch(`${options.url}/send/${encodeURIComponent(message.from)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ to: message.to, content: message.content }),
      });
      const body = await response.text();
      if (response.status !== 202) throw new Error(`HTTP ${response.status}: ${body}`);
      sent += 1;
      options.onMessage?.(message);
    } catch (error) {
      failed += 1;
      options.onMessage?.(message, error instanceof Error ? error : new Error(String(error)));
    }
    const intervalMs = options.intervalMs ?? 200;
    if (intervalMs > 0 && sent + failed < count) {
      await delay(intervalMs, undefined, { signal: options.signal }).catch(() => {});
    }
  }
  return { sent, failed };
}
