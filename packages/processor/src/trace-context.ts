import {
  context,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

const SCOPE = "@toka/processor";

/**
 * Whether an OpenTelemetry SDK records spans or propagates trace context: a tracer
 * provider or a propagator is installed. Without either, a message's span and the
 * trace headers of what it writes are no-ops, which still cost an object graph per
 * message (a span, a context, the message's headers decoded for extraction); the
 * processor asks once per batch and skips them. A provider that is not the API's proxy
 * (another copy of the API installed it) counts as installed.
 */
export function tracingInstalled(): boolean {
  if (propagation.fields().length > 0) return true;
  const provider = trace.getTracerProvider();
  return (
    !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer(SCOPE) !== undefined
  );
}

/**
 * Adds the active trace context to a record's headers through the installed propagator
 * (W3C `traceparent` and `tracestate` with the OpenTelemetry SDK's default), so the
 * trace continues in whoever reads the record. A no-op until an SDK is installed.
 */
export function withTraceContext(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** Where a message was read, for its processing span's attributes. */
export interface MessageCoordinates {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly id: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Runs a message's callback in a span `<topic> process` (OpenTelemetry messaging
 * conventions, kind consumer) that continues the trace the message's headers carry,
 * or the batch's when they carry none. Records the callback's failure on the span.
 * A `work` that returns no promise runs and ends its span synchronously: most callbacks
 * are synchronous, and a promise per message is a measurable part of its cost.
 */
export function inMessageSpan<T>(
  message: MessageCoordinates,
  work: () => T | Promise<T>,
): T | Promise<T> {
  const carried = propagation.extract(ROOT_CONTEXT, message.headers);
  const parent = trace.getSpanContext(carried) ? carried : context.active();
  return trace
    .getTracer(SCOPE)
    .startActiveSpan(`${message.topic} process`, { kind: SpanKind.CONSUMER }, parent, (span) => {
      // Built only for a span that records: without an SDK this is every message's
      // hot path, and the attributes would be garbage at once.
      if (span.isRecording()) span.setAttributes(messageAttributes(message));
      return ended(span, work);
    });
}

function messageAttributes(message: MessageCoordinates) {
  return {
    "messaging.system": "kafka",
    "messaging.operation.type": "process",
    "messaging.operation.name": "process",
    "messaging.destination.name": message.topic,
    "messaging.destination.partition.id": String(message.partition),
    "messaging.consumer.group.name": message.group,
    "messaging.kafka.offset": Number(message.offset),
    "messaging.kafka.message.key": message.key,
    "messaging.message.id": message.id,
  };
}

function ended<T>(span: Span, work: () => T | Promise<T>): T | Promise<T> {
  let result: T | Promise<T>;
  try {
    result = work();
  } catch (error) {
    failed(span, error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    span.end();
    return result;
  }
  return result.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failed(span, error);
      throw error;
    },
  );
}

function failed(span: Span, error: unknown) {
  span.recordException(error as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
  span.end();
}
