/**
 * Why `address` cannot be advertised as a query service's base URL, or undefined when it
 * can: an absolute `http:` or `https:` URL without query, fragment or credentials (a path
 * prefix, e.g. behind a proxy, is allowed).
 */
export function queryAddressProblem(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return `"${address}" is not an absolute URL; give the query service's base URL, e.g. "http://10.0.0.7:8080"`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    return `"${address}" must use http: or https:`;
  if (url.search !== "" || url.hash !== "" || address.includes("?") || address.includes("#"))
    return `"${address}" must have no query or fragment`;
  if (url.username !== "" || url.password !== "")
    return `"${address}" must carry no credentials (the query service takes a bearer token)`;
  return undefined;
}

/** The address as advertised: its URL's canonical form, without a trailing slash. */
export function normalizedQueryAddress(address: string): string {
  return new URL(address).href.replace(/\/+$/, "");
}
