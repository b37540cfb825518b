# scripts/lib/packages.sh — sourced by scripts/test, scripts/dev-db and scripts/pg-versions:
# install missing Debian packages, or say why not and stop.
#
# As root: apt-get. Otherwise: sudo, if it works without a password prompt (or on a terminal,
# where it may ask). Anything else is a failure with the command to run by hand: a missing tool
# is installed, never skipped.

# Usage: need_packages WHO PACKAGE… (WHO prefixes the messages, e.g. "scripts/test").
need_packages() {
    local who=$1
    shift
    [[ $# -gt 0 ]] || return 0
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [[ -t 0 ]]; }; then
            sudo=(sudo)
        else
            echo "$who: missing $*, and cannot install them: not root and no usable sudo." >&2
            echo "$who: install them with: apt-get install $*" >&2
            return 1
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$who: missing $*, and there is no apt-get to install them with (this script knows Debian and Ubuntu)." >&2
        return 1
    fi
    echo "$who: installing $* (apt-get)" >&2
    # Quiet on success; the log is shown when it fails.
    local log
    log=$(mktemp)
    if "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >"$log" 2>&1 \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >>"$log" 2>&1; then
        rm -f "$log"
    else
        tail -n 30 "$log" >&2
        rm -f "$log"
        echo "$who: could not install $*" >&2
        return 1
    fi
}
