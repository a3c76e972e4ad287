#!/bin/sh
# The one-time setup of a city on the docker-compose stack, run by its one-shot `setup` service after `migrate` and
# before the API replicas and the workers start. Idempotent: every `docker compose up` runs it again and, once the
# city and its registry exist, it changes nothing.
#   1. `xacthuc init` when the data volume holds no city: the keystore (its passphrase from the compose secret), the
#      city root key, the admin account (deploys the registry) and the relayer account (pays for every anchor).
#   2. With FUND_FROM_DEV_CHAIN=1 (the compose file's anvil only): give those two accounts ether, as `serve --dev`
#      does on its own node. On a real network the operator funds the addresses this prints instead.
#   3. `xacthuc chain deploy` when no registry is recorded in the data volume, so the replicas find one and never
#      race to deploy one each.
#   4. `xacthuc chain status`: the chain, the registry and whether the relayer can pay, in the setup's log.
set -eu

data="${XACTHUC_DATA_DIR:-/data}"

if [ ! -f "$data/keys/keystore.json" ]; then
  xacthuc init
fi

if [ "${FUND_FROM_DEV_CHAIN:-0}" = 1 ]; then
  python - <<'PY'
import json

from xacthuc.chainsetup import connect, fund_dev_accounts
from xacthuc.settings import load_settings

settings = load_settings()
eth = settings.data_dir / "keys" / "eth"
addresses = [json.loads((eth / f"{name}.json").read_text())["address"] for name in ("city-admin", "city-relayer")]
chain = connect(settings, start_node=False)
try:
    fund_dev_accounts(chain.w3, ["0x" + a.removeprefix("0x") for a in addresses])
finally:
    chain.close()
print("development chain: funded the city admin and relayer accounts")
PY
fi

if [ ! -f "$data/registry.json" ]; then
  if ! xacthuc chain deploy; then
    admin=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["address"])' "$data/keys/eth/city-admin.json")
    echo "setup: deploying the registry failed. On a real network, fund the city admin account 0x${admin#0x}" \
      "(it pays for the deployment), then run \`docker compose up -d\` again" >&2
    exit 1
  fi
fi

xacthuc chain status
