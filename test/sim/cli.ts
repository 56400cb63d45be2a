/**
 * Run the simulator as a process:
 *   node --import tsx test/sim/cli.ts [--scenario file.yml] [--port N]
 * Prints {"baseUrl": ..., "pid": ...} as one JSON line on stdout, then serves until SIGTERM/SIGINT.
 */
import { startSim } from './index.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write('usage: node --import tsx test/sim/cli.ts [--scenario file.yml] [--port N]\n');
    return;
  }
  const portArg = arg('port');
  const port = portArg === undefined ? 0 : Number(portArg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sim: --port must be an integer between 0 and 65535, got ${portArg}\n`);
    process.exit(2);
  }
  let sim;
  try {
    sim = await startSim({ scenario: arg('scenario'), port });
  } catch (e) {
    process.stderr.write(`sim: ${(e as Error).message}\n`);
    process.exit(2);
  }
  process.stdout.write(JSON.stringify({ baseUrl: sim.baseUrl, pid: process.pid, kube: !!sim.kube }) + '\n');
  const stop = (): void => {
    void sim.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
