/**
 * GET /customers/{customerId}/orders?limit=20 — the newest orders of one customer.
 *
 * Orders live in the ORDERS_TABLE table: partition key `customerId`, sort key `createdAt`,
 * and a global secondary index `byOrderId` on `orderId`.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyHandlerV2 } from "aws-lambda";

import { errorResponse, json, limitParameter, pathParameter } from "../lib/http";
import { createLogger, errorFields } from "../lib/logger";

// Created once per container, reused across invocations.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const logger = createLogger("listOrders");

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

export interface Order {
  orderId: string;
  customerId: string;
  createdAt: string;
  status: "pending" | "paid" | "shipped" | "cancelled";
  totalCents: number;
}

export const handler: APIGatewayProxyHandlerV2 = async (event, context) => {
  const log = logger.child({ requestId: context.awsRequestId });
  try {
    const customerId = pathParameter(event.pathParameters, "customerId");
    const limit = limitParameter(event.queryStringParameters?.limit, DEFAULT_LIMIT, MAX_LIMIT);
    log.info("listing orders", { customerId, limit });

    const result = await client.send(
      new QueryCommand({
        TableName: process.env.ORDERS_TABLE,
        KeyConditionExpression: "customerId = :customerId",
        ExpressionAttributeValues: { ":customerId": customerId },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    const orders = (result.Items ?? []) as Order[];

    log.info("listed orders", { customerId, count: orders.length });
    return json(200, { orders });
  } catch (error) {
    log.error("listOrders failed", errorFields(error));
    return errorResponse(error, context.awsRequestId);
  }
};
