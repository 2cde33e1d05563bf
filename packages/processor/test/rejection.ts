import type { TokaError } from "../src/errors.js";

/** The error `promise` rejects with, for assertions on its fields; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<TokaError> {
  try {
    await promise;
  } catch (error) {
    return error as TokaError;
  }
  throw new Error("expected a rejection");
}
