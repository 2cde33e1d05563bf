import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

/** A file the monitor page loads. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
}

/**
 * The page's modules by their URL: Preact and htm straight from this package's
 * dependencies, ES modules an import map names, so the page needs no bundler and no
 * CDN (monitors often run where there is no internet).
 */
const VENDOR: Readonly<Record<string, string>> = {
  "preact.mjs": "preact",
  "hooks.mjs": "preact/hooks",
  "htm.mjs": "htm",
};

const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: "./vendor/preact.mjs",
    "preact/hooks": "./vendor/hooks.mjs",
    htm: "./vendor/htm.mjs",
  },
});

/** The page's Content-Security-Policy: its own files, and the one inline import map by hash. */
export const PAGE_POLICY = `default-src 'self'; script-src 'self' 'sha256-${createHash("sha256").update(IMPORT_MAP).digest("base64")}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>toka monitor</title>
<link rel="stylesheet" href="./monitor.css">
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="./app.js"></script>
</head>
<body><main id="app">Loading…</main></body>
</html>
`;

const TYPES: Readonly<Record<string, string>> = {
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** Reads the page's files once, on first request. */
export class MonitorAssets {
  private readonly cache = new Map<string, Promise<Asset | undefined>>();

  /** The file at `name` (`""` is the page); `undefined` for none. */
  get(name: string): Promise<Asset | undefined> {
    let asset = this.cache.get(name);
    if (!asset) {
      asset = load(name);
      this.cache.set(name, asset);
    }
    return asset;
  }
}

async function load(name: string): Promise<Asset | undefined> {
  if (name === "") {
    return { body: Buffer.from(PAGE), contentType: "text/html; charset=utf-8" };
  }
  const type = TYPES[name.slice(name.lastIndexOf(".") + 1)];
  let file: string | undefined;
  if (name.startsWith("vendor/")) {
    const specifier = VENDOR[name.slice("vendor/".length)];
    if (specifier) file = fileURLToPath(import.meta.resolve(specifier));
  } else if (/^[a-z-]+\.(js|css)$/.test(name)) {
    file = fileURLToPath(new URL(`../public/${name}`, import.meta.url));
  }
  if (file === undefined || type === undefined) return undefined;
  try {
    return { body: await readFile(file), contentType: type };
  } catch {
    return undefined;
  }
}
