import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { handler } from "../src/handlers/listOrders";

const ddb = mockClient(DynamoDBDocumentClient);

const context = { awsRequestId: "req-1" } as Context;

function request(overrides: Partial<APIGatewayProxyEventV2> = {}): APIGatewayProxyEventV2 {
  return {
    pathParameters: { customerId: "c-42" },
    queryStringParameters: {},
    ...overrides,
  } as APIGatewayProxyEventV2;
}

async function invoke(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return (await handler(event, context, () => undefined)) as APIGatewayProxyStructuredResultV2;
}

describe("listOrders", () => {
  beforeEach(() => {
    ddb.reset();
    process.env.ORDERS_TABLE = "orders-test";
    vi.spyOn(console, "log").mockImplementation(() => undefined);
    vi.spyOn(console, "error").mockImplementation(() => undefined);
  });

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("returns the customer's orders, newest first", async () => {
    const orders = [{ orderId: "o-2", customerId: "c-42", createdAt: "2024-05-02", status: "paid", totalCents: 1200 }];
    ddb.on(QueryCommand).resolves({ Items: orders });

    const response = await invoke(request());

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? "")).toEqual({ orders });
    const input = ddb.commandCalls(QueryCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ TableName: "orders-test", ScanIndexForward: false, Limit: 20 });
  });

  it("answers 400 when the limit is not a number", async () => {
    const response = await invoke(request({ queryStringParameters: { limit: "lots" } }));

    expect(response.statusCode).toBe(400);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });

  it("answers 500 without leaking the error when DynamoDB fails", async () => {
    ddb.on(QueryCommand).rejects(new Error("ProvisionedThroughputExceededException"));

    const response = await invoke(request());

    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain("ProvisionedThroughput");
    expect(JSON.parse(response.body ?? "")).toMatchObject({ requestId: "req-1" });
  });
});
