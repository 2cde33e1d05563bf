import { serveViews, silentLogger } from "@toka/processor";
import { describe, expect, it, onTestFinished } from "vitest";
import { createMonitor } from "../src/monitor.js";

const TOKEN = "a-token-of-sixteen-or-more";

/** A query service with a monitor; no broker is reached by these requests. */
async function service() {
  const monitor = createMonitor({ brokers: ["127.0.0.1:1"], logger: silentLogger });
  const served = await serveViews({ views: {}, monitor, token: TOKEN, logger: silentLogger });
  onTestFinished(async () => {
    await served.close();
    await monitor.close();
  });
  return served.url;
}

describe("monitor routes behind the query service's rules", () => {
  it("serves the page and its modules without the token: they carry no data", async () => {
    const url = await service();
    const page = await fetch(`${url}/monitor/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="importmap">');
    for (const file of [
      "app.js",
      "monitor.css",
      "vendor/preact.mjs",
      "vendor/hooks.mjs",
      "vendor/htm.mjs",
    ]) {
      const response = await fetch(`${url}/monitor/${file}`);
      expect(response.status, file).toBe(200);
    }
    expect((await fetch(`${url}/monitor/vendor/other.mjs`)).status).toBe(404);
    expect((await fetch(`${url}/monitor/../package.json`)).status).not.toBe(200);
  });

  it("redirects /monitor to /monitor/ so the page's relative URLs resolve", async () => {
    const url = await service();
    const response = await fetch(`${url}/monitor`, { redirect: "manual" });
    expect(response.status).toBe(308);
    expect(response.headers.get("location")).toBe("/monitor/");
  });

  it("answers the API only with the bearer token", async () => {
    const url = await service();
    const response = await fetch(`${url}/monitor/api/groups`);
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("refuses a Host that is not allowed, page and API alike (DNS rebinding)", async () => {
    const url = await service();
    const { request } = await import("node:http");
    const status = (path: string) =>
      new Promise<number | undefined>((resolve, reject) => {
        request(`${url}${path}`, { headers: { host: "evil.example" } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
          .on("error", reject)
          .end();
      });
    expect(await status("/monitor/")).toBe(403);
    expect(await status("/monitor/api/groups")).toBe(403);
  });

  it("answers an unknown API path with 404 without asking Kafka", async () => {
    const url = await service();
    const response = await fetch(`${url}/monitor/api/nothing`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(404);
  });
});
