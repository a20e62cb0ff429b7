# Sourced by tests/mailstack.sh and tests/cyrus.sh, which set TEMPLATES and define die().
#
# Prints template $1 (a file in TEMPLATES) with each @NAME@ replaced by the
# value given as an argument NAME=VALUE. Pure bash and one pass, so values
# are taken literally (no escaping needed, a value's own @...@ stays). An @
# not starting a placeholder (user@host) stays; a placeholder without a
# value is an error.
render() {
    local tpl=$TEMPLATES/$1 text out= key arg
    shift
    local -A vars=()
    for arg; do vars[${arg%%=*}]=${arg#*=}; done
    [[ -f $tpl && -r $tpl ]] || die "template $tpl is missing"
    IFS= read -r -d '' text <"$tpl" || true
    while [[ $text == *@* ]]; do
        out+=${text%%@*}
        text=${text#*@}
        key=${text%%@*}
        if [[ $text == *@* && $key =~ ^[A-Z][A-Z0-9_]*$ ]]; then
            [[ -v vars[$key] ]] || die "template $tpl: no value for @$key@"
            out+=${vars[$key]}
            text=${text#*@}
        else
            out+=@
        fi
    done
    printf '%s' "$out$text"
}
