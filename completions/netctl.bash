# bash completion for netctl. Install: netctl completion bash > /etc/bash_completion.d/netctl
# Candidates come from `netctl __complete WORDS... CURRENT` (cobra's protocol): one per line,
# then ":<directive>" (1 error, 2 no space after, 4 no file names).
_netctl() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local out directive line
    out=$(netctl __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
    directive=${out##*:}
    COMPREPLY=()
    while IFS= read -r line; do
        [[ -n $line && $line != :* ]] && COMPREPLY+=("$line")
    done <<< "$out"
    if (( directive & 1 )); then COMPREPLY=(); return; fi
    if (( directive & 2 )); then compopt -o nospace 2>/dev/null; fi
    if (( ${#COMPREPLY[@]} == 0 && !(directive & 4) )); then
        compopt -o default 2>/dev/null
    fi
}
complete -F _netctl netctl
