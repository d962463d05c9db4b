# fish completion for netctl. Install: netctl completion fish > ~/.config/fish/completions/netctl.fish
# Candidates come from `netctl __complete WORDS... CURRENT`: one per line, then ":<directive>".
function __netctl_complete
    set -l words (commandline -opc)[2..-1]
    set -l cur (commandline -ct)
    netctl __complete $words "$cur" 2>/dev/null | string match -v -r '^:'
end
complete -c netctl -f -a '(__netctl_complete)'
