#!/usr/bin/env bash
# build.<target>_links (tests/CMakeLists.txt): fails if a built program links a library
# its layer may not use (README "Layout"), naming the library and the evidence. Three
# looks, because each library shows in a different place:
#   the link line   what CMake asked the linker for (link.txt, or ninja -t commands)
#   ldd             the shared libraries the program loads, transitive ones included
#   nm -C           symbols: Asio and WebSocket++ are header-only and leave no library,
#                   only their instantiations (and a static library leaves its symbols)
#
# Usage: check_links.sh --target NAME --binary FILE
#          [--link-txt FILE | --ninja PROGRAM BUILD_DIR] [--nm NM] [--ldd LDD] LIBRARY...
# LIBRARY is one of: asio websocketpp paho libuv libstrophe ncursesw.
set -euo pipefail

target= binary= link_txt= ninja= build_dir= nm=nm ldd=ldd
forbidden=()
while (($#)); do
  case $1 in
    --target) target=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --link-txt) link_txt=$2; shift 2 ;;
    --ninja) ninja=$2; build_dir=$3; shift 3 ;;
    --nm) nm=$2; shift 2 ;;
    --ldd) ldd=$2; shift 2 ;;
    *) forbidden+=("$1"); shift ;;
  esac
done
[[ -n $target && -f $binary && ${#forbidden[@]} -gt 0 ]] || {
  echo "usage: check_links.sh --target NAME --binary FILE [...] LIBRARY... (binary: '$binary')" >&2
  exit 2
}

# Per library: the pattern for one word of the link line, for ldd's output, and for
# nm -C's symbol names (demangled; C functions by their prefix). Empty: that look
# cannot see it.
link_pattern() {
  case $1 in
    asio | websocketpp) echo '' ;;
    paho) echo '(^|/)libpaho-mqtt|^-lpaho-mqtt' ;;
    libuv) echo '(^|/)libuv\.(so|a)|^-luv$' ;;
    libstrophe) echo '(^|/)libstrophe\.(so|a)|^-lstrophe$' ;;
    ncursesw) echo '(^|/)libncursesw?\.(so|a)|^-lncursesw?$' ;;
    *) echo "unknown library '$1'" >&2; exit 2 ;;
  esac
}
ldd_pattern() {
  case $1 in
    asio | websocketpp) echo '' ;;
    paho) echo 'libpaho-mqtt' ;;
    libuv) echo 'libuv\.so' ;;
    libstrophe) echo 'libstrophe\.so' ;;
    ncursesw) echo 'libncursesw?\.so' ;;
  esac
}
nm_pattern() {
  case $1 in
    asio) echo '(^|[^[:alnum:]_:])asio::' ;;
    websocketpp) echo '(^|[^[:alnum:]_:])websocketpp::' ;;
    paho) echo '(^|[^[:alnum:]_:])mqtt::|^MQTTAsync_' ;;
    libuv) echo '^uv_[[:alnum:]_]+(@|$)' ;;
    libstrophe) echo '^xmpp_(ctx|conn|stanza|handler|timed_handler|initialize|shutdown|run|connect|send|jid)' ;;
    ncursesw) echo '^(initscr|endwin|wget_wch|wadd_wch|newterm)(@|$)' ;;
  esac
}

# The link line.
link_line=
if [[ -n $link_txt ]]; then
  link_line=$(cat "$link_txt")
elif [[ -n $ninja ]]; then
  # Ninja names the program by its path in the build directory, not by the target.
  link_line=$("$ninja" -C "$build_dir" -t commands -s "${binary#"$build_dir"/}" | tail -n 1)
fi
if [[ -z $link_line ]]; then
  if [[ -n $link_txt$ninja ]]; then echo "no link line found for $target" >&2; exit 2; fi
  echo "note: no link line for $target (a generator without link.txt); ldd and nm still look"
fi

# The symbol names, demangled, without addresses and types.
symbols=$("$nm" -C "$binary" | sed -E 's/^[[:xdigit:]]* *[[:alpha:]?] //')
libraries=
if command -v "$ldd" >/dev/null; then libraries=$("$ldd" "$binary" || true); fi

failed=0
report() {  # LIBRARY LOOK EVIDENCE
  echo "FAIL: $target links $1 (seen by $2): $(head -n 3 <<<"$3" | cut -c1-200 | paste -sd '|' -)"
  failed=1
}
for library in "${forbidden[@]}"; do
  pattern=$(link_pattern "$library")
  if [[ -n $pattern && -n $link_line ]]; then
    if hit=$(tr ' ' '\n' <<<"$link_line" | grep -E -- "$pattern"); then report "$library" "the link line" "$hit"; fi
  fi
  pattern=$(ldd_pattern "$library")
  if [[ -n $pattern && -n $libraries ]]; then
    if hit=$(grep -E -- "$pattern" <<<"$libraries"); then report "$library" "ldd" "$hit"; fi
  fi
  pattern=$(nm_pattern "$library")
  if hit=$(grep -E -m 3 -- "$pattern" <<<"$symbols"); then report "$library" "nm" "$hit"; fi
done
if ((failed)); then exit 1; fi
echo "ok: $target links none of: ${forbidden[*]}"
