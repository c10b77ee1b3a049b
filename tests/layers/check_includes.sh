#!/usr/bin/env bash
# build.layer_includes: no file includes a layer above its own, or a header of a library
# its target may not link (README "Layout"). Target visibility cannot say this for
# headers every target finds: the shared/ folders share one include root, and
# <sqlite3.h>, Asio and WebSocket++ live in the system's include path.
#
# Usage: check_includes.sh SOURCE_DIR
set -euo pipefail
cd "$1"

# What an #include line names, as extended regexes (with the < or " that opens it).
transport='<(asio|websocketpp)[/.>]|<mqtt/|<MQTTAsync|<uv\.h>|<strophe\.h>'
sqlite='<sqlite3\.h>'

failed=0
# forbid WHO PATTERN FILE...: WHO may not include anything PATTERN matches.
forbid() {
  local who=$1 pattern=$2 hits
  shift 2
  (($#)) || return 0
  if hits=$(grep -HnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*($pattern)" "$@"); then
    while IFS= read -r hit; do echo "FAIL: $who may not include this: $hit"; done <<<"$hits"
    failed=1
  fi
}
# sources DIR... [-maxdepth N]: the C++ files under the folders.
sources() { find "$@" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort; }
mapfile -t base < <(sources shared/muster/base)
mapfile -t domain < <(sources shared/muster/domain)
mapfile -t protocol < <(sources shared/muster/protocol)
mapfile -t store < <(sources shared/muster/store)
mapfile -t store_headers < <(find shared/muster/store -name '*.hpp' | sort)
mapfile -t sync < <(sources shared/muster/sync)
mapfile -t server_core < <(sources server/musterd/core)
mapfile -t client_core < <(sources client/muster_client -maxdepth 1)
mapfile -t client_transports < <(sources client/muster_client/transports)
mapfile -t client_tui_model < <(ls client/muster_client/tui/{model,terminal}.[ch]pp)
mapfile -t shared_all < <(sources shared)
mapfile -t bridge_core < <(ls plugins/xmpp-bridge/{bridge,bridge_config,instance_lock,replies,request_parser}.[ch]pp)
mapfile -t above_store < <(sources server client plugins bench tests/integration tests/plugins tests/tools \
                             tests/unit/{base,client,domain,plugins,protocol,server,sync})
mapfile -t unit_tests < <(sources tests/unit)

# shared/: each layer includes only the ones below it; none uses a transport or a loop.
forbid muster_base "\"muster/(domain|protocol|store|sync)/|$sqlite|$transport" "${base[@]}"
forbid muster_domain "\"muster/(protocol|store|sync)/|$sqlite|$transport" "${domain[@]}"
forbid muster_protocol "\"muster/(store|sync)/|$sqlite|$transport" "${protocol[@]}"
forbid muster_store "\"muster/(domain|protocol|sync)/|$transport" "${store[@]}"
forbid "muster_store's headers" "$sqlite" "${store_headers[@]}"
forbid muster_sync "$sqlite|$transport" "${sync[@]}"
# Above the store, SQLite is reached only through muster/store/sqlite.hpp.
forbid "code above muster_store" "$sqlite" "${above_store[@]}"
# The cores the unit tests link: no transport, no event loop, no adapter.
forbid musterd_core "\"musterd/adapters/|\"musterd/[a-z_]+\.hpp\"|$transport" "${server_core[@]}"
forbid muster_client_core "\"muster_client/transports/|$transport" "${client_core[@]}"
# The TUI: only its terminal (tui/curses_terminal.*, its own target) names curses; the
# model and the loop stay testable without a terminal, and shared/ never sees it.
forbid "muster_client_core and the TUI's model" '<n?curses|<term\.h>|"muster_client/tui/curses_terminal' \
  "${client_core[@]}" "${client_tui_model[@]}"
forbid "shared/" '<n?curses|<term\.h>' "${shared_all[@]}"
forbid muster_xmpp_bridge_core "$transport" "${bridge_core[@]}"
forbid unit_tests "$transport" "${unit_tests[@]}"
# The client needs nothing only the server or the bridge uses.
forbid muster_client_transports '<uv\.h>|<strophe\.h>' "${client_transports[@]}"

if ((failed)); then exit 1; fi
echo "ok: every layer includes only what it may link"
