// Container healthcheck: alive if /healthz answers 200 on the API port or the worker health port.
const ports = [process.env.SLUICE_PORT ?? '8080', process.env.SLUICE_HEALTH_PORT ?? '9090'];
for (const port of ports) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
    if (res.ok) process.exit(0);
  } catch {
    // try the next port
  }
}
process.exit(1);
