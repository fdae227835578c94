// Esper's TypeScript client: `paths` and `components` are generated from
// clients/openapi.json by openapi-typescript (src/schema.d.ts, `npm run
// generate`); requests are typed by openapi-fetch against them.
import createClient, { type Client } from "openapi-fetch";

import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type Run = Schemas["RunRead"];
export type RunCreate = Schemas["RunCreate"];
export type Command = Schemas["CommandRead"];
export type TelemetryPacket = Schemas["TelemetryPacket"];
export type Artifact = Schemas["ArtifactRead"];
export type EsperClient = Client<paths>;

export interface ClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** An API key's token; omit when the gateway runs with auth off. */
  token?: string;
}

/** A typed client for the REST API (`/api/v1/*`, `/healthz`, `/readyz`). */
export function createEsperClient(options: ClientOptions): EsperClient {
  const headers: Record<string, string> = {};
  if (options.token) headers["Authorization"] = `Bearer ${options.token}`;
  return createClient<paths>({ baseUrl: options.baseUrl, headers });
}
