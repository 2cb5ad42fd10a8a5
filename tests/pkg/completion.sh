#!/bin/bash
# The generated bash completion (build/completion/PROGRAM) completes what the programs accept:
# every command --help lists, the options of the command typed so far, and files after an
# option that takes an argument.
# usage: completion.sh COMPLETION_DIR TOOLDIR
set -u
comp=$1 tools=$2
fail=0
for f in "$comp"/fwtrust*; do
    # shellcheck disable=SC1090
    source "$f" || { echo "cannot source $f"; exit 1; }
done

complete_words() { # complete_words WORD... -> COMPREPLY for the last word
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
    local fn; fn=$(complete -p "$1" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
    [ -n "$fn" ] || { echo "FAIL: no completion for $1"; fail=1; return; }
    "$fn"
    printf '%s\n' "${COMPREPLY[@]}"
}
expect() { # expect "WANTED" WORD...
    local want=$1; shift
    local got; got=$(complete_words "$@" | sort | tr '\n' ' ')
    if [[ " $got " != *" $want "* ]]; then
        echo "FAIL: completing '$*' gives '$got', expected it to include '$want'"; fail=1
    fi
}
refuse() { # refuse "UNWANTED" WORD...
    local bad=$1; shift
    local got; got=$(complete_words "$@" | tr '\n' ' ')
    if [[ " $got " == *" $bad "* ]]; then
        echo "FAIL: completing '$*' offers '$bad': '$got'"; fail=1
    fi
}

# every top-level command of every program
for prog in fwtrust fwtrust-agent fwtrust-tuf-client; do
    cmds=$("$tools/$prog" --help | awk '/^Commands:/{on=1;next} on&&/^  [a-z]/{print $1} on&&/^$/{on=0}')
    [ -n "$cmds" ] || { echo "FAIL: $prog --help lists no command"; fail=1; }
    for c in $cmds; do expect "$c" "$prog" ""; done
done
expect init fwtrust repo in
expect add-target fwtrust repo add
expect --root-key fwtrust repo init --root
expect --json fwtrust repo init --js          # a global option of 'fwtrust repo'
expect --key fwtrust sign --k
expect --header-size fwtrust sign --key k.pem --he
refuse --root-key fwtrust sign --r            # an option of another command
expect verify fwtrust-agent --device d log ver
expect --device fwtrust-boot --dev
expect --help fwtrust-tuf-client refresh --he
# after an option that takes an argument: files, not commands
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
touch "$tmp/key-one.pem"
expect "$tmp/key-one.pem" fwtrust sign --key "$tmp/key-"
refuse init fwtrust repo --passphrase-file in
[ $fail = 0 ] && echo "completion: all cases pass"
exit $fail
