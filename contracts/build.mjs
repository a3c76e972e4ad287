// Compiles contracts/DocumentRegistry.sol with the pinned npm solc (standard JSON) into the committed artefacts:
//   contracts/artifacts/DocumentRegistry.json   (the reference copy)
//   ledger/chain/registry_artifact.json               (the same bytes, shipped as package data for ledger/chain/client.py)
// Usage: node contracts/build.mjs            write both files
//        node contracts/build.mjs --check    rebuild in memory; exit 1 if a committed file differs
//        node contracts/build.mjs --out DIR  write DocumentRegistry.json into DIR only
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const solc = require("solc");

const PINNED_VERSION = "0.8.28";
const CONTRACT = "DocumentRegistry";
const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const sourceName = `${CONTRACT}.sol`;
const targets = [join(here, "artifacts", `${CONTRACT}.json`), join(root, "ledger", "chain", "registry_artifact.json")];

// cancun: the newest EVM version that both py-evm 0.12.1b1 (eth-tester) and anvil 1.7.1 run, and solc's default.
const settings = {
  evmVersion: "cancun",
  optimizer: { enabled: true, runs: 1000000 },
  viaIR: true,
  metadata: { bytecodeHash: "ipfs" },
  outputSelection: { [sourceName]: { [CONTRACT]: ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"] } },
};

function build() {
  const version = solc.version();
  if (!version.startsWith(`${PINNED_VERSION}+`)) {
    throw new Error(`solc ${version} is installed; ${PINNED_VERSION} is pinned (run npm ci)`);
  }
  const source = readFileSync(join(here, sourceName), "utf8");
  const input = { language: "Solidity", sources: { [sourceName]: { content: source } }, settings };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = (output.errors ?? []).filter((e) => e.severity === "error" || e.type === "Warning");
  if (problems.length > 0) {
    throw new Error(problems.map((e) => e.formattedMessage).join("\n"));
  }
  const compiled = output.contracts[sourceName][CONTRACT];
  const { outputSelection, ...recorded } = settings;
  const artefact = {
    contractName: CONTRACT,
    sourceName: `contracts/${sourceName}`,
    sourceSha256: createHash("sha256").update(source).digest("hex"),
    compiler: { name: "solc", version },
    settings: recorded,
    abi: compiled.abi,
    bytecode: `0x${compiled.evm.bytecode.object}`,
    deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
    // Where the deployed code holds immutables (admin, the EIP-712 domain): zeros here, set by the constructor.
    // A deployed registry is this build when its code equals deployedBytecode outside these ranges.
    immutableReferences: compiled.evm.deployedBytecode.immutableReferences,
  };
  return `${JSON.stringify(sortKeys(artefact), null, 2)}\n`;
}

// Stable key order at every level, except inside the ABI, whose order solc fixes and tools expect.
function sortKeys(value, inAbi = false) {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v, inAbi));
  if (value === null || typeof value !== "object") return value;
  const keys = inAbi ? Object.keys(value) : Object.keys(value).sort();
  return Object.fromEntries(keys.map((k) => [k, sortKeys(value[k], inAbi || k === "abi")]));
}

function main(argv) {
  const text = build();
  if (argv.includes("--check")) {
    const stale = targets.filter((t) => !existsSync(t) || readFileSync(t, "utf8") !== text);
    for (const t of stale) console.error(`stale: ${t} (run: node contracts/build.mjs)`);
    return stale.length === 0 ? 0 : 1;
  }
  const outIndex = argv.indexOf("--out");
  const paths = outIndex >= 0 ? [join(argv[outIndex + 1], `${CONTRACT}.json`)] : targets;
  for (const p of paths) {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    console.error(`wrote ${p}`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
