// Imported first by index.ts, so that it runs before any dependency is evaluated: on an older Node
// the SDK stops here with a message that says what to do, not later inside undici.
const MINIMUM = [22, 19] as const;
const runtime = globalThis as { Deno?: unknown; Bun?: unknown; process?: { versions?: { node?: string } } };
const node = runtime.process?.versions?.node;
if (node && !runtime.Deno && !runtime.Bun) {
  const [major = 0, minor = 0] = node.split('.').map(Number);
  if (major < MINIMUM[0] || (major === MINIMUM[0] && minor < MINIMUM[1])) {
    throw new Error(
      `@psd2-oauth/sdk needs Node.js ${MINIMUM.join('.')} or later (its mTLS client, undici 8, does); this is Node.js ${node}`,
    );
  }
}

export {};
