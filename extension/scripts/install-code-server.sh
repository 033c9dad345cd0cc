#!/usr/bin/env bash
# Installs code-server (VS Code in the browser) into extension/.code-server for the end-to-end tests.
#
# Why this script: @vscode/test-electron and @vscode/test-web download VS Code from the internet, which these
# machines cannot reach. code-server comes from the npm registry, but two of its install steps need help here:
#   - its native modules build from source, so Debian's build tools and X11/secret/krb5 headers must be present;
#   - @vscode/ripgrep downloads rg from GitHub at install time; we hand it Debian's /usr/bin/rg, packed the way its
#     download cache expects, so it never goes to the network.
# Idempotent: a second run with the same version is a no-op (stamp file).
set -euo pipefail

CODE_SERVER_VERSION="4.100.3"           # newest code-server that runs on Node 20 (VS Code 1.100.3)
RIPGREP_PACKAGE_VERSION="1.15.11"       # @vscode/ripgrep pinned by code-server 4.100.3's npm-shrinkwrap.json
RIPGREP_ASSET_VERSION="v13.0.0-10"      # the rg release that @vscode/ripgrep 1.15.11 downloads

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="${CODE_SERVER_HOME:-$here/.code-server}"
stamp="$target/.installed-$CODE_SERVER_VERSION"

if [[ -f "$stamp" && -x "$target/node_modules/.bin/code-server" ]]; then
  echo "code-server $CODE_SERVER_VERSION already installed in $target"
  exit 0
fi

need_apt=()
for pkg in build-essential pkg-config python3 libx11-dev libxkbfile-dev libsecret-1-dev libkrb5-dev ripgrep chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  if [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null; then
    echo "Installing Debian packages: ${need_apt[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "error: missing Debian packages: ${need_apt[*]} (run: sudo apt-get install -y ${need_apt[*]})" >&2
    exit 1
  fi
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [[ "$node_major" != "20" ]]; then
  echo "error: code-server $CODE_SERVER_VERSION needs Node 20 (found $(node --version))" >&2
  exit 1
fi

# Seed @vscode/ripgrep's download cache with Debian's rg (the archive holds just `rg`).
tmp_root="${TMPDIR:-/tmp}"
rg_cache="$tmp_root/vscode-ripgrep-cache-$RIPGREP_PACKAGE_VERSION"
rg_archive="$rg_cache/ripgrep-$RIPGREP_ASSET_VERSION-x86_64-unknown-linux-musl.tar.gz"
if [[ ! -s "$rg_archive" ]]; then
  mkdir -p "$rg_cache"
  staging="$(mktemp -d)"
  cp "$(command -v rg)" "$staging/rg"
  tar -C "$staging" -czf "$rg_archive" rg
  rm -rf "$staging"
fi

mkdir -p "$target"
[[ -f "$target/package.json" ]] || echo '{ "name": "conductor-code-server", "private": true }' > "$target/package.json"
echo "Installing code-server $CODE_SERVER_VERSION into $target (a few minutes)"
(
  cd "$target"
  npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund --loglevel=error \
    "code-server@$CODE_SERVER_VERSION"
)
"$target/node_modules/.bin/code-server" --version
touch "$stamp"
