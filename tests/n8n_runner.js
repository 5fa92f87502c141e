// Runs an exported n8n workflow the way n8n would, for the node types the
// ipai workflows use (webhook, set, httpRequest, wait, if), so that a test
// can drive docs/n8n/*.json against the real API without an n8n server.
// Expressions ("={{ ... }}") are evaluated as JavaScript with $json and $().
//   node n8n_runner.js <workflow.json> <trigger body JSON> <settings JSON>
// Credentials of type httpHeaderAuth come from N8N_HEADER_NAME/N8N_HEADER_VALUE.
// Prints one JSON line per executed node: {"node": ..., "json": ...}.
"use strict";
const fs = require("fs");

const [workflowPath, bodyJson, settingsJson] = process.argv.slice(2);
const workflow = JSON.parse(fs.readFileSync(workflowPath, "utf8"));
const settings = JSON.parse(settingsJson || "{}");
const byName = Object.fromEntries(workflow.nodes.map((node) => [node.name, node]));
const outputs = {};
const MAX_STEPS = 400;

function evaluate(value, json) {
  if (typeof value !== "string" || !value.startsWith("=")) return value;
  const template = value.slice(1);
  const $ = (name) => ({ item: { json: outputs[name] } });
  const run = (expr) => new Function("$json", "$", `return (${expr});`)(json, $);
  const whole = template.match(/^\{\{([\s\S]*)\}\}$/);
  if (whole && !whole[1].includes("}}")) return run(whole[1]);
  return template.replace(/\{\{([\s\S]*?)\}\}/g, (_, expr) => String(run(expr)));
}

async function execute(node, json) {
  const p = node.parameters || {};
  switch (node.type) {
    case "n8n-nodes-base.webhook":
      return [{ body: JSON.parse(bodyJson), headers: {}, query: {} }, 0];
    case "n8n-nodes-base.set": {
      const out = p.includeOtherFields ? { ...json } : {};
      for (const a of p.assignments.assignments) {
        out[a.name] = a.name in settings ? settings[a.name] : evaluate(a.value, json);
      }
      return [out, 0];
    }
    case "n8n-nodes-base.httpRequest": {
      const headers = { Accept: "application/json" };
      if (p.authentication === "genericCredentialType" && p.genericAuthType === "httpHeaderAuth") {
        headers[process.env.N8N_HEADER_NAME] = process.env.N8N_HEADER_VALUE;
      }
      for (const h of (p.sendHeaders && p.headerParameters.parameters) || []) {
        headers[h.name] = evaluate(h.value, json);
      }
      let body;
      if (p.sendBody && p.specifyBody === "json") {
        body = evaluate(p.jsonBody, json);
        headers["Content-Type"] = "application/json";
      }
      const response = await fetch(evaluate(p.url, json), { method: p.method || "GET", headers, body });
      const text = await response.text();
      if (response.status >= 400) throw new Error(`${node.name}: HTTP ${response.status} ${text}`);
      return [text ? JSON.parse(text) : {}, 0];
    }
    case "n8n-nodes-base.wait":
      await new Promise((resolve) => setTimeout(resolve, (p.amount || 1) * 1000));
      return [json, 0];
    case "n8n-nodes-base.if": {
      const results = p.conditions.conditions.map((c) => {
        const left = evaluate(c.leftValue, json);
        const right = evaluate(c.rightValue, json);
        if (c.operator.operation === "equals") return left === right;
        if (c.operator.operation === "notEquals") return left !== right;
        throw new Error(`unsupported operator ${c.operator.operation}`);
      });
      const ok = p.conditions.combinator === "or" ? results.some(Boolean) : results.every(Boolean);
      return [json, ok ? 0 : 1];
    }
    default:
      throw new Error(`unsupported node type ${node.type}`);
  }
}

async function main() {
  const targets = new Set(Object.values(workflow.connections).flatMap((c) => c.main.flat().map((t) => t.node)));
  let current = workflow.nodes.find((node) => !targets.has(node.name));
  let json = {};
  for (let step = 0; current && step < MAX_STEPS; step++) {
    const [out, branch] = await execute(current, json);
    outputs[current.name] = out;
    console.log(JSON.stringify({ node: current.name, json: out }));
    const next = ((workflow.connections[current.name] || {}).main || [])[branch] || [];
    current = next.length ? byName[next[0].node] : null;
    json = out;
  }
  if (current) throw new Error("the workflow did not end");
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
