# Helpers shared by the launch scripts (sourced, not run): one-line errors and printable commands.
# shellcheck shell=bash
# The sourcing script sets PROG.

fail() {  # bad input: one line, exit 2
  printf '%s: error: %s (see --help)\n' "$PROG" "$*" >&2
  exit 2
}
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

q() {  # one shell word, quoted only when it needs it
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,^-]+$ ]]; then
    printf '%s' "$1"
  else
    printf "'%s'" "${1//\'/\'\\\'\'}"
  fi
}
show() {
  local words=() w
  for w in "$@"; do words+=("$(q "$w")"); done
  printf '%s\n' "${words[*]}"
}
