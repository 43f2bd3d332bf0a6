/**
 * Structured JSON logging: one JSON object per line, which CloudWatch Logs Insights can query.
 * Handlers create one logger per module and add the request id to every line of an invocation.
 */

export type LogLevel = "debug" | "info" | "warn" | "error";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields` (e.g. the request id). */
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function minimumLevel(): number {
  const configured = (process.env.LOG_LEVEL ?? "info").toLowerCase() as LogLevel;
  return LEVELS[configured] ?? LEVELS.info;
}

/** Errors do not serialise with JSON.stringify; keep what helps debugging. */
export function errorFields(error: unknown): LogFields {
  if (error instanceof Error) {
    return { errorName: error.name, errorMessage: error.message, stack: error.stack };
  }
  return { errorMessage: String(error) };
}

export function createLogger(service: string, base: LogFields = {}): Logger {
  const write = (level: LogLevel, message: string, fields: LogFields = {}): void => {
    if (LEVELS[level] < minimumLevel()) {
      return;
    }
    const line = { timestamp: new Date().toISOString(), level, service, message, ...base, ...fields };
    const text = JSON.stringify(line);
    if (level === "error" || level === "warn") {
      console.error(text);
    } else {
      console.log(text);
    }
  };
  return {
    debug: (message, fields) => write("debug", message, fields),
    info: (message, fields) => write("info", message, fields),
    warn: (message, fields) => write("warn", message, fields),
    error: (message, fields) => write("error", message, fields),
    child: (fields) => createLogger(service, { ...base, ...fields }),
  };
}
