#!/usr/bin/env node
// The project's check: `npm run check` (or `node scripts/check.mjs`).
//
// 1. Conventions, with plain Node and no dependencies, so it runs offline and before `npm ci`:
//    every src/handlers/<name>.ts exports `handler`, imports from @aws-sdk/, logs through ../lib/logger,
//    handles errors with try/catch, and has a test tests/<name>.test.ts that imports it.
// 2. The toolchain, when node_modules is installed: tsc (strict), eslint, vitest.
//    `--conventions-only` skips it; without node_modules it is reported as skipped, not failed.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const handlersDir = join(root, "src", "handlers");
const testsDir = join(root, "tests");

function conventionProblems(name) {
  const source = readFileSync(join(handlersDir, `${name}.ts`), "utf8");
  const problems = [];
  if (!/export\s+const\s+handler\b/.test(source)) {
    problems.push("does not export `handler`");
  }
  if (!/from\s+["']@aws-sdk\//.test(source)) {
    problems.push("does not use the AWS SDK v3 (no import from @aws-sdk/)");
  }
  if (/from\s+["']aws-sdk["']|require\(["']aws-sdk["']\)/.test(source)) {
    problems.push("imports the AWS SDK v2 (aws-sdk); use @aws-sdk/* v3 clients");
  }
  if (!/from\s+["']\.\.\/lib\/logger["']/.test(source)) {
    problems.push("does not log through ../lib/logger");
  }
  if (/console\.(log|info|warn|error|debug)\s*\(/.test(source)) {
    problems.push("calls console directly; use the logger");
  }
  if (!/\btry\s*\{/.test(source) || !/\bcatch\s*(\(|\{)/.test(source)) {
    problems.push("has no try/catch around its work");
  }
  const testFile = join(testsDir, `${name}.test.ts`);
  if (!existsSync(testFile)) {
    problems.push(`has no test: create ${relative(root, testFile)}`);
  } else if (!readFileSync(testFile, "utf8").includes(`src/handlers/${name}`)) {
    problems.push(`${relative(root, testFile)} does not import ../src/handlers/${name}`);
  }
  return problems;
}

function checkConventions() {
  const handlers = readdirSync(handlersDir)
    .filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))
    .map((file) => file.slice(0, -3))
    .sort();
  let failed = 0;
  for (const name of handlers) {
    const problems = conventionProblems(name);
    if (problems.length === 0) {
      console.log(`ok    src/handlers/${name}.ts`);
    } else {
      failed += 1;
      console.log(`FAIL  src/handlers/${name}.ts: ${problems.join("; ")}`);
    }
  }
  console.log(`conventions: ${handlers.length - failed}/${handlers.length} handlers pass`);
  return failed === 0;
}

function runToolchain() {
  const bin = join(root, "node_modules", ".bin");
  if (!existsSync(join(bin, "tsc"))) {
    console.log("toolchain: skipped (node_modules is missing; run `npm ci` to add tsc, eslint and vitest)");
    return true;
  }
  const steps = [
    ["tsc", ["-p", "tsconfig.json", "--noEmit"]],
    ["eslint", ["--max-warnings", "0", "src/**/*.ts", "tests/**/*.ts"]],
    ["vitest", ["run"]],
  ];
  for (const [tool, args] of steps) {
    const result = spawnSync(join(bin, tool), args, { cwd: root, stdio: "inherit" });
    const ok = result.status === 0;
    console.log(`${ok ? "ok  " : "FAIL"}  ${tool} ${args.join(" ")}`);
    if (!ok) {
      return false;
    }
  }
  return true;
}

const conventionsOk = checkConventions();
const toolchainOk = process.argv.includes("--conventions-only") || runToolchain();
process.exit(conventionsOk && toolchainOk ? 0 : 1);
