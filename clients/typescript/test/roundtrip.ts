// Round trip against a live gateway (ESPER_URL, optional ESPER_TOKEN): submit a
// run, wait for it to run, pause it with `?wait=` (acked), stop it the same way,
// wait for its end, read a telemetry page and list its artifacts. Prints one
// JSON summary line; tests/integration/clients/test_typescript_sdk.py checks it.
import {
  createEsperClient,
  type Run,
  type TelemetryPacket,
} from "../src/index.js";

const baseUrl = process.env["ESPER_URL"] ?? "http://127.0.0.1:8000";
const client = createEsperClient({ baseUrl, token: process.env["ESPER_TOKEN"] });

function fail(what: string, detail: unknown): never {
  throw new Error(`${what}: ${JSON.stringify(detail)}`);
}

async function waitFor(runId: string, states: Run["state"][]): Promise<Run> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    const { data, error } = await client.GET("/api/v1/runs/{run_id}", {
      params: { path: { run_id: runId } },
    });
    if (!data) fail("get_run", error);
    if (states.includes(data.state)) return data;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return fail("timeout waiting for", states);
}

async function command(runId: string, type: "pause" | "stop"): Promise<string> {
  const { data, error, response } = await client.POST(
    "/api/v1/runs/{run_id}/commands",
    { params: { path: { run_id: runId }, query: { wait: 20 } }, body: { type } },
  );
  if (!data || response.status !== 200) fail(`command ${type}`, error);
  return data.state;
}

// The history is written by the gateway's persister a moment behind the live
// stream: read pages until the run's final state packet is there.
async function history(runId: string): Promise<TelemetryPacket[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const page = await client.GET("/api/v1/runs/{run_id}/telemetry", {
      params: { path: { run_id: runId }, query: { kind: "state", limit: 500 } },
    });
    if (!page.data || !("items" in page.data)) fail("list_run_telemetry", page.error);
    const items = page.data.items;
    if (items.some((p) => p.value === "cancelled") || Date.now() > deadline) {
      return items;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main(): Promise<void> {
  const created = await client.POST("/api/v1/runs", {
    body: {
      task: "digits",
      epochs: 2000,
      batch_size: 32,
      device: "cpu",
      morphogenesis: { enabled: false },
      labels: { client: "typescript" },
    },
  });
  if (!created.data) fail("create_run", created.error);
  const runId = created.data.id;
  await waitFor(runId, ["running"]);
  const paused = await command(runId, "pause");
  await waitFor(runId, ["paused"]);
  const stopped = await command(runId, "stop");
  const ended = await waitFor(runId, ["cancelled"]);
  const items = await history(runId);
  const artifacts = await client.GET("/api/v1/runs/{run_id}/artifacts", {
    params: { path: { run_id: runId } },
  });
  if (!artifacts.data) fail("list_run_artifacts", artifacts.error);
  const missing = await client.GET("/api/v1/runs/{run_id}", {
    params: { path: { run_id: "00000000-0000-0000-0000-000000000000" } },
  });
  console.log(
    JSON.stringify({
      run_id: runId,
      paused,
      stopped,
      state: ended.state,
      telemetry: items.length,
      telemetry_kinds: [...new Set(items.map((packet) => packet.kind))],
      final_state_packet: items.some((packet) => packet.value === "cancelled"),
      artifacts: artifacts.data.map((a) => a.name),
      missing_status: missing.response.status,
      missing_code: missing.error?.error.code ?? null,
    }),
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
