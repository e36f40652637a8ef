// Compiles every contract under contracts/src, contracts/test and contracts/l2 with the pinned solc (npm
// package, see package.json) and writes one artifact per contract to contracts/out/<Name>.json:
// { contractName, sourceName, compiler, abi, bytecode: { object }, deployedBytecode: { object } },
// the shape alloy's `sol!(Name, "path.json")` reads.
//
//   node build.mjs           regenerate contracts/out
//   node build.mjs --check   compile and fail (exit 1) if contracts/out differs from the sources
//
// Calls solc's JS API rather than `solcjs --standard-json`, whose stdout carries a line before
// the JSON.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const root = path.dirname(fileURLToPath(import.meta.url));
const outDir = path.join(root, "out");
const check = process.argv.includes("--check");

// Settings are part of the artifact's identity: changing them changes the bytecode.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  viaIR: true,
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function sources() {
  const found = {};
  for (const dir of ["src", "test", "l2"]) {
    const abs = path.join(root, dir);
    if (!fs.existsSync(abs)) continue;
    for (const name of fs.readdirSync(abs).sort()) {
      if (!name.endsWith(".sol")) continue;
      found[`${dir}/${name}`] = { content: fs.readFileSync(path.join(abs, name), "utf8") };
    }
  }
  return found;
}

function compile() {
  const input = { language: "Solidity", sources: sources(), settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  for (const e of output.errors ?? []) console.error(e.formattedMessage);
  if (errors.length > 0) {
    console.error(`solc ${solc.version()}: ${errors.length} errors`);
    process.exit(2);
  }
  const artifacts = {};
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    for (const [contractName, c] of Object.entries(contracts)) {
      const artifact = {
        contractName,
        sourceName,
        compiler: `solc ${solc.version()}`,
        settings: { optimizer: SETTINGS.optimizer, viaIR: SETTINGS.viaIR, evmVersion: SETTINGS.evmVersion },
        abi: c.abi,
        bytecode: { object: `0x${c.evm.bytecode.object}` },
        deployedBytecode: { object: `0x${c.evm.deployedBytecode.object}` },
      };
      artifacts[`${contractName}.json`] = `${JSON.stringify(artifact, null, 2)}\n`;
    }
  }
  return artifacts;
}

const artifacts = compile();
if (check) {
  const stale = [];
  const present = fs.existsSync(outDir) ? fs.readdirSync(outDir).filter((f) => f.endsWith(".json")) : [];
  for (const [file, text] of Object.entries(artifacts)) {
    const p = path.join(outDir, file);
    if (!fs.existsSync(p) || fs.readFileSync(p, "utf8") !== text) stale.push(file);
  }
  for (const file of present) if (!(file in artifacts)) stale.push(`${file} (no source)`);
  if (stale.length > 0) {
    console.error(`contracts/out is out of date: ${stale.join(", ")}; run \`node contracts/build.mjs\``);
    process.exit(1);
  }
  console.log(`contracts/out is up to date (${Object.keys(artifacts).length} artifacts, solc ${solc.version()})`);
} else {
  fs.mkdirSync(outDir, { recursive: true });
  for (const [file, text] of Object.entries(artifacts)) fs.writeFileSync(path.join(outDir, file), text);
  console.log(`wrote ${Object.keys(artifacts).length} artifacts to contracts/out (solc ${solc.version()})`);
}
