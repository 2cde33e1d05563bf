import { type QueryService, type QueryServiceOptions, serveViews } from "@toka/processor";
import { createMonitor, type MonitorOptions } from "./monitor.js";

/** Options of {@link serveMonitor}: the monitor's and the HTTP server's. */
export interface ServeMonitorOptions
  extends MonitorOptions,
    Pick<
      QueryServiceOptions,
      "port" | "host" | "allowedHosts" | "token" | "tls" | "headersTimeoutMs" | "requestTimeoutMs"
    > {}

/**
 * Serves the monitor on its own (as `toka monitor` does) at `<url>/monitor/`, through a
 * query service without views: the same Host allow-list, token, timeouts and `/health`.
 * Closing the service closes the monitor.
 * @throws TokaError `TOKA_INVALID_CONFIG` for invalid options or a port in use.
 */
export async function serveMonitor(options: ServeMonitorOptions): Promise<QueryService> {
  const { port, host, allowedHosts, token, tls, headersTimeoutMs, requestTimeoutMs, ...rest } =
    options;
  const monitor = createMonitor(rest);
  let service: QueryService;
  try {
    service = await serveViews({
      views: {},
      monitor,
      ...(port === undefined ? {} : { port }),
      ...(host === undefined ? {} : { host }),
      ...(allowedHosts === undefined ? {} : { allowedHosts }),
      ...(token === undefined ? {} : { token }),
      ...(tls === undefined ? {} : { tls }),
      ...(headersTimeoutMs === undefined ? {} : { headersTimeoutMs }),
      ...(requestTimeoutMs === undefined ? {} : { requestTimeoutMs }),
    });
  } catch (error) {
    await monitor.close();
    throw error;
  }
  const close = async () => {
    await service.close();
    await monitor.close();
  };
  return { url: service.url, port: service.port, close, [Symbol.asyncDispose]: close };
}
