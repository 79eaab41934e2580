#!/bin/bash
# Per-thread CPU of the newest daisd (used by load-table.sh) over 5 s, sampled after $1 seconds: "tid comm cpu_s"
sleep $1
P=$(pgrep -n -x daisd) || exit 0
declare -A a
for t in /proc/$P/task/*; do a[$(basename $t)]=$(awk '{print $14+$15}' $t/stat 2>/dev/null); done
sleep 5
for t in /proc/$P/task/*; do id=$(basename $t); b=$(awk '{print $14+$15}' $t/stat 2>/dev/null); echo "$id $(cat $t/comm) $(( (b - ${a[$id]:-0}) ))"; done | awk '$3>0 {printf "%s %s %.2f s of 5 s\n",$1,$2,$3/100}'
