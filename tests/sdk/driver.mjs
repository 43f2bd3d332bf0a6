// Drives OpenAI's real Codex TypeScript SDK (@openai/codex-sdk) as an app would, for tests/sdk.
//
// Usage: node driver.mjs PLAN.json. The plan names the SDK's dist/index.js ("sdk"), the options of
// `new Codex(...)` ("codex", e.g. codexPathOverride, baseUrl, apiKey) and a list of steps run in order on one
// thread. It prints one JSON line per step: {"op", "ok", "threadId", ...} with what the SDK returned, or the
// error it threw. Nothing here judges the results; the Python tests do.
//
// Steps:
//   {"op": "start", "thread": {...ThreadOptions}}
//   {"op": "resume", "id": "<thread id>" | "$thread" (the current thread's id), "thread": {...}}
//   {"op": "run", "input": <string | UserInput[]>, "turn": {...TurnOptions}}
//   {"op": "runStreamed", "input": ..., "turn": {...}}
//   {"op": "abort", "input": ..., "after": "<event type>"}: runStreamed, abort via an AbortSignal at that event
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const plan = JSON.parse(readFileSync(process.argv[2], "utf8"));
const { Codex } = await import(pathToFileURL(plan.sdk).href);
const codex = new Codex(plan.codex ?? {});
let thread = null;

function failure(error) {
  return { ok: false, name: error?.name ?? "Error", error: String(error?.message ?? error) };
}

async function step(s) {
  switch (s.op) {
    case "start":
      thread = codex.startThread(s.thread ?? {});
      return { ok: true };
    case "resume":
      thread = codex.resumeThread(s.id === "$thread" ? thread.id : s.id, s.thread ?? {});
      return { ok: true };
    case "run": {
      const turn = await thread.run(s.input, s.turn ?? {});
      return { ok: true, items: turn.items, finalResponse: turn.finalResponse, usage: turn.usage };
    }
    case "runStreamed": {
      const { events } = await thread.runStreamed(s.input, s.turn ?? {});
      const seen = [];
      for await (const event of events) seen.push(event);
      return { ok: true, events: seen };
    }
    case "abort": {
      const controller = new AbortController();
      const started = Date.now();
      const seen = [];
      try {
        const { events } = await thread.runStreamed(s.input, { ...(s.turn ?? {}), signal: controller.signal });
        for await (const event of events) {
          seen.push(event);
          if (event.type === s.after) controller.abort();
        }
        return { ok: true, events: seen };
      } catch (error) {
        return { ...failure(error), events: seen, ms: Date.now() - started };
      }
    }
    default:
      throw new Error(`unknown step ${s.op}`);
  }
}

for (const s of plan.steps) {
  let result;
  try {
    result = await step(s);
  } catch (error) {
    result = failure(error);
  }
  process.stdout.write(JSON.stringify({ op: s.op, threadId: thread?.id ?? null, ...result }) + "\n");
}
