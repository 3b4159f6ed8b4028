#!/usr/bin/env bash
# Regenerate ZKSyncSequencerUptimeFeed.json (ABI + creation bytecode of Chainlink's L2 sequencer uptime feed)
# from the published npm package, compiled with the npm solc package; both versions pinned here.
# The feed's updateStatus accepts calls from the L2 alias of its L1 sender only (no messenger, no Flags
# contract), so the integration tests deploy it on anvil and flip it by impersonating that alias.
# `npm pack` fetches the package alone: a plain install would pull a GitHub dependency of it.
# Usage: tools/uptime_feed/build.sh   (writes tools/uptime_feed/ZKSyncSequencerUptimeFeed.json)
set -euo pipefail
CONTRACTS_VERSION=1.5.0
SOLC_VERSION=0.8.28
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "@chainlink/contracts@$CONTRACTS_VERSION" >/dev/null
tar xzf "chainlink-contracts-$CONTRACTS_VERSION.tgz"
npm install --silent --no-audit --no-fund --ignore-scripts --save-exact --prefix "$work/solc" "solc@$SOLC_VERSION" >/dev/null
SRC="$work/package/src/v0.8" CONTRACTS_VERSION=$CONTRACTS_VERSION OUT="$here/ZKSyncSequencerUptimeFeed.json" \
  NODE_PATH="$work/solc/node_modules" node "$here/compile.cjs"
echo "wrote $here/ZKSyncSequencerUptimeFeed.json"
