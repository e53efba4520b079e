# bash completion for minihttps and minihttpsd (installed as
# share/bash-completion/completions/minihttps and .../minihttpsd).
# The subcommands and options are read from the program's own --help, so this file never lists
# them and cannot fall behind the program.

# Options: the first column of the option lines in the --help of "$@" ("-o,--output TEXT").
_minihttps_options() {
  "$@" --help 2>/dev/null | awk '/^ +-/ { print $1 }' | tr ',' '\n' | grep -E '^--?[A-Za-z]' | sort -u
}

# Subcommands: the first word of each line under "Subcommands:" in the --help of "$@".
_minihttps_subcommands() {
  "$@" --help 2>/dev/null | awk '/^[A-Za-z]+:/ { in_sub = ($0 ~ /^Subcommands:/); next }
                                in_sub && /^  [a-z]/ { print $1 }'
}

_minihttps() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }
  local prog=${words[0]} sub="" i
  local subs
  subs=$(_minihttps_subcommands "$prog" | tr "\n" " ")
  [[ $prog == *minihttpsd ]] && subs="ctl"  # its only subcommand, outside its option parser
  for ((i = 1; i < cword; i++)); do
    if [[ " $subs " == *" ${words[i]} "* ]]; then sub=${words[i]}; break; fi
  done
  case $prev in
    -o|--output|--home|--root|--keys|--config|--upload-dir|--port-file|--control-socket|--socket|--server-key)
      COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [[ $cur == -* ]]; then
    if [[ -n $sub ]]; then
      COMPREPLY=($(compgen -W "$(_minihttps_options "$prog" "$sub")" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$(_minihttps_options "$prog")" -- "$cur"))
    fi
  elif [[ -z $sub && -n $subs ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [[ $prog == *minihttpsd && $sub == ctl ]]; then
    COMPREPLY=($(compgen -W "list kick stop" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _minihttps minihttps minihttpsd
