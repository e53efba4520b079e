#!/usr/bin/env bash
# ctest install.tree: `cmake --install` into a fresh prefix gives a user the two binaries, their
# man pages (when help2man was found) and bash/zsh completions that complete subcommands and
# options. Usage: install_test.sh CMAKE BUILD_DIR MAN(ON|OFF)
set -euo pipefail
cmake=$1 build=$2 man=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "install.tree: $*" >&2; exit 1; }

"$cmake" --install "$build" --prefix "$prefix" >/dev/null || fail "cmake --install failed"

files=(bin/minihttpsd bin/minihttps
       share/bash-completion/completions/minihttps share/bash-completion/completions/minihttpsd
       share/zsh/site-functions/_minihttps)
[ "$man" = ON ] && files+=(share/man/man1/minihttpsd.1 share/man/man1/minihttps.1)
for f in "${files[@]}"; do [ -f "$prefix/$f" ] || fail "missing $f"; done
[ -x "$prefix/bin/minihttps" ] && [ -x "$prefix/bin/minihttpsd" ] || fail "binaries not executable"
"$prefix/bin/minihttps" --help >/dev/null || fail "installed minihttps --help failed"
"$prefix/bin/minihttpsd" --help >/dev/null || fail "installed minihttpsd --help failed"

# Every subcommand the client's --help lists.
subs=$("$prefix/bin/minihttps" --help | awk '/^[A-Za-z]+:/ { s = ($0 ~ /^Subcommands:/); next } s && /^  [a-z]/ { print $1 }')
[ -n "$subs" ] || fail "no subcommands found in minihttps --help"

if [ "$man" = ON ]; then
  for prog in minihttpsd minihttps; do
    page="$prefix/share/man/man1/$prog.1"
    # The NAME section names the command: ".SH NAME" then "prog \- summary".
    grep -A1 '^\.SH NAME' "$page" | grep -q "^$prog \\\\-" || fail "$prog.1 does not name $prog in NAME"
  done
  for s in $subs; do
    grep -qw -- "$s" "$prefix/share/man/man1/minihttps.1" || fail "minihttps.1 does not mention the subcommand $s"
  done
  # Options as roff writes them ("\-\-max\-connections").
  grep -qF -- '\-\-max\-connections' "$prefix/share/man/man1/minihttpsd.1" || fail "minihttpsd.1 lacks --max-connections"
fi

# bash: complete "minihttps <TAB>", "minihttps get --ou<TAB>" and "minihttpsd ctl <TAB>" with the
# installed script and binaries.
complete_words() {  # complete_words WORD... -> the completions of the last word, one a line
  PATH="$prefix/bin:$PATH" bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
    _minihttps
    printf "%s\n" "${COMPREPLY[@]}"' _ "$prefix/share/bash-completion/completions/minihttps" "$@"
}
got=$(complete_words minihttps "")
for s in $subs; do grep -qx "$s" <<<"$got" || fail "bash: 'minihttps <TAB>' lacks $s (got: $got)"; done
[ "$(complete_words minihttps get --ou)" = "--output" ] || fail "bash: 'minihttps get --ou<TAB>' is not --output"
complete_words minihttps --serv | grep -qx -- --server || fail "bash: 'minihttps --serv<TAB>' lacks --server"
complete_words minihttpsd --max-conn | grep -qx -- --max-connections || fail "bash: 'minihttpsd --max-conn<TAB>' lacks --max-connections"
[ "$(complete_words minihttpsd ctl ki)" = "kick" ] || fail "bash: 'minihttpsd ctl ki<TAB>' is not kick"

# zsh (not a build dependency; checked where present): the function parses, and with compadd
# stubbed to print its candidates it offers the same subcommands and options.
if command -v zsh >/dev/null; then
  zfunc="$prefix/share/zsh/site-functions/_minihttps"
  zsh -n "$zfunc" || fail "zsh: _minihttps does not parse"
  zcomplete() {  # zcomplete WORD... -> the candidates for the last word
    PATH="$prefix/bin:$PATH" zsh -c '
      compadd() { if [[ $1 == -a ]]; then print -l -- ${(P)2}; else print -l -- "$@"; fi }
      _files() { print -- "(files)"; }
      f=$1; shift; words=("$@"); CURRENT=$#; source "$f"' _ "$zfunc" "$@"
  }
  got=$(zcomplete minihttps "")
  for s in $subs; do grep -qx "$s" <<<"$got" || fail "zsh: 'minihttps <TAB>' lacks $s"; done
  zcomplete minihttps get --ou | grep -qx -- --output || fail "zsh: 'minihttps get --ou<TAB>' lacks --output"
  zcomplete minihttpsd ctl "" | grep -qx kick || fail "zsh: 'minihttpsd ctl <TAB>' lacks kick"
fi
echo "install.tree: ok ($prefix)"
