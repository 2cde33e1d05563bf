import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Fold } from "@toka/event-sourcing";
import { TokaError, TokaErrorCode } from "@toka/processor";

/** An aggregate or projection loaded from a module. */
export type LoadedFold = Fold<unknown, unknown> & {
  readonly kind?: "aggregate" | "projection";
  readonly tableTopic?: string;
};

function isFold(value: unknown): value is LoadedFold {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Partial<LoadedFold>;
  return (
    typeof v.name === "string" &&
    typeof v.step === "function" &&
    typeof v.log?.topic === "string" &&
    typeof v.table?.decode === "function"
  );
}

/**
 * Imports the module at `path` (JavaScript; TypeScript when Node runs with a loader
 * such as `--import tsx`) and returns its aggregate or projection: the export named
 * `name`, else the default export, else the only aggregate or projection exported.
 * @throws TokaError `TOKA_INVALID_ARGUMENT` naming the candidates when it is ambiguous or absent.
 */
export async function loadFold(path: string, name?: string): Promise<LoadedFold> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (cause) {
    throw new TokaError(
      TokaErrorCode.InvalidArgument,
      `cannot import "${path}": ${(cause as Error).message}; give a built JavaScript module, or run toka with node --import tsx for TypeScript`,
      { cause },
    );
  }
  const candidates = Object.entries(module).filter(([, value]) => isFold(value));
  const names = candidates.map(([key, value]) => `${key} (${(value as LoadedFold).name})`);
  if (name !== undefined) {
    const found = candidates.find(
      ([key, value]) => key === name || (value as LoadedFold).name === name,
    );
    if (found) return found[1] as LoadedFold;
    throw new TokaError(
      TokaErrorCode.InvalidArgument,
      `"${path}" exports no aggregate or projection named "${name}"; it exports: ${names.join(", ") || "none"}`,
    );
  }
  if (isFold(module.default)) return module.default;
  if (candidates.length === 1) return candidates[0]![1] as LoadedFold;
  throw new TokaError(
    TokaErrorCode.InvalidArgument,
    candidates.length === 0
      ? `"${path}" exports no aggregate or projection (defineAggregate / defineProjection)`
      : `"${path}" exports several: ${names.join(", ")}; pick one with --export <name>`,
  );
}
