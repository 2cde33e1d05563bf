// Sends chat traffic to a running messaging service (`npm run example 3-messaging`)
// until Ctrl-C: users chatting, and a spammer the detector should block within a few
// seconds.
// CHAT_URL (default http://127.0.0.1:8080) and INTERVAL_MS (default 200) change it.
import { generateLoad } from "./load-generator.js";

const url = process.env.CHAT_URL ?? "http://127.0.0.1:8080";
const intervalMs = Number(process.env.INTERVAL_MS ?? 200);
const controller = new AbortController();
process.once("SIGINT", () => controller.abort());
process.once("SIGTERM", () => controller.abort());

console.log(`sending to ${url} every ${intervalMs} ms; Ctrl-C stops`);
const { sent, failed } = await generateLoad({
  url,
  intervalMs,
  signal: controller.signal,
  onMessage: (m, error) =>
    console.log(`${m.from} -> ${m.to}: ${m.content}${error ? ` (failed: ${error.message})` : ""}`),
});
console.log(`sent ${sent}, failed ${failed}`);
