/**
 * HTTP helpers for API Gateway (HTTP API, payload v2) responses: JSON bodies, and errors that carry
 * their status code so a handler's catch block can answer 4xx for client mistakes and 500 otherwise.
 */
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

/** An error the client caused; its message is safe to return. */
export class HttpError extends Error {
  constructor(
    public readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

/** The response for any error: the HttpError's own status and message, or a 500 that hides internals. */
export function errorResponse(error: unknown, requestId: string): APIGatewayProxyStructuredResultV2 {
  if (error instanceof HttpError) {
    return json(error.statusCode, { message: error.message, requestId });
  }
  return json(500, { message: "Internal server error", requestId });
}

/** A required path parameter, or a 400. */
export function pathParameter(parameters: Record<string, string | undefined> | undefined, name: string): string {
  const value = parameters?.[name];
  if (value === undefined || value.trim() === "") {
    throw new HttpError(400, `Missing path parameter: ${name}`);
  }
  return value;
}

/** A parsed JSON body, or a 400. */
export function parseJsonBody(body: string | undefined, isBase64Encoded = false): unknown {
  if (body === undefined || body === "") {
    throw new HttpError(400, "Request body is required");
  }
  const text = isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
}

/** A positive integer query parameter within [1, max], `fallback` when absent, else a 400. */
export function limitParameter(raw: string | undefined, fallback: number, max: number): number {
  if (raw === undefined) {
    return fallback;
  }
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new HttpError(400, `limit must be an integer between 1 and ${max}`);
  }
  return value;
}
