import type { RpcEndpointConfig } from './types.js';

/** `url` or `url#weight`, comma-separated (SLUICE_DEVNET_RPC_URL, `--rpc-url`). */
export function parseRpcList(list: string): RpcEndpointConfig[] {
  return list.split(',').map((part) => {
    const [, url, weight] = /^(.*?)(?:#(\d+))?$/.exec(part.trim())!;
    return { url: url!, weight: weight ? Number(weight) : 1 };
  });
}
