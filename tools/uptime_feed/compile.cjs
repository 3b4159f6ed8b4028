// Compile Chainlink's ZKSyncSequencerUptimeFeed with solc-js (standard JSON); called by build.sh.
const fs = require("fs");
const path = require("path");
const solc = require("solc");
const src = process.env.SRC;
const main = "l2ep/zksync/ZKSyncSequencerUptimeFeed.sol";
const input = {
  language: "Solidity",
  sources: { [main]: { content: fs.readFileSync(path.join(src, main), "utf8") } },
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "paris",
              outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
};
function findImports(p) {
  const f = path.join(src, p);
  return fs.existsSync(f) ? { contents: fs.readFileSync(f, "utf8") } : { error: `not found: ${p}` };
}
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) { console.error(errors.map((e) => e.formattedMessage).join("\n")); process.exit(1); }
const c = out.contracts[main].ZKSyncSequencerUptimeFeed;
fs.writeFileSync(process.env.OUT, JSON.stringify({
  contract: "ZKSyncSequencerUptimeFeed",
  source: `@chainlink/contracts@${process.env.CONTRACTS_VERSION}/src/v0.8/${main}`,
  compiler: `solc-js ${solc.version()}`,
  settings: input.settings,
  abi: c.abi,
  bytecode: "0x" + c.evm.bytecode.object,
}, null, 1) + "\n");
