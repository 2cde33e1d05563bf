// Checks packed @toka/* tarballs (scripts/pack.sh) before anyone installs them: real
// versions instead of workspace:*, the publishing fields, the root LICENSE, and every
// file the exports name. Usage: node scripts/check-tarballs.mjs <tarball>...
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const workspace = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const license = readFileSync(join(root, "LICENSE"), "utf8");
const tarballs = process.argv.slice(2);
const problems = [];

if (tarballs.length === 0) problems.push("no tarballs given");
for (const tarball of tarballs) {
  const files = new Set(execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).split("\n"));
  const read = (path) =>
    execFileSync("tar", ["-xzOf", tarball, `package/${path}`], { encoding: "utf8" });
  const pkg = JSON.parse(read("package.json"));
  const problem = (what) => problems.push(`${pkg.name ?? tarball}: ${what}`);

  const source = join(root, pkg.repository?.directory ?? "-", "package.json");
  if (!existsSync(source))
    problem(`repository.directory ${pkg.repository?.directory} is no package`);
  else if (JSON.parse(readFileSync(source, "utf8")).name !== pkg.name)
    problem(`repository.directory ${pkg.repository.directory} holds another package`);
  if (pkg.repository?.url !== workspace.repository.url)
    problem(`repository.url is ${pkg.repository?.url}, not ${workspace.repository.url}`);
  if (pkg.license !== "Apache-2.0") problem(`license is ${pkg.license}`);
  if (pkg.engines?.node !== workspace.engines.node)
    problem(`engines.node is ${pkg.engines?.node}, not ${workspace.engines.node}`);
  if (pkg.publishConfig?.access !== "public") problem("publishConfig.access is not public");
  if (!pkg.files?.includes("dist")) problem("files does not include dist");
  for (const field of ["dependencies", "peerDependencies", "optionalDependencies"]) {
    for (const [name, range] of Object.entries(pkg[field] ?? {})) {
      if (range.startsWith("workspace:")) problem(`${field}.${name} is ${range}`);
      if (name.startsWith("@toka/") && range !== pkg.version)
        problem(`${field}.${name} is ${range}, not the release version ${pkg.version}`);
    }
  }
  if (!files.has("package/LICENSE")) problem("no LICENSE");
  else if (read("LICENSE") !== license) problem("LICENSE differs from the repository's");
  if (!files.has("package/README.md")) problem("no README.md");
  const targets = [
    ...Object.values(pkg.exports ?? {}).flatMap((e) => Object.values(e)),
    ...Object.values(pkg.bin ?? {}),
  ];
  for (const target of targets) {
    if (!files.has(`package/${target.replace(/^\.\//, "")}`)) problem(`${target} is not packed`);
  }
}

if (problems.length > 0) {
  console.error(`check-tarballs: ${problems.length} problem(s):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.error(`check-tarballs: ${tarballs.length} tarballs have what publishing needs`);
